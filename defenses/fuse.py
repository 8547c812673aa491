"""FuSE (Fuzzy Sentence Ensemble): classify each input together with its SWITCH alternatives.

The group {original + up to ``total_alternatives`` SWITCH copies} is scored by the base model
(the original's logits from SWITCH's gradient pass, the copies in one batched forward, each
distinct copy once; a group keeps its duplicates, as in the authors' code) and combined by
logit averaging (default) or majority vote.
Defaults: the paper's best IMDB settings (3 words, 10 candidates, POS on, multiplier 17,
filter, 12 samples, logit averaging), without SWITCH's similarity check (``use_similarity=true``
turns it on: with MiniLM standing in for the paper's USE it doubles FuSE's cost, 17x plain
against 9x, and rejected 3 % of the candidates on MR sentences and none on IMDB reviews, so that
no measured accuracy moved; docs/firebert.md, "Three choices"). Stochastic (seeded):
never served from a Scorer cache; in an attack each query draws from its own stream
(:class:`defenses.ensemble.GroupEnsemble`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from arena.classifier import TextInput
from arena.pos import PosTagger
from arena.similarity import SentenceSimilarity
from arena.synonyms import SynonymSource
from defenses.ensemble import GroupEnsemble, Stream, check_combination, check_seed
from defenses.switch import Switch, SwitchConfig, gradient_importance, require_hf

FUSE_DEFAULTS = SwitchConfig(
    perturb_words=3,
    candidates_per_word=10,
    multiplier=17,
    total_alternatives=12,
    method="filter",
    match_pos=True,
    use_similarity=False,
)


class FuSE(GroupEnsemble):
    """A defended classifier: the base model voting over SWITCH alternatives of each input."""

    def __init__(
        self,
        base,
        synonyms: SynonymSource,
        similarity: SentenceSimilarity | None,
        pos: PosTagger | None,
        config: SwitchConfig | None = None,
        *,
        combination: str = "logits",
        seed: int = 0,
        chunk: int = 16,
    ):
        check_combination(combination)
        self.base = require_hf(base, "FuSE")
        self.switch = Switch(self.base, synonyms, similarity, pos, replace(config or FUSE_DEFAULTS))
        self.labels = list(self.base.labels)
        self.combination = combination
        self.seed = check_seed(seed, "FuSE")
        self.rng = np.random.default_rng(self.seed)
        self.chunk = chunk
        self.name = f"fuse({getattr(base, 'name', 'base')})"
        self.last_groups: list[list[TextInput]] = []  # the alternatives behind the latest predictions (for the app)

    def random_source(self, entropy: list[int] | None) -> np.random.Generator:
        """SWITCH's sampling generator for one input (None: the defense's shared one)."""
        return self.rng if entropy is None else np.random.default_rng(entropy)

    def group_logits(self, items: list[TextInput], sources: list[np.random.Generator]) -> list[np.ndarray]:
        """Each input with its SWITCH alternatives: the originals' logits come from SWITCH's gradient
        pass, each distinct alternative of the chunk is scored once, all in one batched forward."""
        importance = gradient_importance(self.base, items)
        groups = self.switch.alternatives(items, sources, importance)
        self.last_groups.extend(groups)
        distinct = list(dict.fromkeys(alt for alts in groups for alt in alts))
        scored = self.base.logits_from_encoded(self.base.encode(distinct)) if distinct else None
        row_of = {alt: row for row, alt in enumerate(distinct)}
        return [
            np.vstack([original, *(scored[row_of[alt]] for alt in alts)])
            for original, alts in zip(importance.logits, groups)
        ]

    def stored_identity(self) -> dict[str, bool]:
        """What a stored run records of this FuSE beyond its name: that the similarity check is off
        (so an older ``fuse`` run, made when the check was on by default, is never resumed without it)."""
        return {} if self.switch.similarity is not None else {"similarity_check": False}

    def clear_cache(self) -> None:
        """Forget the similarity check's cached embeddings (timing: every text is new in an attack)."""
        if self.switch.similarity is not None:
            self.switch.similarity.clear_cache()

    def predict_proba(self, texts: Sequence[TextInput], streams: Sequence[Stream] | None = None) -> np.ndarray:
        """Combined probabilities of each input's group (original + SWITCH alternatives)."""
        self.last_groups = []
        return super().predict_proba(texts, streams)
