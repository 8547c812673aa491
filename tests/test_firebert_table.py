"""bench/firebert_table.py: which earlier rows and costs a partial re-run keeps."""

import importlib.util
from argparse import Namespace
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "firebert_table", Path(__file__).resolve().parents[1] / "bench" / "firebert_table.py"
)
table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(table)

SETTINGS = {
    "n": 300,
    "fact": "packaged",
    "synonyms": "neighbors:x.json",
    "max_length": 256,
    "precision": "fp32",
    "cost_n": 100,
    "cost_repeats": 3,
}
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
    result = {
        "mr": {"plain": PLAIN, "fuse": row(0.6), "fact": row(0.3), "fuse+fact?use_similarity=false": row(0.7)},
        "settings": {"mr": {**SETTINGS, "fact": "runs/fact"}},
    }
    args = Namespace(keep_cost=True, cost_n=100, cost_repeats=3, precision="fp32", fact=None, results="firebert")
    assert set(table.cost_to_keep(result, "mr", args)) == {"plain", "fuse"}
    assert set(table.cost_to_keep(result, "mr", Namespace(**{**vars(args), "fact": "runs/fact"}))) == set(result["mr"])
    assert table.cost_to_keep(result, "mr", Namespace(**{**vars(args), "keep_cost": False})) == {}


def test_attack_rows_take_an_optional_count():
    assert table.parse_attack_rows(["plain", "five@151", "", "fuse?use_similarity=false@8", "fuse+fact@stored"]) == {
        "plain": None,
        "five": 151,
        "fuse?use_similarity=false": 8,
        "fuse+fact": "stored",
    }
    for bad in ("five@", "five@0", "five@-3", "five@ten"):
        with pytest.raises(ValueError, match="positive whole number or 'stored'"):
            table.parse_attack_rows([bad])


def test_render_shows_a_partial_row_beside_plain_on_the_same_examples():
    cells = {"clean": 0.78, "premade": 0.497, "perturbed_pct": 12.08, "premade_n": 147}
    result = {
        "imdb": {
            "plain": {**cells, "under_attack": 0.05, "queries": 242.02, "cost_ratio": 1.0},
            "five": {
                **cells,
                "under_attack": 0.205,
                "queries": 281.02,
                "cost_ratio": 12.57,
                "attack_n": 151,
                "plain_under_attack_same_n": 0.06,
                "plain_queries_same_n": 255.04,
                "x_plain": 3.44,
                "x_plain_ci95": [2.08, 7.8],
            },
        },
        "settings": {"imdb": SETTINGS},
    }
    lines = table.render(result).splitlines()
    assert lines[0] == "### imdb (premade set: 147 adversarial examples made against plain)"
    assert (
        lines[4] == "| plain | 0.780 | 0.497 | 0.050 | 242.02 | 12.08 | 1.000 | - | - |"
    )  # no adaptive attack in this table
    assert lines[5] == (
        "| five | 0.780 | 0.497 | 0.205 (first 151; plain there 0.060; 3.44x plain, 95% CI 2.08-7.80)"
        " | 281.02 (plain there 255.04) | 12.08 | 12.57 | - | - |"
    )


def test_render_shows_the_range_over_defense_seeds_and_skips_an_empty_premade_set():
    plain = {
        "clean": 0.87,
        "premade": 0.0,
        "under_attack": 0.213,
        "queries": 31.11,
        "perturbed_pct": 20.3,
        "cost_ratio": 1.0,
        "premade_n": 197,
    }
    fuse = {
        **plain,
        "clean": 0.843,
        "premade": 0.838,
        "under_attack": None,
        "queries": None,
        "perturbed_pct": None,
        "cost_ratio": 20.58,
        "clean_seeds": [0.843, 0.837, 0.847],
        "premade_seeds": [0.838, 0.792, 0.807],
    }
    five = {**fuse, "premade": None, "clean_seeds": [0.82, 0.82], "premade_seeds": [None, None]}
    lines = table.render({"mr": {"plain": plain, "fuse": fuse, "five": five}}).splitlines()
    assert (
        lines[5]
        == "| fuse | 0.843 (0.837-0.847 over 3 seeds) | 0.838 (0.792-0.838 over 3 seeds) | - | - | - | 20.58 | - | - |"
    )
    assert lines[6] == "| five | 0.843 (0.820-0.820 over 2 seeds) | - | - | - | - | 20.58 | - | - |"
    noise = {
        **plain,
        "clean": 0.698,
        "under_attack": 0.504,
        "under_adaptive_attack": 0.2,
        "adaptive_queries": 253.1,
        "adaptive_n": 150,
        "plain_under_attack_adaptive_n": 0.18,
        "x_plain_adaptive": 1.11,
        "x_plain_adaptive_ci95": [0.8, 1.5],
    }
    row = table.render({"mr_unseen": {"plain": plain, "noise": noise}}).splitlines()[5]
    assert row.endswith("| 0.200 (first 150; plain there 0.180; 1.11x plain, 95% CI 0.80-1.50) | 253.1 |")


