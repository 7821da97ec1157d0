# Generated from the Infrence OpenAPI document by clients/python/generate_models.sh: do not edit.

from __future__ import annotations

from datetime import date
from typing import Any, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    conint,
    constr,
)


class AdminAuditRow(BaseModel):
    id: UUID = Field(..., title='Id')
    admin_id: UUID = Field(..., title='Admin Id')
    action: str = Field(..., title='Action')
    target_type: str = Field(..., title='Target Type')
    target_id: str = Field(..., title='Target Id')
    payload: dict[str, Any] = Field(..., title='Payload')
    created_at: AwareDatetime = Field(..., title='Created At')


class AdminJobBucket(BaseModel):
    day: AwareDatetime = Field(..., title='Day')
    count: int = Field(..., title='Count')
    credits_charged_sum: int = Field(..., title='Credits Charged Sum')
    cost_usd_micros_sum: int = Field(..., title='Cost Usd Micros Sum')


class AdminLedgerRow(BaseModel):
    id: UUID = Field(..., title='Id')
    created_at: AwareDatetime = Field(..., title='Created At')
    kind: str = Field(..., title='Kind')
    delta: int = Field(..., title='Delta')
    plan_delta: int | None = Field(0, title='Plan Delta')
    overage_delta: int | None = Field(0, title='Overage Delta')
    balance_after: int = Field(..., title='Balance After')
    related_id: str | None = Field(None, title='Related Id')
    note: str | None = Field(None, title='Note')
    idempotency_key: str | None = Field(None, title='Idempotency Key')


class AdminOutboxTaskRow(BaseModel):
    id: UUID = Field(..., title='Id')
    kind: str = Field(..., title='Kind')
    dedupe_key: str | None = Field(None, title='Dedupe Key')
    status: str = Field(..., description='pending | done | dead', title='Status')
    attempts: int = Field(..., title='Attempts')
    run_after: AwareDatetime = Field(..., title='Run After')
    last_error: str | None = Field(None, title='Last Error')
    created_at: AwareDatetime = Field(..., title='Created At')
    done_at: AwareDatetime | None = Field(None, title='Done At')


class AdminSignupBucket(BaseModel):
    day: AwareDatetime = Field(..., title='Day')
    count: int = Field(..., title='Count')


class AdminStatsDto(BaseModel):
    signups_last_30d: list[AdminSignupBucket] = Field(..., title='Signups Last 30D')
    jobs_last_30d: list[AdminJobBucket] = Field(..., title='Jobs Last 30D')
    topup_revenue_last_30d_cents: int = Field(..., title='Topup Revenue Last 30D Cents')
    total_users: int = Field(..., title='Total Users')
    suspended_users: int = Field(..., title='Suspended Users')
    open_tickets: int = Field(..., title='Open Tickets')
    in_flight_jobs: int = Field(..., title='In Flight Jobs')
    ledger_balance_outstanding: int = Field(..., title='Ledger Balance Outstanding')


class AdminStripeEventRow(BaseModel):
    id: str = Field(..., title='Id')
    event_type: str = Field(..., title='Event Type')
    received_at: AwareDatetime = Field(..., title='Received At')
    has_body: bool = Field(..., title='Has Body')
    processed_at: AwareDatetime | None = Field(None, title='Processed At')
    attempts: int = Field(..., title='Attempts')
    last_error: str | None = Field(None, title='Last Error')
    status: Literal['received', 'handled', 'retrying', 'dead'] | None = Field(
        'received',
        description='received | handled | retrying (its handler failed; the outbox retries it) | dead (retries exhausted: fix the cause and replay)',
        title='Status',
    )
    dead_at: AwareDatetime | None = Field(None, title='Dead At')


class AdminTicketReply(BaseModel):
    id: UUID = Field(..., title='Id')
    admin_id: UUID | None = Field(None, title='Admin Id')
    body: str = Field(..., title='Body')
    sent_email: bool = Field(..., title='Sent Email')
    created_at: AwareDatetime = Field(..., title='Created At')


class AdminTicketRow(BaseModel):
    id: UUID = Field(..., title='Id')
    user_id: UUID | None = Field(None, title='User Id')
    email: str = Field(..., title='Email')
    category: str = Field(..., title='Category')
    subject: str = Field(..., title='Subject')
    status: str = Field(..., title='Status')
    created_at: AwareDatetime = Field(..., title='Created At')
    reply_count: int = Field(..., title='Reply Count')


class AdminUserDetail(BaseModel):
    id: UUID = Field(..., title='Id')
    email: str = Field(..., title='Email')
    first_name: str = Field(..., title='First Name')
    last_name: str = Field(..., title='Last Name')
    is_admin: bool = Field(..., title='Is Admin')
    created_at: AwareDatetime = Field(..., title='Created At')
    credits: int = Field(..., title='Credits')
    suspended_at: AwareDatetime | None = Field(None, title='Suspended At')
    email_verified: bool = Field(..., title='Email Verified')
    marketing_emails_enabled: bool = Field(..., title='Marketing Emails Enabled')
    jobs_count: int = Field(..., title='Jobs Count')
    open_tickets: int = Field(..., title='Open Tickets')
    stripe_customer_id: str | None = Field(None, title='Stripe Customer Id')


class AdminUserRow(BaseModel):
    id: UUID = Field(..., title='Id')
    email: str = Field(..., title='Email')
    first_name: str = Field(..., title='First Name')
    last_name: str = Field(..., title='Last Name')
    is_admin: bool = Field(..., title='Is Admin')
    created_at: AwareDatetime = Field(..., title='Created At')
    credits: int = Field(..., title='Credits')
    suspended_at: AwareDatetime | None = Field(None, title='Suspended At')


class ApiKeyDto(BaseModel):
    id: UUID = Field(..., title='Id')
    name: str = Field(..., title='Name')
    prefix: str = Field(..., title='Prefix')
    created_at: AwareDatetime = Field(..., title='Created At')
    last_used_at: AwareDatetime | None = Field(None, title='Last Used At')


class AutoTopupBody(BaseModel):
    enabled: bool = Field(..., title='Enabled')
    threshold_credits: conint(ge=0, le=10000000) = Field(..., title='Threshold Credits')
    pack_id: constr(min_length=1, max_length=100) = Field(..., title='Pack Id')


