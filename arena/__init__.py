"""FireArena: an adversarial-robustness arena for NLP classifiers.

The core: a :class:`Classifier` protocol with adapters (:func:`load_classifier`), the batched
:class:`Scorer` every attacker and metric goes through, data loaders (:func:`load_data`) and
the SQLite results :class:`Store`. The names load on first use, so ``arena --help`` and spec
checks run before torch is imported.
"""

from __future__ import annotations

from importlib import import_module

_WHERE = {
    "CallableClassifier": "arena.classifier",
    "Classifier": "arena.classifier",
    "ClassifierError": "arena.classifier",
    "HFClassifier": "arena.classifier",
    "HTTPClassifier": "arena.classifier",
    "load_classifier": "arena.classifier",
    "load_default_classifier": "arena.classifier",
    "DataError": "arena.data",
    "Example": "arena.data",
    "LabelledData": "arena.data",
    "load_data": "arena.data",
    "QueryBudgetExceeded": "arena.scorer",
    "Scorer": "arena.scorer",
    "ExampleResult": "arena.results",
    "Store": "arena.store",
    "build_defender": "arena.zoo",
    "to_textattack": "arena.zoo",
}
__all__ = sorted(_WHERE)
__version__ = "0.1.0"


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'arena' has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
