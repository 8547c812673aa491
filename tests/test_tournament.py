"""Tournaments through the store: resume, leaderboard from per-example results, Ray sharding, report card."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from arena.metrics import accuracy, attack_summary, ratio_under_attack
from arena.report import instructive_examples, robustness_curve
from arena.store import ExampleResult, Store
from arena.tournament import Matchup, leaderboard, render_leaderboard, run_tournament

DEFENDER = """
import numpy as np
WEIGHTS = {{"good": 2.0, "great": 3.0, "fine": {fine}, "decent": 0.8, "nice": {nice}, "lovely": 2.5, "bad": -2.0,
           "awful": -3.0, "dull": -1.5, "poor": -1.0, "weak": -0.8, "superb": 3.0, "ok": 0.2, "boring": -2.0}}
def predict(texts):
    s = np.array([sum(WEIGHTS.get(w, 0.0) for w in t.lower().split()) - 0.5 for t in texts])
    p = 1 / (1 + np.exp(-s))
    return np.stack([1 - p, p], 1)
predict.labels = ["negative", "positive"]
"""
NEIGHBOURS = {
    "good": ["fine", "decent", "ok"],
    "great": ["nice", "superb"],
    "lovely": ["nice", "fine"],
    "bad": ["poor", "weak"],
    "awful": ["dull", "poor"],
    "boring": ["dull"],
    "film": ["movie"],
    "superb": ["great"],
}
TEXTS = [
    ("a good film", 1),
    ("a great and lovely film", 1),
    ("an awful film", 0),
    ("a boring bad film", 0),
    ("a lovely film", 1),
    ("good film and great cast", 1),
    ("a bad film", 0),
    ("a superb film", 1),
]


@pytest.fixture()
def setup(tmp_path):
    (tmp_path / "weak.py").write_text(DEFENDER.format(fine=0.1, nice=0.0))
    (tmp_path / "strong.py").write_text(
        DEFENDER.format(fine=1.5, nice=2.0)
    )  # synonyms keep their sentiment: nothing flips
    (tmp_path / "syn.json").write_text(json.dumps(NEIGHBOURS))
    (tmp_path / "d.tsv").write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in TEXTS))
    template = Matchup(
        db=str(tmp_path / "t.db"),
        defender="",
        attacker=None,
        data=str(tmp_path / "d.tsv"),
        synonyms=f"neighbors:{tmp_path}/syn.json",
        options={"pos": "none"},
    )
    defenders = [f"{tmp_path}/weak.py:predict", f"{tmp_path}/strong.py:predict"]
    return template, defenders


def result_rows(db: str) -> int:
    with Store(db) as store:
        return store.conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]


def test_tournament_resumes_and_leaderboard_equals_store(setup):
    template, defenders = setup
    attackers = ["textfooler", "textattack:deepwordbug"]
    tid = run_tournament(defenders, attackers, template)
    rows = result_rows(template.db)
    assert rows == len(TEXTS) * len(defenders) * (1 + len(attackers))
    assert (
        run_tournament(defenders, attackers, template) == tid and result_rows(template.db) == rows
    )  # instant, nothing redone
    with Store(template.db) as store:
        board = leaderboard(store, tid)
        table = store.run(tid)["summary"]
        for d in defenders:
            clean = store.results(table["clean"][d])
            assert board["defenders"][d]["clean_accuracy"] == round(accuracy(clean), 4)
            for a in attackers:
                results = store.results(table["matches"][d][a])
                assert board["defenders"][d]["under_attack"][a] == attack_summary(results)["accuracy_under_attack"]
                assert board["attackers"][a]["per_defender"][d] == attack_summary(results)["attack_success_rate"]
            assert board["defenders"][d]["worst_case"] == min(board["defenders"][d]["under_attack"].values())
        (tournament,) = store.progress("tournament")  # `arena runs`: the tournament has no examples of its own
        assert (tournament["run_id"], tournament["n"], tournament["done"]) == (tid, None, 0)
        assert {(r["n"], r["done"]) for r in store.progress("match")} == {(len(TEXTS), len(TEXTS))}
    assert (
        board["defenders"][defenders[1]]["under_attack"]["textfooler"]
        > board["defenders"][defenders[0]]["under_attack"]["textfooler"]
    )
    text = render_leaderboard(board)
    order = sorted(defenders, key=text.index)
    assert [board["defenders"][d]["worst_case"] for d in order] == sorted(
        (board["defenders"][d]["worst_case"] for d in defenders), reverse=True
    )
    with pytest.raises(ValueError, match="no tournament"):
        with Store(template.db) as store:
            leaderboard(store, "nope")


def test_every_name_is_checked_before_the_first_match(setup, tmp_path):
    template, defenders = setup
    bad = [
        ([*defenders, "five?std=abc"], ["textfooler"], ValueError, "std='abc' is not a number"),
        ([*defenders, "fuse?bogus=1"], ["textfooler"], ValueError, "unknown setting 'bogus=1'"),
        ([*defenders, "fact:./runs/missing_fact"], ["textfooler"], ValueError, "no such folder"),
        (defenders, ["textfooler", "bogus"], ValueError, "unknown attacker 'bogus'"),
        (defenders, ["rl:" + str(tmp_path / "no_policy")], ValueError, "no policy folder"),
    ]
    for some_defenders, attackers, error, problem in bad:
        with pytest.raises(error, match=problem):
            run_tournament(some_defenders, attackers, template)
    assert not (tmp_path / "t.db").exists()  # nothing was played


def test_leaderboard_against_a_baseline(setup):
    template, defenders = setup
    weak, strong = defenders
    tid = run_tournament(defenders, ["textfooler"], template)
    with Store(template.db) as store:
        board = leaderboard(store, tid, baseline=weak)
        matches = store.run(tid)["summary"]["matches"]
        expected = ratio_under_attack(
            store.results(matches[strong]["textfooler"]), store.results(matches[weak]["textfooler"])
        )
        with pytest.raises(ValueError, match="not a defender"):
            leaderboard(store, tid, baseline="plain")
    assert board["baseline"] == weak and "x_baseline" not in board["defenders"][weak]
    got = board["defenders"][strong]["x_baseline"]["textfooler"]
    assert got["ratio"] == round(expected["ratio"], 2) > 1 and got["ci95"][0] <= got["ratio"] <= got["ci95"][1]
    assert f"{got['ratio']:.2f}x {weak}, 95% CI" in render_leaderboard(board)
    json.dumps(board)  # stays a JSON object (an unbounded ratio is null)


@pytest.mark.slow
def test_ray_workers_give_the_local_leaderboard(setup, tmp_path):
    ray = pytest.importorskip("ray")
    from arena.executor import make_executor

    template, defenders = setup
    local = replace(template, db=str(tmp_path / "local.db"))
    sharded = replace(template, db=str(tmp_path / "ray.db"))
    with Store(local.db) as store:
        expected = leaderboard(store, run_tournament(defenders, ["textfooler"], local))
    executor = make_executor(2, backend="ray")
    try:
        tid = run_tournament(defenders, ["textfooler"], sharded, executor=executor)
    finally:
        executor.close()
    assert not ray.is_initialized()
    with Store(sharded.db) as store:
        got = leaderboard(store, tid)
    assert {k: v for k, v in got.items() if k != "tournament"} == {
        k: v for k, v in expected.items() if k != "tournament"
    }


def test_report_card_pieces():
    def result(status, changed=0, total=10, sim=0.9):
        return ExampleResult(
            idx=0,
            example_id=str(np.random.rand()),
            label=1,
            original_text="a b",
            status=status,
            perturbed_text="a c",
            perturbed_pred=0,
            words_changed=changed,
            words_total=total,
            similarity=sim,
        )

    results = [result("failed"), result("succeeded", 1), result("succeeded", 3), result("skipped")]
    curve = dict(robustness_curve(results))
    assert curve[0.0] == 0.75 and curve[0.05] == 0.75 and curve[0.10] == 0.5 and curve[0.30] == 0.25
    best = instructive_examples(results + [result("succeeded", 1, sim=0.99)], k=2)
    assert [r.similarity for r in best] == [0.99, 0.9]


def test_cli_tournament_leaderboard_and_score(setup, tmp_path, capsys):
    from arena.cli import main

    template, defenders = setup
    common = ["--data", template.data, "--synonyms", template.synonyms, "--pos", "none", "--db", template.db]
    assert (
        main(
            [
                "tournament",
                "--defenders",
                ",".join(defenders),
                "--attackers",
                "textfooler",
                *common,
                "--out",
                str(tmp_path / "lb"),
                "--json",
            ]
        )
        == 0
    )
    board = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (tmp_path / "lb" / "heatmap.png").stat().st_size > 1000 and (tmp_path / "lb" / "leaderboard.md").exists()
    assert main(["leaderboard", "--db", template.db, "--json"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["defenders"] == board["defenders"]
    assert main(["score", "--classifier", defenders[0], *common, "--out", str(tmp_path / "card")]) == 0
    card = (tmp_path / "card" / "report.md").read_text()
    assert "Robustness curve" in card and "clean accuracy" in card and (tmp_path / "card" / "report.png").exists()
    assert main(["leaderboard", "--db", str(tmp_path / "empty.db")]) == 2
    assert (
        main(
            [
                "leaderboard",
                "--db",
                template.db,
                "--tournament",
                board["tournament"],
                "--baseline",
                defenders[0],
                "--json",
            ]
        )
        == 0
    )
    versus = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert versus["baseline"] == defenders[0] and "x_baseline" in versus["defenders"][defenders[1]]
    assert (
        main(["tournament", "--defenders", defenders[1], "--attackers", "textfooler", *common, "--baseline", "plain"])
        == 2
    )
    assert "--baseline 'plain' is not one of the defenders" in capsys.readouterr().err


def test_a_defender_ranks_ahead_only_when_significantly_ahead(tmp_path):
    from arena.store import ExampleResult
    from arena.tournament import ranking

    def stored(store, name, kept, kind="match"):
        run = store.start_run(kind, name, "d", {"n": len(kept)}, attacker="textfooler" if kind == "match" else None)
        store.add_results(
            run,
            [
                ExampleResult(
                    i,
                    f"e{i}",
                    1,
                    "t",
                    "failed" if k else "succeeded",
                    original_pred=1,
                    queries=3,
                    words_changed=1,
                    words_total=4,
                )
                for i, k in enumerate(kept)
            ],
        )
        return run

    with Store(tmp_path / "r.db") as store:
        table = {"clean": {}, "matches": {}}
        for name, kept in (
            ("plain", [True] * 20 + [False] * 60),
            ("noisy", [True] * 23 + [False] * 57),
            ("strong", [True] * 60 + [False] * 20),
        ):
            table["clean"][name] = stored(store, name, [True] * 80, "eval")
            table["matches"][name] = {"textfooler": stored(store, name, kept)}
        tid = store.start_run(
            "tournament",
            "plain,noisy,strong",
            "d",
            {"defenders": ["plain", "noisy", "strong"], "attackers": ["textfooler"]},
        )
        store.finish_run(tid, table)
        board = leaderboard(store, tid)
    assert [(d, row["rank"]) for d, row in ranking(board)] == [("strong", 1), ("plain", 2), ("noisy", 2)]
