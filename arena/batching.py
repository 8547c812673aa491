"""Length-bucketed dynamic batching: group token sequences so no batch pads far past its own longest."""

from __future__ import annotations

from collections.abc import Sequence


def length_bucketed_batches(lengths: Sequence[int], token_budget: int, max_batch: int) -> list[list[int]]:
    """Indices grouped into batches of similar length.

    Indices are sorted by length (longest first, so a memory problem shows at once);
    a batch grows while ``len(batch) * longest_in_batch <= token_budget`` and
    ``len(batch) <= max_batch``. A single sequence longer than the budget gets its own batch.
    """
    if token_budget <= 0 or max_batch <= 0:
        raise ValueError("token_budget and max_batch must be positive")
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index in order:
        width = max(longest, lengths[index])
        if current and ((len(current) + 1) * width > token_budget or len(current) >= max_batch):
            batches.append(current)
            current, width = [], lengths[index]
        current.append(index)
        longest = width
    if current:
        batches.append(current)
    return batches
