"""A time limit that every model call checks: an attack stops at its limit, overrunning it by at most one call.

The app gives each attack a limit; the Scorer, each batch of a transformers classifier or of the
sentence encoder, each call of a Python-callable classifier and each request of an HTTP one check
it before they run (for this thread: the limit is a context variable), so the limit holds for every
attacker and defender, FuSE's and FIVE's inner calls included.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_DEADLINE: ContextVar[float | None] = ContextVar("arena_deadline", default=None)


class TimeLimitReached(BaseException):
    """The time limit of the work in progress has passed. An interruption, as ``KeyboardInterrupt``
    is, not an error: code that turns a model's errors into its own (``except Exception``) lets it through."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Model calls made inside the block raise :class:`TimeLimitReached` once ``seconds`` have passed."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def check_time_limit() -> None:
    """Raise :class:`TimeLimitReached` when a limit set by :func:`time_limit` has passed (nothing otherwise)."""
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() > deadline:
        raise TimeLimitReached("time limit reached")