class AutoTopupSettingsDto(BaseModel):
    enabled: bool = Field(..., title='Enabled')
    threshold_credits: int = Field(..., title='Threshold Credits')
    pack_id: str | None = Field(
        ..., description='None until auto top-up was first set', title='Pack Id'
    )


class BalanceDto(BaseModel):
    credits: int = Field(..., title='Credits')
    usd: str = Field(..., title='Usd')
    plan_credits: int | None = Field(
        0,
        description='Part of `credits` from the current plan period; expires at its end',
        title='Plan Credits',
    )
    purchased_credits: int | None = Field(
        0,
        description='Part of `credits` bought or granted; never expires',
        title='Purchased Credits',
    )
    overage_credits: int | None = Field(
        0,
        description='Drawn beyond both this period, billed through the plan',
        title='Overage Credits',
    )
    overage_cap: int | None = Field(
        0,
        description='How many credits may be drawn beyond both this period',
        title='Overage Cap',
    )


class BasisCitation(BaseModel):
    url: str = Field(..., title='Url')
    title: str = Field(..., title='Title')
    quote: str = Field(..., title='Quote')


class BasisEntry(BaseModel):
    field: str = Field(..., title='Field')
    citations: list[BasisCitation] | None = Field(None, title='Citations')
    confidence: Literal['low', 'medium', 'high'] = Field(..., title='Confidence')


class BillingStatusDto(BaseModel):
    payments_enabled: bool = Field(
        ...,
        description='False when this server has no Stripe key: checkout and the portal answer 503.',
        title='Payments Enabled',
    )


class BodyDashboardUploadDocument(BaseModel):
    file: str = Field(
        ...,
        description='The document (at most 20 MB by default).',
        json_schema_extra={'contentMediaType': 'application/octet-stream'},
        title='File',
    )
    url: constr(max_length=2048) | None = Field(
        None, description='Where the document lives.', title='Url'
    )
    published_date: date | None = Field(
        None, description='YYYY-MM-DD', title='Published Date'
    )


class BodyUploadDocument(BaseModel):
    file: str = Field(
        ...,
        description='The document (at most 20 MB by default).',
        json_schema_extra={'contentMediaType': 'application/octet-stream'},
        title='File',
    )
    url: constr(max_length=2048) | None = Field(
        None, description='Where the document lives.', title='Url'
    )
    published_date: date | None = Field(
        None, description='YYYY-MM-DD', title='Published Date'
    )


class ChatChoiceMessage(BaseModel):
    role: Literal['assistant'] = Field('assistant', title='Role')
    content: str = Field(..., title='Content')


class ChatMessage(BaseModel):
    role: constr(max_length=32) = Field(..., title='Role')
    content: str | list[dict[str, Any]] | None = Field(None, title='Content')


class ChatUsage(BaseModel):
    prompt_tokens: int | None = Field(0, title='Prompt Tokens')
    completion_tokens: int | None = Field(0, title='Completion Tokens')
    total_tokens: int | None = Field(0, title='Total Tokens')


class CheckoutBody(BaseModel):
    pack_id: constr(min_length=1, max_length=100) = Field(
        ..., description='A pack id, or a plan id to subscribe', title='Pack Id'
    )


class CheckoutResponse(BaseModel):
    url: str = Field(..., title='Url')


