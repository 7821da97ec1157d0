"""Continue a finished run on its own thread: more waves, a rewritten brief.

The saved state keeps its claims, sources and spend; the extension only gives the run a fresh
wall-clock window under the caller's larger budgets (passed as context on the resumed run),
lets the critic revise once more, and sends it back to the gate, which plans the next wave
from what is still open.
"""

from __future__ import annotations

import time
from typing import Any

AS_NODE = "approve"  # written as if the plan had just been approved: the gate runs next


async def extend_thread(graph: Any, config: dict[str, Any], *, extension: int, mode: str) -> bool:
    """Open extension `extension` on the thread once: True when this call opened it, False when
    the thread already carries it (a resumed attempt of the same extension must not restart it)."""
    snapshot = await graph.aget_state(config)
    if (snapshot.values or {}).get("extension", 0) >= extension:
        return False
    await graph.aupdate_state(
        config,
        {"extension": extension, "mode": mode, "started_at": time.time(), "revisions": 0},
        as_node=AS_NODE,
    )
    return True
