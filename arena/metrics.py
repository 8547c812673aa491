"""Metrics computed from per-example results."""
from __future__ import annotations

from typing import Sequence

from arena.store import ExampleResult


def accuracy(results: Sequence[ExampleResult]) -> float:
    """Share of examples whose original prediction equals the label."""
    if not results:
        return 0.0
    return sum(r.original_pred == r.label for r in results) / len(results)


def per_class_accuracy(results: Sequence[ExampleResult], label_names: Sequence[str]) -> dict[str, float | None]:
    """Accuracy (recall) per true class; None for a class with no examples."""
    out: dict[str, float | None] = {}
    for label, name in enumerate(label_names):
        group = [r for r in results if r.label == label]
        out[name] = sum(r.original_pred == label for r in group) / len(group) if group else None
    return out


def examples_per_second(results: Sequence[ExampleResult]) -> float | None:
    """Examples per second of model time, from the per-example seconds stored with each result."""
    seconds = sum(r.seconds or 0.0 for r in results)
    return len(results) / seconds if seconds > 0 else None
