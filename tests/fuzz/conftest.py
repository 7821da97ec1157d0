"""Fuzzing support: a compatibility shim between hypothesis-jsonschema and current Hypothesis.

hypothesis-jsonschema 0.23.1 (which schemathesis uses to draw JSON bodies) still calls
`many.more()`; Hypothesis 6.170 replaced it with `with many(...) as elements: for _ in elements`.
Without this, every operation with an object body fails while *generating* its cases. The shim
drives the new iterator one step per `more()` call; remove it once hypothesis-jsonschema is fixed.
"""

from __future__ import annotations

from hypothesis.internal.conjecture import utils as conjecture_utils


def _more(self) -> bool:
    if self._depth is None:
        self.__enter__()
        self._compat_iterator = iter(self)
    try:
        next(self._compat_iterator)
        return True
    except StopIteration:
        self.__exit__(None)
        return False


if not hasattr(conjecture_utils.many, "more"):
    conjecture_utils.many.more = _more
