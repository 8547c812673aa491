"""bench/firebert_table.py: which earlier rows and costs a partial re-run keeps."""
import importlib.util
from argparse import Namespace
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("firebert_table", Path(__file__).resolve().parents[1] / "bench" / "firebert_table.py")
table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(table)

SETTINGS = {"n": 300, "fact": "packaged", "synonyms": "neighbors:x.json", "max_length": 256, "precision": "fp32",
            "cost_n": 100, "cost_repeats": 3}
PLAIN = {"under_attack": 0.2, "queries": 242.0, "premade_n": 147, "ms_per_example": 10.0, "cost_ratio": 1.0}


def row(value: float) -> dict:
    return {"under_attack": value, "ms_per_example": 100.0, "cost_ratio": 10.0}


def test_keep_rows_replaces_in_place_and_drops_other_fact_models():
    earlier = {"plain": PLAIN, "fuse": row(0.6), "fact": row(0.3), "five+fact": row(0.4), "five": row(0.25)}
    fresh = {"plain": {**PLAIN, "queries": 242.02}, "fact": row(0.35), "fuse+fact": row(0.7)}
    kept = table.keep_rows(earlier, fresh, {**SETTINGS, "fact": "runs/fact"}, SETTINGS)
    assert list(kept) == ["plain", "fuse", "fact", "five", "fuse+fact"]  # five+fact (another model) dropped
    assert kept["fact"]["under_attack"] == 0.35 and kept["five"]["under_attack"] == 0.25
    same_model = table.keep_rows(earlier, fresh, SETTINGS, SETTINGS)
    assert list(same_model) == ["plain", "fuse", "fact", "five+fact", "five", "fuse+fact"]


@pytest.mark.parametrize("change", [{"under_attack": 0.21}, {"premade_n": 146}, {"queries": 243.0}])
def test_keep_rows_refuses_another_plain_attack(change):
    with pytest.raises(SystemExit, match="plain's attack differs"):
        table.keep_rows({"plain": PLAIN}, {"plain": {**PLAIN, **change}}, SETTINGS, SETTINGS)


def test_keep_rows_refuses_other_settings():
    with pytest.raises(SystemExit, match="run every row"):
        table.keep_rows({"plain": PLAIN}, {"plain": PLAIN}, {**SETTINGS, "max_length": 128}, SETTINGS)


def test_cost_to_keep_retimes_fact_rows_of_another_model():
    result = {"mr": {"plain": PLAIN, "fuse": row(0.6), "fact": row(0.3), "fuse+fact?use_similarity=false": row(0.7)},
              "settings": {"mr": {**SETTINGS, "fact": "runs/fact"}}}
    args = Namespace(keep_cost=True, cost_n=100, cost_repeats=3, precision="fp32", fact=None, results="firebert")
    assert set(table.cost_to_keep(result, "mr", args)) == {"plain", "fuse"}
    assert set(table.cost_to_keep(result, "mr", Namespace(**{**vars(args), "fact": "runs/fact"}))) == set(result["mr"])
    assert table.cost_to_keep(result, "mr", Namespace(**{**vars(args), "keep_cost": False})) == {}
