"""One example's outcome in a run: what attackers and evaluations produce and the store keeps."""

from __future__ import annotations

from dataclasses import dataclass, field

STORED_MAX_LENGTH = 256  # the default max_length, which a run's identity leaves unnamed


@dataclass
class ExampleResult:
    """One example's outcome in a run (clean evaluation or attack)."""

    idx: int
    example_id: str
    label: int
    original_text: str
    status: str
    text_pair: str | None = None
    original_pred: int | None = None
    original_proba: list[float] | None = None
    perturbed_text: str | None = None
    perturbed_pred: int | None = None
    perturbed_proba: list[float] | None = None
    queries: int | None = None
    words_changed: int | None = None
    words_total: int | None = None
    similarity: float | None = None
    seconds: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def original_segment(self) -> str:
        """The attacked part of the original: the text, or the hypothesis of a pair (as `Example.segment`)."""
        return self.original_text if self.text_pair is None else self.text_pair
