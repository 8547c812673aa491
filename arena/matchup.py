"""A matchup: one defender against one attacker (or the clean evaluation) on a data set, as plain
picklable specs, and the players it names (built by the registry when needed). What a tournament
is made of and what a parallel match sends its workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from arena.attack_options import DEFAULT_SYNONYMS, AttackOptions
from arena.data import DEFAULT_SAMPLE
from arena.resources import HTTP_TIMEOUT

if TYPE_CHECKING:
    from arena.classifier import Classifier


@dataclass(frozen=True)
class Matchup:
    """One defender against one attacker (``attacker=None``: the clean evaluation)."""

    db: str
    defender: str
    attacker: str | None
    data: str
    n: int | None = None
    seed: int | None = None
    sample: str = DEFAULT_SAMPLE
    base: str = "default"
    synonyms: str = DEFAULT_SYNONYMS
    defense_seed: int = 0
    max_length: int = 256
    precision: str = "auto"
    device: str | None = None
    query_budget: int | None = None
    labels: tuple[str, ...] | None = None  # class names for callables/endpoints that do not name them
    stochastic: bool = False  # every classifier is randomized (--stochastic): never cached, attacked adaptively
    http_timeout: float = HTTP_TIMEOUT  # seconds an HTTP classifier's request may take in all
    options: dict = field(default_factory=dict)  # AttackOptions fields
    data_options: dict = field(default_factory=dict)  # load_data's column, label and --max-words options


def defender_of(m: Matchup) -> Classifier:
    """The defender a matchup names, built by the registry."""
    from arena.zoo import build_defender

    defender = build_defender(
        m.defender,
        m.base,
        synonyms=m.synonyms,
        seed=m.defense_seed,
        labels=m.labels,
        max_length=m.max_length,
        device=m.device,
        precision=m.precision,
        http_timeout=m.http_timeout,
    )
    if m.stochastic:
        defender.stochastic = True
    return defender


def options_of(m: Matchup) -> AttackOptions:
    """The attack options a matchup names."""
    return AttackOptions(**{"synonyms": m.synonyms, "device": m.device, **m.options})
