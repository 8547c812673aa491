"""FIVE (Fuzzy Internal Vector Ensemble): noise on the most important word-piece embeddings.

SWITCH step 1 (gradient importance, stop words removed) picks the ``embeddings`` most important
word pieces of the perturbable segment; ``samples`` copies of the input get their input
embeddings at those positions replaced by draws from N(v, std^2 I) (every chosen position in
every copy: the authors' code perturbed only the last of several words, fixed here); the group
{original + copies} (the original's logits from the gradient pass, the copies in one forward
whose word-piece embedding lookup returns the noisy copies) is combined by logit averaging
(default) or vote. Defaults: the paper's best IMDB settings (1 embedding, std 2.29, 10 samples).
Stochastic (seeded): never served from a Scorer cache; in an attack each query draws from its own
stream (:class:`defenses.ensemble.GroupEnsemble`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from arena.classifier import Encoded, TextInput
from arena.words import STOPWORDS, WordView
from defenses.ensemble import GroupEnsemble, Stream, check_combination, check_seed
from defenses.switch import PieceImportance, first_lookup, gradient_importance, require_hf, segment_of

FIVE_DEFAULTS = {"embeddings": 1, "std": 2.29, "samples": 10, "combination": "logits"}  # the paper's best IMDB settings


class FIVE(GroupEnsemble):
    """A defended classifier: the base model voting over embedding-noised copies of each input."""

    def __init__(
        self,
        base,
        *,
        embeddings: int = FIVE_DEFAULTS["embeddings"],
        std: float = FIVE_DEFAULTS["std"],
        samples: int = FIVE_DEFAULTS["samples"],
        combination: str = FIVE_DEFAULTS["combination"],
        seed: int = 0,
        chunk: int = 8,
    ):
        if embeddings < 1 or samples < 1 or std <= 0:
            raise ValueError(
                f"FIVE needs embeddings >= 1, samples >= 1 and std > 0 (got {embeddings}, {samples}, {std})"
            )
        check_combination(combination)
        self.base = require_hf(base, "FIVE")
        self.labels = list(self.base.labels)
        self.embeddings = embeddings
        self.std = std
        self.samples = samples
        self.combination = combination
        self.seed = check_seed(seed, "FIVE")
        self.generator = torch.Generator(device="cpu").manual_seed(self.seed)
        self.chunk = chunk
        self.name = f"five({getattr(base, 'name', 'base')})"
        self.last_groups: list[np.ndarray] = []  # per input: the members' probabilities (for the app)

    def chosen_positions(self, items: Sequence[TextInput]) -> tuple[PieceImportance, list[list[int]]]:
        """Gradient importance of a batch and, per input, the piece positions to perturb."""
        importance = gradient_importance(self.base, items)
        positions = []
        for item, scores, words in zip(items, importance.scores, importance.words):
            text_words = WordView.of(segment_of(item)).words
            allowed = [i for i, w in enumerate(words) if w is not None and text_words[w].lower() not in STOPWORDS]
            ranked = sorted(allowed, key=lambda i: -scores[i])
            positions.append(ranked[: self.embeddings])
        return importance, positions

    def random_source(self, entropy: list[int] | None) -> torch.Generator:
        """The noise generator for one input (None: the defense's shared one)."""
        if entropy is None:
            return self.generator
        return torch.Generator(device="cpu").manual_seed(
            int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0] >> 1)
        )

    def noisy_embeddings(
        self, embeds: torch.Tensor, positions: list[int], generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``samples`` copies of one input's embeddings ``(L, d)`` with noise at ``positions`` only
        (drawn from ``generator``, by default the defense's own)."""
        copies = embeds.unsqueeze(0).repeat(self.samples, 1, 1)
        if positions:
            noise = (
                torch.randn((self.samples, len(positions), embeds.shape[-1]), generator=generator or self.generator)
                * self.std
            )
            copies[:, positions, :] += noise.to(embeds.device, embeds.dtype)
        return copies

    @torch.inference_mode()
    def _noisy_logits(self, encoded: Encoded, positions: list[int], generator: torch.Generator) -> np.ndarray:
        """Logits of ``samples`` noisy copies of one encoded input (no padding): the model runs on
        its ``input_ids``, the word-piece embedding lookup's output swapped for the noisy copies."""
        inputs = {k: v.expand(self.samples, -1) for k, v in self.base.collate([encoded]).items()}
        noisy = first_lookup(self.base.model, lambda embeds: self.noisy_embeddings(embeds[0], positions, generator))
        with self.base.autocast_context(), noisy:
            return self.base.model(**inputs).logits.float().cpu().numpy()

    def group_logits(self, items: list[TextInput], sources: list[torch.Generator]) -> list[np.ndarray]:
        """Each input with its noisy copies: the original's logits from the gradient pass, the
        copies in one forward per input."""
        importance, positions = self.chosen_positions(items)
        groups = [
            np.vstack([importance.logits[row], self._noisy_logits(importance.encoded[row], chosen, source)])
            for row, (chosen, source) in enumerate(zip(positions, sources))
        ]
        self.last_groups.extend(torch.softmax(torch.from_numpy(g), -1).numpy() for g in groups)
        return groups

    def predict_proba(self, texts: Sequence[TextInput], streams: Sequence[Stream] | None = None) -> np.ndarray:
        """Combined probabilities of each input's group (original + noisy copies)."""
        self.last_groups = []
        return super().predict_proba(texts, streams)