def test_runs_are_named_as_arena_match_and_arena_eval_name_them():
    """A row attacked or evaluated by hand with the CLI (same settings, typed the same) is the bench's run."""
    from arena import cli

    data, synonyms = "../shared/data/textfooler/mr", "neighbors:../shared/data/synonyms/counterfitted_neighbors.json"
    bench_args = Namespace(synonyms=synonyms, max_length=128, chunk_size=8, precision="fp32", db="t.db")
    common = [
        "--data",
        data,
        "--n",
        "300",
        "--sample",
        "first",
        "--synonyms",
        synonyms,
        "--max-length",
        "128",
        "--defense-seed",
        "2",
    ]
    for spec in ("plain", "five?std=0.1", "fuse+fact:runs/fact", "fact"):
        match = cli.build_parser().parse_args(["match", "--classifier", spec, *common, "--eot", "1", "--verify", "1"])
        assert table.attack_key(spec, data, 300, bench_args, seed=2) == cli._match_key(match, spec)
        evaluation = cli.build_parser().parse_args(["eval", "--classifier", spec, *common])
        assert table.eval_names(spec, 2, data, 300, bench_args) == cli._eval_key(evaluation)
    assert table.attack_key("five", data, 300, bench_args)["defender_name"] == "five[default]#seed0"
    for spec in ("plain", "five?std=0.1", "fuse+fact:runs/fact"):  # what --workers runs stores what the bench reads
        worker = cli.build_parser().parse_args([*table.match_argv(spec, data, 300, bench_args), "--shard", "0/2"])
        assert cli._match_key(worker, spec) == table.attack_key(spec, data, 300, bench_args)
        assert (worker.precision, worker.db) == ("fp32", "t.db")


def test_kept_rows_may_name_the_synonym_table_relative_or_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    kept = table.keep_rows(
        {"plain": PLAIN, "five": row(0.3)},
        {"plain": PLAIN},
        {**SETTINGS, "synonyms": f"neighbors:{tmp_path / 'x.json'}"},
        SETTINGS,
    )
    assert list(kept) == ["plain", "five"]
    with pytest.raises(SystemExit, match="run every row"):
        table.keep_rows({"plain": PLAIN}, {"plain": PLAIN}, {**SETTINGS, "synonyms": "neighbors:y.json"}, SETTINGS)


def test_bar_checks_count_the_searched_five_setting_and_flag_what_is_missing_or_missed(tmp_path, monkeypatch):
    monkeypatch.setattr(table, "RESULTS", tmp_path)
    (tmp_path / "five_search_toy.json").write_text('{"best": "five?std=0.1"}')  # no FIVE(FACT) search on toy
    attacked = {"x_plain_ci95": [1.5, 2.9], "queries": 33.0, "cost_ratio": 9.0}
    result = {
        "plain": {"clean": 0.8, "queries": 30.0, "cost_ratio": 1.0},
        "fact": {"clean": 0.78, "premade": 0.65},
        "five": {**attacked, "x_plain": 1.2},
        "five?std=0.1": {**attacked, "x_plain": 2.1},
        "fuse": {"cost_ratio": 16.0},
    }
    checks = {(bar, row): (measured, met) for bar, row, measured, met in table.bar_checks(result, "toy")}
    assert checks[("FACT clean accuracy >= 97% of plain's", "fact")] == ("97.5% of plain's", True)
    assert checks[("FACT accuracy on pre-made adversarials >= 0.6", "fact")] == ("0.650", True)
    assert checks[("FIVE under attack >= 2x plain's", "five?std=0.1")] == ("2.10x plain, 95% CI 1.50-2.90", True)
    assert checks[("the attacker needs more queries against FIVE", "five?std=0.1")] == ("33.0 vs plain's 30.0", True)
    assert checks[("FIVE(FACT) under attack >= 2x plain's", "five+fact")] == ("not measured", None)
    assert checks[("FuSE inference cost <= 15x plain's", "fuse")] == ("16.0x", False)
    assert table.counted_row(result, "other", "five") == "five"  # no search for that data set: the defaults' row
    columns = dict.fromkeys(("clean", "premade", "under_attack", "queries", "perturbed_pct", "cost_ratio"))
    rendered = table.render(
        {"toy": {row: {**columns, **values, "premade_n": 3} for row, values in result.items()}}
    ).splitlines()
    assert "| FuSE inference cost <= 15x plain's | fuse | 16.0x | no |" in rendered
    assert "| FuSE(FACT) inference cost <= 15x plain's | fuse+fact | not measured | - |" in rendered
    assert [line.split(" |")[0] for line in rendered[4:9]] == [
        "| plain",
        "| fuse",
        "| five",
        "| fact",
        "| five?std=0.1",
    ]  # defaults first
