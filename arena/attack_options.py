"""What an attack is run with: the options shared by word-swap attackers (``arena match`` flags)
and the adaptive attack's defaults against randomized defenders."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from arena.options import option, positive_int, unit_fraction

DEFAULT_SYNONYMS = "counterfitted"  # the neighbour table shipped in the package: every attack runs offline


def canonical_synonyms(spec: str) -> str:
    """The name a synonym source is stored under (``auto`` is the packaged table, one run with it)."""
    return DEFAULT_SYNONYMS if spec == "auto" else spec


# MiniLM is more sensitive to a one-word swap than USE: at TextAttack's USE threshold (0.8408,
# angular) it rejects 11 % of random counter-fitted single swaps in 15-word MR windows, at 0.80
# it rejects 4.5 % (measured; docs/measurements.md, "TextFooler"), which is the check's intent:
# reject only swaps that move the window's meaning.
DEFAULT_SIM_THRESHOLD = 0.80
# The released code keeps a swap when 1 - arccos(cos) >= 0.7 on USE, i.e. 1 - arccos(cos)/pi >= 1 - 0.3/pi
# in the angular form used here (``--sim-threshold paper``); TextAttack's recipe uses 0.8408.
PAPER_SIM_THRESHOLD = 1 - 0.3 / math.pi


def sim_threshold(value: str) -> float:
    """argparse type of ``--sim-threshold``: ``paper`` (the released code's threshold) or a number in [0, 1]."""
    return PAPER_SIM_THRESHOLD if value == "paper" else unit_fraction(value)


DEFAULT_EOT, DEFAULT_VERIFY = (
    8,
    5,
)  # the adaptive attack on a randomized defender (expectation over 8 draws; 5 to verify)


@dataclass
class AttackOptions:
    """Options shared by word-swap attackers (``arena match`` flags)."""

    synonyms: str = DEFAULT_SYNONYMS  # the classifier options' --synonyms (defenses use it too)
    sim_threshold: float | None = option(
        None,
        "angular similarity threshold of the 15-word windows, 1 - arccos(cos)/pi: a number in [0, 1], or paper "
        "(0.9045: the released code's 1 - arccos(cos) >= 0.7 on USE) (default 0.80, calibrated for MiniLM)",
        type=sim_threshold,
        metavar="T",
    )
    pos: str = option("auto", "POS tagger for the POS constraint", choices=("auto", "nltk", "pattern", "none"))
    importance: str = option(
        "oov",
        "word importance by replacing the word with <oov> (released code) or deleting it (paper, TextAttack)",
        choices=("oov", "delete"),
    )
    commit: str = option(
        "original",
        "keep a non-flipping swap if it lowers p_y below the original text's (released code) "
        "or the current text's (TextAttack)",
        choices=("original", "current"),
    )
    max_candidates: int = option(50, "synonym candidates tried per word", type=positive_int)
    min_cos: float = option(0.5, "minimum cosine of synonym candidates (vector sources)")
    chunk_size: int = option(32, "examples attacked in lockstep (one model call per step)", type=positive_int)
    device: str | None = None  # the classifier options' --device
    rl_samples: int = option(8, "rl:DIR: continuations sampled per example (best by attack reward)", type=positive_int)
    eot: int | None = option(
        None,
        "against a randomized defender (FuSE, FIVE, noise, --stochastic): each query's answer is the mean of K "
        "draws, K queries (expectation over transformation); 1: the non-adaptive attack (default: 8; "
        "deterministic defenders: 1)",
        type=positive_int,
        metavar="K",
    )
    verify: int | None = option(
        None,
        "against a randomized defender: a success counts only if most of M fresh draws of its final text "
        "are wrong (default: 5; deterministic defenders: 1)",
        type=positive_int,
        metavar="M",
    )
    eval_judge: str | None = option(
        None,
        "rl:DIR: a classifier that took no part in training or selection (not the policy's --judge), whose "
        "agreement with the true label on the successes is reported (e.g. vader, fact)",
        metavar="CLASSIFIER",
    )

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
