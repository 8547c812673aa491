"""arena harden: rounds of attack, fine-tune and evaluation, resumable; the overlap refusal."""

from __future__ import annotations

import json
import os

import pytest
from conftest import tiny_attacker_run

from arena.harden import HardenConfig, harden

POSITIVE = ["good", "great", "lovely", "swell", "peachy", "groovy"]  # the last three: the attack's swaps
NEGATIVE = ["bad", "awful", "dull", "naff", "grotty", "meh"]
NOUNS = ["film", "movie", "plot", "cast", "story", "script", "ending", "score"]


def _write(path, rows):
    names = ["negative", "positive"]  # the classes of the RL attacker's judge (VADER)
    path.write_text("text\tlabel\n" + "".join(f"{t}\t{names[y]}\n" for t, y in rows))
    return str(path)


@pytest.fixture()
def keyword_task(tmp_path):
    """Keyword sentences (a training pool and a disjoint eval set), a synonym table that swaps the
    attacked words for ones the starting model has not seen, and a starting classifier of arena's
    recipe trained on part of the pool (one sentence form)."""
    from arena.data import load_data
    from defenses.train import TrainConfig, train_classifier

    seen = [(f"the {n} was {w}", 1) for n in NOUNS for w in POSITIVE[:3]]
    seen += [(f"the {n} was {w}", 0) for n in NOUNS for w in NEGATIVE[:3]]
    train = seen + [(f"what a {w} {n} overall", 1) for n in NOUNS[:4] for w in POSITIVE[:3]]
    train += [(f"what a {w} {n} overall", 0) for n in NOUNS[:4] for w in NEGATIVE[:3]]
    evals = [(f"what a {w} {n} overall", 1) for n in NOUNS[4:] for w in POSITIVE[:3]]
    evals += [(f"what a {w} {n} overall", 0) for n in NOUNS[4:] for w in NEGATIVE[:3]]
    table = {w: POSITIVE[3:] for w in POSITIVE[:3]} | {w: NEGATIVE[3:] for w in NEGATIVE[:3]}
    (tmp_path / "syn.json").write_text(json.dumps(table))
    start = tmp_path / "start"
    train_path = _write(tmp_path / "train.tsv", train)
    data = load_data(_write(tmp_path / "seen.tsv", seen))
    train_classifier(data, start, TrainConfig(epochs=3, lr=1e-3, batch_size=8, max_length=32), progress=False)
    return {
        "train": train_path,
        "eval": _write(tmp_path / "eval.tsv", evals),
        "classifier": str(start),
        "synonyms": f"neighbors:{tmp_path / 'syn.json'}",
    }


def _config(tmp_path, task, rounds: int, **extra) -> HardenConfig:
    return HardenConfig(
        out=str(tmp_path / "hardened"),
        rounds=rounds,
        attack_n=48,
        lr=1e-3,
        epochs=3,
        batch_size=8,
        device="cpu",
        attack_options={"pos": "none"},
        **task,
        **extra,
    )


@pytest.mark.slow
def test_two_rounds_harden_and_a_rerun_redoes_nothing(tmp_path, keyword_task, monkeypatch):
    from arena.store import Store

    curve = harden(_config(tmp_path, keyword_task, 1), progress=False)
    assert [entry["round"] for entry in curve] == [0, 1] and curve[1]["fine_tune"]["adversarial"] > 0
    folder = tmp_path / "hardened"
    model = folder / "round_1" / "model" / "adapter_model.safetensors"
    stamp = model.stat().st_mtime_ns
    with Store(folder / "arena.db") as store:
        stored = {run["run_id"]: len(store.results(run["run_id"])) for run in store.runs()}
    curve = harden(_config(tmp_path, keyword_task, 2), progress=False)  # resumed: round 2 only
    assert [entry["round"] for entry in curve] == [0, 1, 2]
    assert model.stat().st_mtime_ns == stamp
    with Store(folder / "arena.db") as store:
        assert all(len(store.results(run_id)) == count for run_id, count in stored.items())
    under = [entry["under"]["textfooler"] for entry in curve]
    assert under[2] >= under[0], curve
    assert json.loads((folder / "curve.json").read_text()) == curve and (folder / "curve.png").stat().st_size > 1000

    def nothing_to_redo(*args, **kwargs):
        raise AssertionError("a finished round was run again")

    monkeypatch.setattr("arena.tournament.play", nothing_to_redo)
    monkeypatch.setattr("defenses.train.train_classifier", nothing_to_redo)
    assert harden(_config(tmp_path, keyword_task, 2), progress=False) == curve
    with pytest.raises(ValueError, match="other settings"):
        harden(_config(tmp_path, keyword_task, 2, adv_ratio=0.25), progress=False)


