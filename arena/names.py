"""The defense names of classifier specs, known to the core so that loading a classifier can tell
a defense from a model name; the registry (:mod:`arena.zoo`) builds them."""

from __future__ import annotations

DEFENSES = ("plain", "fuse", "five", "fact[:PATH]", "fuse+fact[:PATH]", "five+fact[:PATH]", "noise")
DEFENSE_NAMES = tuple(defense.partition("[")[0] for defense in DEFENSES)  # the names alone: plain ... five+fact


def defense_name(spec: str) -> str:
    """The name part of a defender spec: ``fuse+fact:PATH?k=v`` -> ``fuse+fact``."""
    return spec.partition("?")[0].partition(":")[0]
