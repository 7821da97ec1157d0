"""Python client for the Infrence Deep Research API."""

from infrence_client.client import AsyncInfrence, Infrence
from infrence_client.errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    ConflictError,
    InfrenceError,
    InsufficientCreditsError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
)
from infrence_client.events import Event
from infrence_client.models import AsyncAccepted, ResearchResult, SourcePolicy
from infrence_client.webhooks import WebhookVerificationError, verify_webhook

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "AsyncAccepted",
    "AsyncInfrence",
    "AuthenticationError",
    "ConflictError",
    "Event",
    "Infrence",
    "InfrenceError",
    "InsufficientCreditsError",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResearchResult",
    "ServiceUnavailableError",
    "SourcePolicy",
    "WebhookVerificationError",
    "verify_webhook",
]