class CollectionCreate(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    name: constr(min_length=1, max_length=200) = Field(..., title='Name')


class CollectionDto(BaseModel):
    id: UUID = Field(..., title='Id')
    name: str = Field(..., title='Name')
    documents: int = Field(..., title='Documents')
    created_at: AwareDatetime = Field(..., title='Created At')


class CorpusDocument(BaseModel):
    url: str = Field(
        ...,
        description='Its stable id, `corpus://<path>`, as cited in results.',
        title='Url',
    )
    title: str = Field(..., title='Title')
    text: str = Field(
        ...,
        description='The stored text; every quote cited from it is an exact slice.',
        title='Text',
    )


class CreateKeyBody(BaseModel):
    name: constr(max_length=100) | None = Field(
        None, description='Defaults to "Default".', title='Name'
    )


class CreatedKey(BaseModel):
    id: UUID = Field(..., title='Id')
    name: str = Field(..., title='Name')
    prefix: str = Field(..., title='Prefix')
    created_at: AwareDatetime = Field(..., title='Created At')
    last_used_at: AwareDatetime | None = Field(None, title='Last Used At')
    plaintext: str = Field(
        ...,
        description='One-time plaintext shown immediately after create/reset; never returned again.',
        title='Plaintext',
    )


class CreditAdjustBody(BaseModel):
    delta_credits: conint(ge=-1000000000000, le=1000000000000) = Field(
        ..., title='Delta Credits'
    )
    note: constr(max_length=1000) = Field(..., title='Note')
    idempotency_key: constr(min_length=1, max_length=200) | None = Field(
        None,
        description='Optional client-supplied idempotency key (e.g. `crypto.randomUUID()`)\nto make resubmits safe.',
        title='Idempotency Key',
    )


class CreditAdjustResponse(BaseModel):
    balance_after: int = Field(..., title='Balance After')


class DocumentDto(BaseModel):
    id: UUID = Field(..., title='Id')
    collection_id: UUID = Field(..., title='Collection Id')
    filename: str = Field(..., title='Filename')
    content_type: str = Field(..., title='Content Type')
    url: str | None = Field(None, title='Url')
    published_date: date | None = Field(None, title='Published Date')
    status: Literal['processing', 'ready', 'failed'] = Field(..., title='Status')
    error: str | None = Field(
        None,
        description='Why the file could not be read, when `failed`.',
        title='Error',
    )
    size_bytes: int = Field(..., title='Size Bytes')
    source_id: str = Field(
        ...,
        description='How research cites it: `collection://<collection>/<document>`.',
        title='Source Id',
    )
    created_at: AwareDatetime = Field(..., title='Created At')
    ready_at: AwareDatetime | None = Field(None, title='Ready At')


class DocumentWithText(BaseModel):
    id: UUID = Field(..., title='Id')
    collection_id: UUID = Field(..., title='Collection Id')
    filename: str = Field(..., title='Filename')
    content_type: str = Field(..., title='Content Type')
    url: str | None = Field(None, title='Url')
    published_date: date | None = Field(None, title='Published Date')
    status: Literal['processing', 'ready', 'failed'] = Field(..., title='Status')
    error: str | None = Field(
        None,
        description='Why the file could not be read, when `failed`.',
        title='Error',
    )
    size_bytes: int = Field(..., title='Size Bytes')
    source_id: str = Field(
        ...,
        description='How research cites it: `collection://<collection>/<document>`.',
        title='Source Id',
    )
    created_at: AwareDatetime = Field(..., title='Created At')
    ready_at: AwareDatetime | None = Field(None, title='Ready At')
    text: str | None = Field(
        None, description='The extracted text quotes are exact slices of.', title='Text'
    )


class Done(BaseModel):
    ok: bool | None = Field(True, title='Ok')


class FaithfulnessDto(BaseModel):
    sentences: int | None = Field(
        0,
        description='Statements in the brief as written, before the check.',
        title='Sentences',
    )
    supported: int | None = Field(
        0,
        description='Statements their cited quotes support (kept).',
        title='Supported',
    )
    removed: int | None = Field(
        0,
        description='Statements no cited quote supports (removed from the brief).',
        title='Removed',
    )


class FieldError(BaseModel):
    field: str = Field(..., title='Field')
    message: str = Field(..., title='Message')


class ForgotBody(BaseModel):
    email: constr(max_length=320) = Field(..., title='Email')


class HealthDto(BaseModel):
    status: str = Field(..., title='Status')
    database: str = Field(..., title='Database')
    redis: str = Field(..., title='Redis')


class LoginBody(BaseModel):
    email: constr(max_length=320) = Field(..., title='Email')
    password: constr(max_length=1024) = Field(..., title='Password')


class MailDelivery(BaseModel):
    delivery: Literal['smtp', 'console', 'log'] = Field(
        ...,
        description="Where this server's mail goes: `smtp`, the server `console` (dev), or `log` (kept in the outbox table only; `infrence mail list`).",
        title='Delivery',
    )


class MarketingBody(BaseModel):
    enabled: bool = Field(..., title='Enabled')


class McpServerSpec(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    url: constr(max_length=2048) = Field(
        ...,
        description='Its Streamable HTTP endpoint, e.g. `https://host/mcp`.',
        title='Url',
    )
    headers: dict[str, constr(max_length=4096)] | None = Field(
        None,
        description='Sent to that server only (e.g. `Authorization`); kept encrypted while the job runs, erased when it ends, never logged or returned.',
        title='Headers',
    )
    allowed_tools: list[constr(max_length=128)] | None = Field(
        None,
        description='Only these tools; default: every tool that takes a text query.',
        title='Allowed Tools',
    )


class ModelCard(BaseModel):
    id: str = Field(..., title='Id')
    object: Literal['model'] = Field('model', title='Object')
    created: int = Field(..., title='Created')
    owned_by: str | None = Field('infrence', title='Owned By')


class ModelList(BaseModel):
    object: Literal['list'] = Field('list', title='Object')
    data: list[ModelCard] = Field(..., title='Data')


class MyTicket(BaseModel):
    id: UUID = Field(..., title='Id')
    category: str = Field(..., title='Category')
    subject: str = Field(..., title='Subject')
    status: str = Field(..., title='Status')
    created_at: AwareDatetime = Field(..., title='Created At')
    reply_count: int = Field(..., title='Reply Count')


class PackDto(BaseModel):
    id: str = Field(..., title='Id')
    name: str = Field(..., title='Name')
    credits: int = Field(..., title='Credits')
    price_cents: int = Field(..., title='Price Cents')
    blurb: str = Field(..., title='Blurb')


class PasswordBody(BaseModel):
    current_password: constr(max_length=1024) = Field(..., title='Current Password')
    new_password: constr(max_length=1024) = Field(..., title='New Password')


class PaymentRow(BaseModel):
    id: UUID = Field(..., title='Id')
    created_at: AwareDatetime = Field(..., title='Created At')
    completed_at: AwareDatetime | None = Field(None, title='Completed At')
    status: str = Field(..., title='Status')
    kind: str = Field(..., title='Kind')
    pack_id: str = Field(..., title='Pack Id')
    pack_credits: int = Field(..., title='Pack Credits')
    pack_amount_cents: int = Field(..., title='Pack Amount Cents')
    refunded_cents: int = Field(..., title='Refunded Cents')
    failure_reason: str | None = Field(None, title='Failure Reason')
    stripe_invoice_id: str | None = Field(
        None,
        description='For `kind` subscription: the paid invoice',
        title='Stripe Invoice Id',
    )


class PlanApproval(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    queries: list[constr(min_length=1, max_length=400)] = Field(
        ...,
        description="At most the mode's branches per wave (`GET /v1/modes`).",
        min_length=1,
        title='Queries',
    )


class PlanDto(BaseModel):
    id: str = Field(..., title='Id')
    name: str = Field(..., title='Name')
    monthly_price_cents: int = Field(..., title='Monthly Price Cents')
    included_credits: int = Field(..., title='Included Credits')
    overage_micros: int = Field(..., title='Overage Micros')
    breakeven_credits: int = Field(
        ...,
        description='Monthly credit usage above which this plan saves money over PAYG.\nDrives the dashboard "Save with a plan" hint.',
        title='Breakeven Credits',
    )
    blurb: str = Field(..., title='Blurb')
    features: list[str] = Field(..., title='Features')


class ProfileBody(BaseModel):
    first_name: constr(max_length=100) = Field(..., title='First Name')
    last_name: constr(max_length=100) = Field(..., title='Last Name')


class RecentJob(BaseModel):
    id: UUID = Field(..., title='Id')
    created_at: AwareDatetime = Field(..., title='Created At')
    status: Literal[
        'queued', 'running', 'awaiting_approval', 'succeeded', 'failed', 'canceled'
    ] = Field(
        ...,
        description="A research job's status; `succeeded`, `failed` and `canceled` are final.",
        title='JobStatus',
    )
    question: str = Field(..., title='Question')
    credits_charged: int = Field(..., title='Credits Charged')
    latency_ms: int | None = Field(None, title='Latency Ms')


class RefreshBody(BaseModel):
    refresh_token: constr(max_length=1024) = Field(
        ...,
        description='Empty or omitted: the `infrence_refresh` cookie set at login is used.',
        title='Refresh Token',
    )


class RefundBody(BaseModel):
    credits: conint(le=1000000000000, gt=0) = Field(..., title='Credits')
    note: constr(max_length=1000) = Field(..., title='Note')


class RefundResult(BaseModel):
    job_id: UUID = Field(..., title='Job Id')
    credits: int = Field(
        ..., description='Credits this refund gave back.', title='Credits'
    )
    credits_refunded: int = Field(
        ...,
        description='All credits refunded on the job so far.',
        title='Credits Refunded',
    )
    balance_after: int = Field(..., title='Balance After')
    ledger_entry_id: UUID = Field(..., title='Ledger Entry Id')


class ReplyBody(BaseModel):
    body: constr(max_length=10000) = Field(..., title='Body')
    send_email: bool = Field(..., title='Send Email')


class ResearchBudgets(BaseModel):
    max_cost_usd: float = Field(
        ...,
        description='Provider cost cap; for `max`, sized from `max_credits`.',
        title='Max Cost Usd',
    )
    max_wallclock_secs: conint(ge=0) = Field(..., title='Max Wallclock Secs')
    max_waves: conint(ge=0) = Field(..., title='Max Waves')
    branches: conint(ge=0) = Field(
        ..., description='Parallel searches per wave.', title='Branches'
    )
    max_searches: conint(ge=0) = Field(..., title='Max Searches')
    max_pages: conint(ge=0) = Field(..., title='Max Pages')
    synthesis_time_reserve_secs: conint(ge=0) = Field(
        ..., title='Synthesis Time Reserve Secs'
    )
    synthesis_cost_reserve_usd: float = Field(..., title='Synthesis Cost Reserve Usd')


class ResearchLogRow(BaseModel):
    id: UUID = Field(..., title='Id')
    created_at: AwareDatetime = Field(..., title='Created At')
    status: Literal[
        'queued', 'running', 'awaiting_approval', 'succeeded', 'failed', 'canceled'
    ] = Field(
        ...,
        description="A research job's status; `succeeded`, `failed` and `canceled` are final.",
        title='JobStatus',
    )
    question: str = Field(..., title='Question')
    credits_charged: int = Field(..., title='Credits Charged')
    cost_usd_micros: int = Field(..., title='Cost Usd Micros')
    latency_ms: int | None = Field(None, title='Latency Ms')
    source_count: int | None = Field(None, title='Source Count')
    wave_count: int | None = Field(None, title='Wave Count')
    completed_at: AwareDatetime | None = Field(None, title='Completed At')


class ResearchPlan(BaseModel):
    sub_questions: list[str] | None = Field(None, title='Sub Questions')
    queries: list[str] = Field(..., title='Queries')
    approved: bool | None = Field(False, title='Approved')
    expires_at: AwareDatetime | None = Field(
        None,
        description='While `awaiting_approval`: when the job is canceled if nobody approves it.',
        title='Expires At',
    )


class ResetBody(BaseModel):
    token: constr(max_length=1024) = Field(..., title='Token')
    password: constr(max_length=1024) = Field(..., title='Password')


class ResponseFormat(BaseModel):
    type: Literal['text', 'json_object', 'json_schema'] | None = Field(
        'text', title='Type'
    )
    json_schema: dict[str, Any] | None = Field(None, title='Json Schema')


class SignupBody(BaseModel):
    email: constr(max_length=320) = Field(..., title='Email')
    password: constr(max_length=1024) = Field(..., title='Password')
    first_name: constr(max_length=100) | None = Field(None, title='First Name')
    last_name: constr(max_length=100) | None = Field(None, title='Last Name')


class SourceDto(BaseModel):
    url: str = Field(..., title='Url')
    title: str = Field(..., title='Title')
    domain: str = Field(..., title='Domain')
    summary: str | None = Field(None, title='Summary')


class SourcePolicy(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    include_domains: list[str] | None = Field(
        None,
        description='Only these hosts and their subdomains (`example.com` covers `docs.example.com`).',
        max_length=50,
        title='Include Domains',
    )
    exclude_domains: list[str] | None = Field(
        None,
        description='Never these hosts nor their subdomains.',
        max_length=50,
        title='Exclude Domains',
    )
    after_date: date | None = Field(
        None,
        description='Only sources published on or after this date (YYYY-MM-DD), where their date is known.',
        title='After Date',
    )
    before_date: date | None = Field(
        None,
        description='Only sources published on or before this date (YYYY-MM-DD), where their date is known.',
        title='Before Date',
    )


class StageError(BaseModel):
    stage: str = Field(..., title='Stage')
    error: str = Field(..., title='Error')


class TicketBody(BaseModel):
    category: str = Field(..., title='Category')
    subject: constr(max_length=200) = Field(..., title='Subject')
    body: constr(max_length=10000) = Field(..., title='Body')


class TicketReceipt(BaseModel):
    id: UUID = Field(..., title='Id')
    status: str = Field(..., title='Status')
    created_at: AwareDatetime = Field(..., title='Created At')


class UsageBucket(BaseModel):
    day: AwareDatetime = Field(..., title='Day')
    credits: int = Field(..., title='Credits')
    jobs: int = Field(..., title='Jobs')
    cost_usd_micros: int = Field(..., title='Cost Usd Micros')


class UsageDto(BaseModel):
    searches: int | None = Field(0, title='Searches')
    pages: int | None = Field(0, title='Pages')
    tokens: int | None = Field(0, title='Tokens')
    reasoner: str | None = Field(
        None,
        description='Who planned, read and wrote: `offline` (extractive, no model) or `openai`.',
        title='Reasoner',
    )
    output_language: str | None = Field(
        None,
        description='The requested `output_language` the brief and typed values were written in.',
        title='Output Language',
    )
    output_language_note: str | None = Field(
        None,
        description='Why the requested `output_language` was not applied (the offline reasoner).',
        title='Output Language Note',
    )


class UserDto(BaseModel):
    id: UUID = Field(..., title='Id')
    email: str = Field(..., title='Email')
    first_name: str = Field(..., title='First Name')
    last_name: str = Field(..., title='Last Name')
    email_verified: bool = Field(..., title='Email Verified')
    marketing_emails_enabled: bool = Field(..., title='Marketing Emails Enabled')
    is_admin: bool = Field(..., title='Is Admin')
    created_at: AwareDatetime = Field(..., title='Created At')


class WebhookSecretDto(BaseModel):
    webhook_secret: str = Field(
        ...,
        description='`whsec_...`: signs research webhooks (HMAC-SHA256).',
        title='Webhook Secret',
    )


class BranchFailedData(BaseModel):
    model_config = ConfigDict(
        extra='allow',
    )
    stage: str = Field(..., title='Stage')
    error: str = Field(..., title='Error')
    wave: int | None = Field(None, title='Wave')
    query: str | None = Field(None, title='Query')
    url: str | None = Field(None, title='Url')
    at: float = Field(..., title='At')


class BranchFailedEvent(BaseModel):
    type: Literal['branch.failed'] = Field(..., title='Type')
    data: BranchFailedData


class CastData(BaseModel):
    model_config = ConfigDict(
        extra='allow',
    )
    schema_: str = Field(..., alias='schema', title='Schema')
    valid: bool = Field(..., title='Valid')
    repairs: int = Field(..., title='Repairs')
    fields: int | None = Field(None, title='Fields')
    error: str | None = Field(None, title='Error')


class CastEvent(BaseModel):
    type: Literal['cast'] = Field(..., title='Type')
    data: CastData


class CriticData(BaseModel):
    model_config = ConfigDict(
        extra='allow',
    )
    verified: int = Field(..., title='Verified')
    dropped: int = Field(..., title='Dropped')
    unverifiable: int = Field(..., title='Unverifiable')
    unsupported_citations: list[int] = Field(..., title='Unsupported Citations')
    answers_question: bool = Field(..., title='Answers Question')
    revise: bool = Field(..., title='Revise')
    notes: list[str] = Field(..., title='Notes')


class CriticEvent(BaseModel):
    type: Literal['critic'] = Field(..., title='Type')
    data: CriticData


class GateData(BaseModel):
    model_config = ConfigDict(
        extra='allow',
    )
    continue_: bool = Field(..., alias='continue', title='Continue')
    stop_reason: (
        Literal['complete', 'budget', 'deadline', 'canceled', 'no_evidence'] | None
    ) = None
    reason: str = Field(..., title='Reason')
    branches: int = Field(..., title='Branches')
    wave: int | None = Field(None, title='Wave')
    queries: list[str] = Field(..., title='Queries')
    cost_usd: float = Field(..., title='Cost Usd')
    elapsed_secs: float = Field(..., title='Elapsed Secs')


class GateEvent(BaseModel):
    type: Literal['gate'] = Field(..., title='Type')
    data: GateData


class JobCancelRequestedData(BaseModel):
    id: UUID = Field(..., title='Id')


class JobCancelRequestedEvent(BaseModel):
    type: Literal['job.cancel_requested'] = Field(..., title='Type')
    data: JobCancelRequestedData


class JobExtendedData(BaseModel):
    id: UUID = Field(..., title='Id')
    extension: int = Field(
        ...,
        description='1 for the first extension of this job, and so on.',
        title='Extension',
    )
    mode: Literal['lite', 'standard', 'pro', 'max'] = Field(
        ...,
        description="A research mode; `GET /v1/modes` lists each one's budgets and price.",
        title='ResearchMode',
    )
    credits_reserved: int = Field(
        ...,
        description='Credits reserved for this extension.',
        title='Credits Reserved',
    )


class JobExtendedEvent(BaseModel):
    type: Literal['job.extended'] = Field(..., title='Type')
    data: JobExtendedData


class JobQueuedData(BaseModel):
    id: UUID = Field(..., title='Id')
    mode: Literal['lite', 'standard', 'pro', 'max'] = Field(
        ...,
        description="A research mode; `GET /v1/modes` lists each one's budgets and price.",
        title='ResearchMode',
    )
    credits_reserved: int = Field(..., title='Credits Reserved')


class JobQueuedEvent(BaseModel):
    type: Literal['job.queued'] = Field(..., title='Type')
    data: JobQueuedData


class JobStartedData(BaseModel):
    id: UUID = Field(..., title='Id')
    attempt: int = Field(..., title='Attempt')
    worker: str = Field(..., title='Worker')


class JobStartedEvent(BaseModel):
    type: Literal['job.started'] = Field(..., title='Type')
    data: JobStartedData


class PlanApprovedData(BaseModel):
    id: UUID = Field(..., title='Id')
    queries: list[str] = Field(..., title='Queries')


class PlanApprovedEvent(BaseModel):
    type: Literal['plan.approved'] = Field(..., title='Type')
    data: PlanApprovedData


class PlanData(BaseModel):
    model_config = ConfigDict(
        extra='allow',
    )
    queries: list[str] = Field(..., title='Queries')
    reasoner: str = Field(..., title='Reasoner')
    search: str = Field(..., title='Search')
    budgets: dict[str, Any] = Field(..., title='Budgets')


class PlanEvent(BaseModel):
    type: Literal['plan'] = Field(..., title='Type')
    data: PlanData


class PlanReadyData(BaseModel):
    id: UUID = Field(..., title='Id')
    plan: ResearchPlan


class PlanReadyEvent(BaseModel):
    type: Literal['plan.ready'] = Field(..., title='Type')
    data: PlanReadyData


class ProgressData(BaseModel):
    model_config = ConfigDict(
        extra='allow',
    )
    stage: str = Field(..., title='Stage')
    elapsed_secs: float = Field(..., title='Elapsed Secs')
    max_wallclock_secs: int = Field(..., title='Max Wallclock Secs')
    cost_usd: float = Field(..., title='Cost Usd')
    max_cost_usd: float = Field(..., title='Max Cost Usd')
    searches: int = Field(..., title='Searches')
    max_searches: int = Field(..., title='Max Searches')
    pages: int = Field(..., title='Pages')
    max_pages: int = Field(..., title='Max Pages')
    tokens: int = Field(..., title='Tokens')
    waves_done: int = Field(..., title='Waves Done')
    max_waves: int = Field(..., title='Max Waves')


class ProgressEvent(BaseModel):
    type: Literal['progress'] = Field(..., title='Type')
    data: ProgressData


class SearchData(BaseModel):
    model_config = ConfigDict(
        extra='allow',
    )
    wave: int = Field(..., title='Wave')
    query: str = Field(..., title='Query')
    results: int = Field(..., title='Results')
    provider: str = Field(..., title='Provider')
    off_policy: int | None = Field(
        0,
        description="Results dropped by the job's `source_policy` (never read).",
        title='Off Policy',
    )


class SearchEvent(BaseModel):
    type: Literal['search'] = Field(..., title='Type')
    data: SearchData


class SourceData(BaseModel):
    model_config = ConfigDict(
        extra='allow',
    )
    wave: int = Field(..., title='Wave')
    url: str = Field(..., title='Url')
    title: str = Field(..., title='Title')
    domain: str = Field(..., title='Domain')
    claims: int = Field(..., title='Claims')


class SourceEvent(BaseModel):
    type: Literal['source'] = Field(..., title='Type')
    data: SourceData


class SynthesisStartedData(BaseModel):
    model_config = ConfigDict(
        extra='allow',
    )
    claims: int = Field(..., title='Claims')
    sources: int = Field(..., title='Sources')
    revision: int = Field(..., title='Revision')
    seconds_left: float = Field(..., title='Seconds Left')
    cost_left_usd: float = Field(..., title='Cost Left Usd')


class SynthesisStartedEvent(BaseModel):
    type: Literal['synthesis.started'] = Field(..., title='Type')
    data: SynthesisStartedData


class WaveCompletedData(BaseModel):
    model_config = ConfigDict(
        extra='allow',
    )
    wave: int = Field(..., title='Wave')
    sources: int = Field(..., title='Sources')
    claims: int = Field(..., title='Claims')
    errors: int = Field(..., title='Errors')


class WaveCompletedEvent(BaseModel):
    type: Literal['wave.completed'] = Field(..., title='Type')
    data: WaveCompletedData


class WaveStartedData(BaseModel):
    model_config = ConfigDict(
        extra='allow',
    )
    wave: int = Field(..., title='Wave')
    queries: list[str] = Field(..., title='Queries')


class WaveStartedEvent(BaseModel):
    type: Literal['wave.started'] = Field(..., title='Type')
    data: WaveStartedData


class ResearchEventType(
    RootModel[
        Literal[
            'job.queued',
            'job.started',
            'job.cancel_requested',
            'job.extended',
            'plan.ready',
            'plan.approved',
            'job.succeeded',
            'job.failed',
            'job.canceled',
            'plan',
            'wave.started',
            'search',
            'source',
            'branch.failed',
            'wave.completed',
            'gate',
            'synthesis.started',
            'critic',
            'cast',
            'progress',
        ]
    ]
):
    root: Literal[
        'job.queued',
        'job.started',
        'job.cancel_requested',
        'job.extended',
        'plan.ready',
        'plan.approved',
        'job.succeeded',
        'job.failed',
        'job.canceled',
        'plan',
        'wave.started',
        'search',
        'source',
        'branch.failed',
        'wave.completed',
        'gate',
        'synthesis.started',
        'critic',
        'cast',
        'progress',
    ]


class TerminalJobStatus(RootModel[Literal['succeeded', 'failed', 'canceled']]):
    root: Literal['succeeded', 'failed', 'canceled']


class AdminJobDetail(BaseModel):
    id: UUID = Field(..., title='Id')
    created_at: AwareDatetime = Field(..., title='Created At')
    status: Literal[
        'queued', 'running', 'awaiting_approval', 'succeeded', 'failed', 'canceled'
    ] = Field(
        ...,
        description="A research job's status; `succeeded`, `failed` and `canceled` are final.",
        title='JobStatus',
    )
    question: str = Field(..., title='Question')
    credits_charged: int = Field(..., title='Credits Charged')
    cost_usd_micros: int = Field(..., title='Cost Usd Micros')
    latency_ms: int | None = Field(None, title='Latency Ms')
    user_id: UUID = Field(..., title='User Id')
    user_email: str = Field(..., title='User Email')
    credits_reserved: int = Field(..., title='Credits Reserved')
    credits_refunded: int = Field(..., title='Credits Refunded')
    request: dict[str, Any] = Field(
        ...,
        description='Raw request body that was POSTed to `/v1/research`.',
        title='Request',
    )
    response: dict[str, Any] = Field(
        ...,
        description='Raw final response (typed payload + brief + sources); empty while the job runs or when it produced nothing.',
        title='Response',
    )
    error: str | None = Field(None, title='Error')
    completed_at: AwareDatetime | None = Field(None, title='Completed At')
    wave_count: int | None = Field(None, title='Wave Count')
    source_count: int | None = Field(None, title='Source Count')


class AdminJobRow(BaseModel):
    id: UUID = Field(..., title='Id')
    created_at: AwareDatetime = Field(..., title='Created At')
    status: Literal[
        'queued', 'running', 'awaiting_approval', 'succeeded', 'failed', 'canceled'
    ] = Field(
        ...,
        description="A research job's status; `succeeded`, `failed` and `canceled` are final.",
        title='JobStatus',
    )
    question: str = Field(..., title='Question')
    credits_charged: int = Field(..., title='Credits Charged')
    cost_usd_micros: int = Field(..., title='Cost Usd Micros')
    latency_ms: int | None = Field(None, title='Latency Ms')
    user_id: UUID = Field(..., title='User Id')
    user_email: str = Field(..., title='User Email')


class AdminTicketDetail(BaseModel):
    id: UUID = Field(..., title='Id')
    user_id: UUID | None = Field(None, title='User Id')
    email: str = Field(..., title='Email')
    category: str = Field(..., title='Category')
    subject: str = Field(..., title='Subject')
    body: str = Field(..., title='Body')
    status: str = Field(..., title='Status')
    assigned_admin_id: UUID | None = Field(None, title='Assigned Admin Id')
    created_at: AwareDatetime = Field(..., title='Created At')
    replies: list[AdminTicketReply] = Field(..., title='Replies')


class AdminUserJobRow(BaseModel):
    id: UUID = Field(..., title='Id')
    created_at: AwareDatetime = Field(..., title='Created At')
    status: Literal[
        'queued', 'running', 'awaiting_approval', 'succeeded', 'failed', 'canceled'
    ] = Field(
        ...,
        description="A research job's status; `succeeded`, `failed` and `canceled` are final.",
        title='JobStatus',
    )
    question: str = Field(..., title='Question')
    credits_charged: int = Field(..., title='Credits Charged')
    cost_usd_micros: int = Field(..., title='Cost Usd Micros')
    latency_ms: int | None = Field(None, title='Latency Ms')


class AsyncAccepted(BaseModel):
    id: UUID = Field(..., title='Id')
    status: Literal[
        'queued', 'running', 'awaiting_approval', 'succeeded', 'failed', 'canceled'
    ] = Field(
        ...,
        description="A research job's status; `succeeded`, `failed` and `canceled` are final.",
        title='JobStatus',
    )
    status_url: str = Field(..., title='Status Url')
    events_url: str = Field(..., title='Events Url')


class AuthResponse(BaseModel):
    access_token: str = Field(..., title='Access Token')
    refresh_token: str = Field(..., title='Refresh Token')
    token_type: str | None = Field('bearer', title='Token Type')
    expires_in: int = Field(
        ..., description='Seconds until the access token expires.', title='Expires In'
    )
    user: UserDto


class ChatChoice(BaseModel):
    index: int | None = Field(0, title='Index')
    message: ChatChoiceMessage
    finish_reason: Literal['stop', 'length'] | None = Field(
        'stop', title='Finish Reason'
    )


class ChatCompletionRequest(BaseModel):
    model: constr(max_length=64) = Field(
        ...,
        description='`infrence-lite`, `infrence-standard` or `infrence-pro`.',
        title='Model',
    )
    messages: list[ChatMessage] = Field(
        ..., max_length=256, min_length=1, title='Messages'
    )
    stream: bool | None = Field(False, title='Stream')
    response_format: ResponseFormat | None = None
    source_policy: SourcePolicy | None = None
    output_language: constr(max_length=35) | None = Field(
        None,
        description='BCP 47 tag the answer is written in.',
        title='Output Language',
    )
    previous_job_id: UUID | None = Field(
        None,
        description='Follow up an earlier finished research job (`infrence.job_id` of an earlier answer).',
        title='Previous Job Id',
    )


class ErrorBody(BaseModel):
    detail: str = Field(..., title='Detail')
    code: str = Field(..., title='Code')
    errors: list[FieldError] | None = Field(
        None,
        description='On 400 `invalid_request`: one entry per offending field.',
        title='Errors',
    )


class ExtendRequest(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    max_credits: conint(ge=0, le=1000000000) | None = Field(
        None,
        description="The job's new credit cap in total (what it was charged included); runs metered, as mode `max`.",
        title='Max Credits',
    )
    mode: Literal['lite', 'standard', 'pro', 'max'] | None = Field(
        None,
        description='A dearer mode to continue in (its price, in total); `max` needs `max_credits`.',
    )


class ExtensionDto(BaseModel):
    at: AwareDatetime = Field(..., title='At')
    credits: int = Field(..., title='Credits')
    mode: Literal['lite', 'standard', 'pro', 'max'] = Field(
        ...,
        description="A research mode; `GET /v1/modes` lists each one's budgets and price.",
        title='ResearchMode',
    )
    max_credits: int | None = Field(None, title='Max Credits')


class InfrenceJobRef(BaseModel):
    job_id: str = Field(..., title='Job Id')
    status: Literal[
        'queued', 'running', 'awaiting_approval', 'succeeded', 'failed', 'canceled'
    ] = Field(
        ...,
        description="A research job's status; `succeeded`, `failed` and `canceled` are final.",
        title='JobStatus',
    )
    credits_charged: int = Field(..., title='Credits Charged')
    stop_reason: (
        Literal['complete', 'budget', 'deadline', 'canceled', 'no_evidence'] | None
    ) = None


class LogRow(BaseModel):
    id: UUID = Field(..., title='Id')
    created_at: AwareDatetime = Field(..., title='Created At')
    status: Literal[
        'queued', 'running', 'awaiting_approval', 'succeeded', 'failed', 'canceled'
    ] = Field(
        ...,
        description="A research job's status; `succeeded`, `failed` and `canceled` are final.",
        title='JobStatus',
    )
    question: str = Field(..., title='Question')
    mode: Literal['lite', 'standard', 'pro', 'max'] | None = None
    credits_charged: int = Field(..., title='Credits Charged')
    cost_usd_micros: int = Field(..., title='Cost Usd Micros')
    latency_ms: int | None = Field(None, title='Latency Ms')
    source_count: int | None = Field(None, title='Source Count')
    wave_count: int | None = Field(None, title='Wave Count')


class ModeInfo(BaseModel):
    mode: Literal['lite', 'standard', 'pro', 'max'] = Field(
        ...,
        description="A research mode; `GET /v1/modes` lists each one's budgets and price.",
        title='ResearchMode',
    )
    price_credits: int | None = Field(
        ...,
        description='Fixed price per run; null when metered.',
        title='Price Credits',
    )
    metered: bool = Field(..., title='Metered')
    price_note: str = Field(..., title='Price Note')
    budgets: ResearchBudgets


class ResearchRequest(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    question: constr(min_length=1, max_length=4000) = Field(..., title='Question')
    mode: Literal['lite', 'standard', 'pro', 'max'] | None = Field(
        'standard',
        description='Budgets and price of each mode: `GET /v1/modes`.',
        title='ResearchMode',
    )
    max_credits: conint(ge=0, le=1000000000) | None = Field(
        None,
        description='Hard credit cap. Required for `max` mode.',
        title='Max Credits',
    )
    max_wallclock_secs: conint(ge=0, le=86400) | None = Field(
        None,
        description="Override the mode's wall-clock cap.",
        title='Max Wallclock Secs',
    )
    response_schema: dict[str, Any] | None = Field(
        None,
        description='Optional JSON Schema for the typed result.',
        title='Response Schema',
    )
    webhook_url: constr(max_length=2048) | None = Field(
        None, description='POSTed the final result, signed.', title='Webhook Url'
    )
    async_: bool | None = Field(
        False,
        alias='async',
        description='Force async mode regardless of budget.',
        title='Async',
    )
    include_sources: bool | None = Field(
        True,
        description='Include per-source `summary` fields.',
        title='Include Sources',
    )
    collections: list[UUID] | None = Field(
        None,
        description='Your collections to search (ids from `/v1/collections`); cited as `collection://…`.',
        title='Collections',
    )
    web: bool | None = Field(
        None,
        description="Search the web (or the server's corpus) too. Default: true, or false when `collections` or `mcp_servers` are given and no web search provider is configured.",
        title='Web',
    )
    mcp_servers: list[McpServerSpec] | None = Field(
        None,
        description="Your own MCP servers: each tool taking a text query is searched too, its results cited as `mcp://<host>/<tool>/…`. A connector's failure is recorded in `errors`, never fatal.",
        title='Mcp Servers',
    )
    source_policy: SourcePolicy | None = Field(
        None,
        description='Hosts and publication dates sources must fit; other sources are never read or cited.',
    )
    output_language: constr(max_length=35) | None = Field(
        None,
        description="BCP 47 tag (`de`, `pt-BR`) the brief and typed string values are written in. The offline reasoner answers in its sources' language and says so in `usage.output_language_note`.",
        title='Output Language',
    )
    previous_job_id: UUID | None = Field(
        None,
        description="A follow-up to this earlier, finished job of yours: starts from its question, claims and sources (cited without being read again), researches only what the new question adds, and is charged this request's own price. 404 if not yours, 409 while it is still running.",
        title='Previous Job Id',
    )
    plan_approval: bool | None = Field(
        False,
        description='Stop after planning with status `awaiting_approval` until `POST /v1/research/{id}/plan` approves the queries (answered 202).',
        title='Plan Approval',
    )


class ResearchResult(BaseModel):
    id: UUID = Field(..., title='Id')
    status: Literal[
        'queued', 'running', 'awaiting_approval', 'succeeded', 'failed', 'canceled'
    ] = Field(
        ...,
        description="A research job's status; `succeeded`, `failed` and `canceled` are final.",
        title='JobStatus',
    )
    question: str = Field(..., title='Question')
    mode: Literal['lite', 'standard', 'pro', 'max'] | None = None
    previous_job_id: UUID | None = Field(
        None,
        description='The earlier job this one follows up, if any.',
        title='Previous Job Id',
    )
    brief: str | None = Field(None, title='Brief')
    typed: dict[str, Any] = Field(..., title='Typed')
    basis: list[BasisEntry] | None = Field(None, title='Basis')
    sources: list[SourceDto] = Field(..., title='Sources')
    credits_charged: int = Field(..., title='Credits Charged')
    cost_usd: float = Field(..., title='Cost Usd')
    stop_reason: (
        Literal['complete', 'budget', 'deadline', 'canceled', 'no_evidence'] | None
    ) = Field(
        None,
        description='complete | budget | deadline | canceled | no_evidence (nothing relevant was found: the brief says so, cites nothing, and only metered provider spend is charged).',
    )
    wave_count: conint(ge=0) | None = Field(None, title='Wave Count')
    usage: UsageDto | None = None
    faithfulness: FaithfulnessDto | None = None
    latency_ms: int | None = Field(None, title='Latency Ms')
    error: str | None = Field(None, title='Error')
    error_code: str | None = Field(
        None,
        description='Why a failed job failed, e.g. `provider_unavailable` (nothing is charged).',
        title='Error Code',
    )
    errors: list[StageError] | None = Field(
        None,
        description='Problems met on the way, per stage (search, read, extract, ...).',
        title='Errors',
    )
    created_at: AwareDatetime = Field(..., title='Created At')
    completed_at: AwareDatetime | None = Field(None, title='Completed At')
    extensions: list[ExtensionDto] | None = Field(
        None,
        description='Each `POST /v1/research/{id}/extend`, in order; `credits_charged` includes them.',
        title='Extensions',
    )
    plan: ResearchPlan | None = Field(
        None, description='With `plan_approval`: the plan, once made.'
    )


class JobCanceledEvent(BaseModel):
    type: Literal['job.canceled'] = Field(..., title='Type')
    data: ResearchResult


class JobFailedEvent(BaseModel):
    type: Literal['job.failed'] = Field(..., title='Type')
    data: ResearchResult


class JobSucceededEvent(BaseModel):
    type: Literal['job.succeeded'] = Field(..., title='Type')
    data: ResearchResult


class ResearchEvent(
    RootModel[
        JobQueuedEvent
        | JobStartedEvent
        | JobCancelRequestedEvent
        | JobExtendedEvent
        | PlanReadyEvent
        | PlanApprovedEvent
        | JobSucceededEvent
        | JobFailedEvent
        | JobCanceledEvent
        | PlanEvent
        | WaveStartedEvent
        | SearchEvent
        | SourceEvent
        | BranchFailedEvent
        | WaveCompletedEvent
        | GateEvent
        | SynthesisStartedEvent
        | CriticEvent
        | CastEvent
        | ProgressEvent
    ]
):
    root: (
        JobQueuedEvent
        | JobStartedEvent
        | JobCancelRequestedEvent
        | JobExtendedEvent
        | PlanReadyEvent
        | PlanApprovedEvent
        | JobSucceededEvent
        | JobFailedEvent
        | JobCanceledEvent
        | PlanEvent
        | WaveStartedEvent
        | SearchEvent
        | SourceEvent
        | BranchFailedEvent
        | WaveCompletedEvent
        | GateEvent
        | SynthesisStartedEvent
        | CriticEvent
        | CastEvent
        | ProgressEvent
    ) = Field(..., discriminator='type')


class ChatCompletion(BaseModel):
    id: str = Field(..., title='Id')
    object: Literal['chat.completion'] = Field('chat.completion', title='Object')
    created: int = Field(..., title='Created')
    model: str = Field(..., title='Model')
    choices: list[ChatChoice] = Field(..., title='Choices')
    usage: ChatUsage
    citations: list[str] | None = Field(
        None, description='Source URLs, in [n] order.', title='Citations'
    )
    infrence: InfrenceJobRef
