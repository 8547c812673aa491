"""What an attack is run with: the options shared by word-swap attackers (``arena match`` flags)
and the adaptive attack's defaults against randomized defenders."""

from __future__ import annotations

from dataclasses import asdict, dataclass

DEFAULT_SYNONYMS = "counterfitted"  # the neighbour table shipped in the package: every attack runs offline


def canonical_synonyms(spec: str) -> str:
    """The name a synonym source is stored under (``auto`` is the packaged table, one run with it)."""
    return DEFAULT_SYNONYMS if spec == "auto" else spec


DEFAULT_EOT, DEFAULT_VERIFY = (
    8,
    5,
)  # the adaptive attack on a randomized defender (expectation over 8 draws; 5 to verify)


@dataclass
class AttackOptions:
    """Options shared by word-swap attackers (``arena match`` flags)."""

    synonyms: str = DEFAULT_SYNONYMS
    sim_threshold: float | None = None
    pos: str = "auto"
    importance: str = "oov"
    commit: str = "original"
    max_candidates: int = 50
    min_cos: float = 0.5
    chunk_size: int = 32
    device: str | None = None
    rl_samples: int = 8
    eot: int | None = None  # draws averaged per query of a randomized defender (None: DEFAULT_EOT)
    verify: int | None = (
        None  # fresh draws of a success's final text, the majority of which must be wrong (None: DEFAULT_VERIFY)
    )
    eval_judge: str | None = None  # rl:DIR: the independent classifier that reports label preservation

    def identity(self) -> dict:
        """What makes word-swap results differ (part of the run id); ``chunk_size``/``device`` do not,
        and ``eot``/``verify`` are named by :func:`match_config` where they matter."""
        out = asdict(self)
        out["synonyms"] = canonical_synonyms(self.synonyms)
        for key in ("chunk_size", "device", "rl_samples", "eot", "verify", "eval_judge"):
            out.pop(key)
        return out

    def adaptive(self, stochastic: bool) -> tuple[int, int]:
        """(eot, verify) against a defender: the defaults for a randomized one, (1, 1) for a
        deterministic one, on which more draws change nothing."""
        if not stochastic:
            return 1, 1
        return (DEFAULT_EOT if self.eot is None else self.eot), (DEFAULT_VERIFY if self.verify is None else self.verify)
