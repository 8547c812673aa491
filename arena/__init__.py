"""FireArena: an adversarial-robustness arena for NLP classifiers.

The core: a :class:`Classifier` protocol with adapters (:func:`load_classifier`), the batched
:class:`Scorer` every attacker and metric goes through, data loaders (:func:`load_data`) and
the SQLite results :class:`Store`.
"""
from arena.classifier import (
    CallableClassifier,
    Classifier,
    ClassifierError,
    HFClassifier,
    HTTPClassifier,
    load_classifier,
    load_default_classifier,
)
from arena.data import DataError, Example, LabelledData, load_data
from arena.scorer import QueryBudgetExceeded, Scorer
from arena.store import ExampleResult, Store
from arena.zoo import build_defender, to_textattack

__all__ = [
    "CallableClassifier", "Classifier", "ClassifierError", "DataError", "Example", "ExampleResult", "HFClassifier",
    "HTTPClassifier", "LabelledData", "QueryBudgetExceeded", "Scorer", "Store", "load_classifier", "load_data",
    "build_defender", "load_default_classifier", "to_textattack",
]
__version__ = "0.1.0"
