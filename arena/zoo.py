"""Names -> constructors for attackers (the one place ``arena`` reaches into ``attackers``)."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class AttackOptions:
    """Options shared by word-swap attackers (``arena match`` flags)."""

    synonyms: str = "auto"
    sim_threshold: float | None = None
    pos: str = "auto"
    importance: str = "oov"
    max_candidates: int = 50
    min_cos: float = 0.5
    chunk_size: int = 32
    device: str | None = None

    def identity(self) -> dict:
        """What makes results differ (part of the run id); ``chunk_size``/``device`` do not."""
        out = asdict(self)
        out.pop("chunk_size")
        out.pop("device")
        return out


ATTACKERS = ("textfooler", "textattack:RECIPE")


def build_attacker(spec: str, options: AttackOptions):
    """``textfooler`` or ``textattack:RECIPE``."""
    if spec == "textfooler":
        from arena.similarity import SentenceSimilarity
        from attackers.pos import PosTagger
        from attackers.synonyms import load_synonyms
        from attackers.textfooler import DEFAULT_SIM_THRESHOLD, TextFooler

        return TextFooler(
            load_synonyms(options.synonyms),
            SentenceSimilarity(device=options.device),
            None if options.pos == "none" else PosTagger(options.pos),
            max_candidates=options.max_candidates, min_cos=options.min_cos,
            sim_threshold=DEFAULT_SIM_THRESHOLD if options.sim_threshold is None else options.sim_threshold,
            importance=options.importance, chunk_size=options.chunk_size,
        )
    if spec.startswith("textattack:"):
        from attackers.textattack_adapter import TextAttackRecipe

        return TextAttackRecipe(spec.split(":", 1)[1], options)
    raise ValueError(f"unknown attacker {spec!r}; known: {', '.join(ATTACKERS)}")


def to_textattack(classifier_or_scorer):
    """A TextAttack ``ModelWrapper`` over an arena classifier or Scorer (dynamic padding, cache)."""
    from attackers.textattack_adapter import to_textattack as wrap

    return wrap(classifier_or_scorer)
