"""Settings checks shared by the config classes: one error that names every bad value."""

from __future__ import annotations


def require_at_least(what: str, settings: dict[str, tuple[float, float]]) -> None:
    """Raise ValueError naming each setting below its least value (``{name: (value, least)}``):
    a zero count would otherwise leave a run silently doing nothing, or fail deep inside it."""
    low = [f"{name} >= {least} (got {value})" for name, (value, least) in settings.items() if value < least]
    if low:
        raise ValueError(f"{what} needs {', '.join(low)}")
