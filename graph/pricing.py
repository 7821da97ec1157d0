"""The one price table: per model per 1K tokens, per search, per page — in integer micro-dollars.

A call's worst case is priced from bounds we control: prompt tokens never exceed the prompt's
UTF-8 bytes (byte-level BPE emits at most one token per byte) plus a per-message overhead,
and completion tokens never exceed the `max_tokens` we send.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelPrice:
    input_per_1k: int  # micro-dollars per 1,000 prompt tokens
    output_per_1k: int  # micro-dollars per 1,000 completion tokens


MODEL_PRICES: dict[str, ModelPrice] = {
    "gpt-4.1-mini": ModelPrice(400, 1_600),
    "gpt-4.1-nano": ModelPrice(100, 400),
    "gpt-4.1": ModelPrice(2_000, 8_000),
    "gpt-4o-mini": ModelPrice(150, 600),
    "gpt-4o": ModelPrice(2_500, 10_000),
    "gpt-5-mini": ModelPrice(250, 2_000),
    "gpt-5-nano": ModelPrice(50, 400),
    "gpt-5": ModelPrice(1_250, 10_000),
}
# Models we do not know (a local vLLM, Ollama...) are priced like a mid-size hosted model:
# over-estimating spend is safe, under-estimating it is not.
UNKNOWN_MODEL_PRICE = ModelPrice(2_000, 8_000)

SEARCH_PRICES: dict[str, int] = {
    "tavily": 8_000,
    "corpus": 0,
    "collection": 0,
    "mcp": 0,  # the client's own connector: nothing we pay for
}  # Tavily basic search: 1 credit = $0.008
PAGE_PRICE = 100  # fetch + main-text extraction of one page (bandwidth, CPU)

MESSAGE_OVERHEAD_TOKENS = 8
REQUEST_OVERHEAD_TOKENS = 16


@dataclass(frozen=True)
class PriceTable:
    models: dict[str, ModelPrice] = field(default_factory=lambda: dict(MODEL_PRICES))
    searches: dict[str, int] = field(default_factory=lambda: dict(SEARCH_PRICES))
    page: int = PAGE_PRICE
    unknown_model: ModelPrice = UNKNOWN_MODEL_PRICE

    def model(self, name: str) -> ModelPrice:
        return self.models.get(name, self.unknown_model)

    def search(self, provider: str) -> int:
        """One search's price; a merged search (`tavily+collection`) costs the sum of its parts,
        and a provider the table does not know costs as much as the dearest one."""
        dearest = max(self.searches.values(), default=0)
        return sum(self.searches.get(part, dearest) for part in provider.split("+"))

    def llm_cost(self, model: str, input_tokens: int, output_tokens: int) -> int:
        price = self.model(model)
        return math.ceil((input_tokens * price.input_per_1k + output_tokens * price.output_per_1k) / 1000)

    def llm_worst_case(self, model: str, prompt_bytes: int, messages: int, max_output_tokens: int) -> int:
        input_bound = prompt_bytes + messages * MESSAGE_OVERHEAD_TOKENS + REQUEST_OVERHEAD_TOKENS
        return self.llm_cost(model, input_bound, max_output_tokens)


DEFAULT_PRICES = PriceTable()