def test_harden_refuses_an_evaluation_set_that_overlaps_training(tmp_path):
    rows = [(f"the film was {w}", 1) for w in POSITIVE] + [(f"the film was {w}", 0) for w in NEGATIVE]
    train = _write(tmp_path / "train.tsv", rows)
    cfg = HardenConfig(out=str(tmp_path / "h"), train=train, eval=train, rounds=1)
    with pytest.raises(ValueError, match=r"shares 12 sentences .*--allow-overlap"):
        harden(cfg, progress=False)
    with pytest.raises(ValueError, match="--adv-ratio"):
        HardenConfig(out="x", train=train, eval=train, adv_ratio=0.0)
    with pytest.raises(ValueError, match="harden needs --train"):
        HardenConfig(out="x", eval=train)
    assert os.path.isdir(tmp_path / "h") and not (tmp_path / "h" / "curve.json").exists()


@pytest.mark.slow
def test_retrain_attacker_goes_on_training_the_rl_attacker_every_round(tmp_path, keyword_task, tiny_lm_dir):
    from arena.store import Store
    from arena.zoo import build_defender
    from policies.train import train_policy

    first = tmp_path / "attacker"
    settings = tiny_attacker_run(
        out=str(first),
        algo="ppo",
        policy=tiny_lm_dir,
        reward=keyword_task["classifier"],
        data=keyword_task["train"],
        iterations=1,
    )
    train_policy(settings, progress=False, build=build_defender)
    rl = f"rl:{first / 'policy'}"
    cfg = _config(tmp_path, keyword_task, 2, attackers=f"textfooler,{rl}", retrain_attacker=True, attacker_iterations=1)
    curve = harden(cfg, progress=False)
    folder = tmp_path / "hardened"
    retrained = [folder / f"round_{k}" / "attacker_1" for k in (1, 2)]
    assert all((run / "policy").is_dir() and (run / "summary.json").exists() for run in retrained)
    assert [entry["attackers"][rl]["policy"] for entry in curve[1:]] == [str(run) for run in retrained]
    assert json.loads((retrained[1] / "config.json").read_text())["policy"] == str(retrained[0])
    assert all(set(entry["under"]) == {"textfooler", rl} for entry in curve)
    with Store(folder / "arena.db") as store:
        attackers = {run["attacker"] for run in store.runs()}
    assert {rl, f"rl:{retrained[0]}", f"rl:{retrained[1]}"} <= attackers  # each round's policy attacked


def test_harden_takes_the_attack_flags_of_match_that_differ_from_their_defaults():
    from arena.cli import build_parser, harden_settings

    needed = ["harden", "--train", "t.tsv", "--eval", "e.tsv", "--out", "o"]
    args = build_parser().parse_args([*needed, "--rl-samples", "4", "--pos", "none"])
    assert harden_settings(args).attack_options == {"pos": "none", "rl_samples": 4}
    assert harden_settings(build_parser().parse_args(needed)).attack_options == {}


def test_attack_min_words_attacks_only_the_longer_training_examples(tmp_path):
    from arena.data import load_data
    from arena.harden import attack_pool

    rows = [("the film was good", 1), ("what a good film overall", 1), ("what a dull plot overall", 0)]
    train = _write(tmp_path / "train.tsv", rows)
    assert attack_pool(HardenConfig(out=str(tmp_path / "all"), train=train, eval=train)) == train
    pool = attack_pool(HardenConfig(out=str(tmp_path / "long"), train=train, eval=train, attack_min_words=5))
    assert pool.endswith("attack_pool.tsv")
    assert [(ex.text, ex.label) for ex in load_data(pool).examples] == rows[1:]
    with pytest.raises(ValueError, match="--attack-min-words 9"):
        attack_pool(HardenConfig(out=str(tmp_path / "none"), train=train, eval=train, attack_min_words=9))
