"""NOISE, a canary: the base classifier, except that a query answers a random label with probability ``p``.

It has no robustness at all: a flip the attacker finds is as real as against the base model,
and the random answers only hide it from an attack that trusts one draw. An evaluation that
ranks it above plain is fooled by randomness; the arena's adaptive attack (expectation over
draws, ``--eot``, and the majority check of the final text, ``--verify``) must not be.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from arena.classifier import Classifier, TextInput, check_inputs
from defenses.ensemble import Stream, check_seed, stream_entropy

NOISE_DEFAULTS = {"p": 0.3}


class Noise:
    """``base`` answering a uniformly random label's one-hot probabilities on a share ``p`` of queries."""

    stochastic = True
    keyed_randomness = True  # the Scorer passes each query's stream, so results repeat per example

    def __init__(self, base: Classifier, *, p: float = NOISE_DEFAULTS["p"], seed: int = 0):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"noise needs 0 <= p <= 1 (got {p})")
        self.base = base
        self.labels = list(base.labels)
        self.p = p
        self.seed = check_seed(seed, "noise")
        self.generator = np.random.default_rng(self.seed)
        self.name = f"noise({getattr(base, 'name', 'base')})"

    def predict_proba(self, texts: Sequence[TextInput], streams: Sequence[Stream] | None = None) -> np.ndarray:
        """The base model's probabilities, each row replaced by a random one-hot with probability ``p``
        (each query drawing from its own stream when the Scorer gives them, else from one generator)."""
        items = check_inputs(texts)
        if streams is not None and len(streams) != len(items):
            raise ValueError(f"{len(streams)} random streams for {len(items)} texts")
        out = np.array(self.base.predict_proba(items), dtype=np.float64).reshape(len(items), len(self.labels))
        sources = (
            [self.generator] * len(items)
            if streams is None
            else [np.random.default_rng(stream_entropy(self.seed, s)) for s in streams]
        )
        for row, source in enumerate(sources):
            if source.random() < self.p:
                out[row] = np.eye(len(self.labels))[source.integers(len(self.labels))]
        return out
