"""``arena harden``: attack, fine-tune on what got through, attack again, round after round.

Round 0 evaluates the starting classifier. Each round K = 1..R then:

1. **attack**: a fresh label-balanced sample of ``attack_n`` training examples (seed 1000 x
   ``seed`` + K; with ``attack_min_words``, of those at least that many words long) is attacked
   by each attacker against the current model, as resumable runs in ``OUT/arena.db``;
2. **fine-tune**: the current model's LoRA weights and head go on training (the classifier recipe
   of :mod:`defenses.train`, from the current model) on the round's successful adversarial
   examples with their true labels plus clean training examples, so that the adversarial ones are
   an ``adv_ratio`` share of the round's data (with ``round_examples``, a fixed number of examples
   per round: equal gradient steps for every attacker; with ``switch``, FACT's SWITCH copies are
   added to every batch) into ``OUT/round_K/model``;
   with ``retrain_attacker`` (the Active Attacks schedule), each ``rl:DIR`` attacker's training then
   goes on against the new model for ``attacker_iterations`` iterations (its run's settings, from
   its last policy, into ``OUT/round_K/attacker_I``), and that policy attacks from then on;
3. **evaluate** on the evaluation set, never trained on (refused when :func:`arena.overlap.overlap`
   finds it sharing sentences with the training set, unless ``allow_overlap``): clean accuracy and
   accuracy under each attacker;
4. append the round to ``OUT/curve.json`` (its model, data, figures, the attacks' and the
   fine-tune's seconds) and redraw ``OUT/curve.png``.

Every step is stored as it finishes: the same command run again skips the rounds in
``curve.json``, the finished attack and evaluation runs of the store and a finished model, and a
fine-tune interrupted mid-way resumes from its checkpoint. ``OUT/harden.json`` keeps the settings;
another command on the same folder must match them (``rounds`` may grow).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from arena.matchup import Matchup
from arena.options import option

CURVE, SETTINGS = "curve.json", "harden.json"


@dataclass
class HardenConfig:
    """What ``arena harden`` sets (each field is its option)."""

    out: str = option(
        None, "folder of the rounds' models, the store, curve.json and curve.png (resumes there)", required=True
    )
    classifier: str = option(
        "default", "the classifier to harden: default, or a folder written by `arena train classifier`"
    )
    train: str = option(None, "training pool: the data the attacks sample and the fine-tuning reads", required=True)
    eval: str = option(
        None, "evaluation data, never trained on (checked against --train with arena overlap)", required=True
    )
    attackers: str = option("textfooler", "comma-separated attackers, e.g. textfooler,textattack:pwws,rl:DIR")
    rounds: int = option(3, "attack / fine-tune / evaluate rounds after round 0 (may grow on a rerun)")
    attack_n: int = option(2000, "training examples attacked per round (a fresh label-balanced sample each round)")
    attack_min_words: int = option(
        0,
        "attack only training examples of at least this many words (e.g. 8: sentences, not SST-2's short phrases); "
        "the clean fine-tuning examples still come from all of --train",
    )
    eval_n: int | None = option(None, "evaluation examples (label-balanced sample; default: all)", type=int)
    adv_ratio: float = option(0.5, "share of adversarial examples in a round's fine-tuning data (0 < r <= 1)")
    round_examples: int | None = option(
        None,
        "fine-tuning examples per round: up to --adv-ratio of them adversarial, clean ones for the rest (the same "
        "gradient steps whatever the attacks find; default: all the round's adversarial examples)",
        type=int,
    )
    switch: bool = option(False, "add FACT's SWITCH copies of each fine-tuning batch (the FACT recipe)")
    lr: float = option(1e-3, "fine-tuning learning rate (LoRA, AdamW; chosen on SST-2 dev by bench/harden_tune.py)")
    epochs: float = option(3.0, "passes over each round's fine-tuning data (chosen with --lr)")
    batch_size: int = option(32, "fine-tuning batch size")
    synonyms: str = option("counterfitted", "the attackers' synonym source (arena list synonyms)")
    seed: int = option(0, "seed of each round's samples (attacked and clean examples) and fine-tuning")
    retrain_attacker: bool = option(
        False, "go on training each rl:DIR attacker against every round's new model (the Active Attacks schedule)"
    )
    attacker_iterations: int = option(6, "--retrain-attacker: policy iterations per round")
    allow_overlap: bool = option(False, "evaluate even when the evaluation data overlaps the training data")
    device: str | None = option(None, "cpu | cuda | cuda:N (default: cuda when present)")
    attack_options: dict = field(default_factory=dict)  # AttackOptions fields for every attack (the CLI's match flags)

    def __post_init__(self):
        from arena.checks import require_at_least

        missing = [f"--{name}" for name in ("out", "train", "eval") if not getattr(self, name)]
        if missing:
            raise ValueError(f"harden needs {', '.join(missing)}")
        counts = {
            "--rounds": (self.rounds, 0),
            "--attack-n": (self.attack_n, 1),
            "--attack-min-words": (self.attack_min_words, 0),
        }
        if self.retrain_attacker:
            counts["--attacker-iterations"] = (self.attacker_iterations, 1)
        if self.round_examples is not None:
            counts["--round-examples"] = (self.round_examples, 1)
        require_at_least("harden", counts)
        if not 0 < self.adv_ratio <= 1:
            raise ValueError(f"--adv-ratio is a share in (0, 1] (got {self.adv_ratio})")
        if not self.attack_list():
            raise ValueError("--attackers names no attacker")

    def attack_list(self) -> list[str]:
        """The attackers, in order."""
        return [a.strip() for a in self.attackers.split(",") if a.strip()]

    def identity(self) -> dict:
        """The settings a resumed command must share (``rounds`` may grow, ``device`` may change;
        ``attacker_iterations`` counts only with ``retrain_attacker``, ``attack_min_words`` only when set)."""
        skip = (
            {"rounds", "device", "out"}
            | (set() if self.retrain_attacker else {"retrain_attacker", "attacker_iterations"})
            | (set() if self.attack_min_words else {"attack_min_words"})
        )
        return {k: v for k, v in asdict(self).items() if k not in skip}


def model_folder(cfg: HardenConfig, k: int) -> Path:
    """Where round ``k``'s model lives."""
    return Path(cfg.out) / f"round_{k}" / "model"


def model_spec(cfg: HardenConfig, k: int) -> str:
    """The classifier of round ``k`` (round 0: the starting one)."""
    return cfg.classifier if k == 0 else str(model_folder(cfg, k))


def start_folder(cfg: HardenConfig) -> str:
    """The starting classifier's folder (``default``: the packaged one); refused when it is not one
    of arena's LoRA recipe, which is what the rounds fine-tune."""
    from arena.classifier import DEFAULT_CLASSIFIER_DIR

    folder = Path(DEFAULT_CLASSIFIER_DIR if cfg.classifier in ("default", "plain") else cfg.classifier)
    if not (folder / "arena_classifier.json").exists():
        raise ValueError(
            f"--classifier {cfg.classifier!r}: harden fine-tunes a LoRA classifier of arena's recipe "
            "(default, or a folder written by `arena train classifier`)"
        )
    return str(folder)


def attackers_at(cfg: HardenConfig, k: int) -> list[str]:
    """The attackers that attack round ``k``'s model: with ``retrain_attacker``, each ``rl:DIR`` as
    retrained against it (from round 1 on)."""
    if not cfg.retrain_attacker or k == 0:
        return cfg.attack_list()
    return [
        f"rl:{Path(cfg.out) / f'round_{k}' / f'attacker_{i}'}" if a.startswith("rl:") else a
        for i, a in enumerate(cfg.attack_list())
    ]


def retrain_attackers(cfg: HardenConfig, k: int, progress: bool) -> dict:
    """Go on training each RL attacker of round ``k - 1`` against round ``k``'s model (resumable);
    its summary per attacker."""
    from arena.zoo import build_defender
    from policies.config import PolicyRunConfig
    from policies.train import train_policy

    records = {}
    for i, (before, after) in enumerate(zip(attackers_at(cfg, k - 1), attackers_at(cfg, k))):
        if before == after:
            continue
        source = Path(before.split(":", 1)[1])
        run = source if (source / "policy").is_dir() else source.parent  # a run folder, or its policy/
        settings = json.loads((run / "config.json").read_text()) if (run / "config.json").exists() else {}
        if "task" not in settings:
            raise ValueError(
                f"--retrain-attacker: {before} is not a run of `arena train policy --task attacker` "
                "(no config.json beside its policy): its training settings are unknown"
            )
        config = PolicyRunConfig(
            **{
                **settings,
                "out": after.split(":", 1)[1],
                "policy": str(source),
                "reward": str(model_folder(cfg, k)),
                "iterations": cfg.attacker_iterations,
                "seed": settings.get("seed", 0) + k,
                "device": cfg.device,
            }
        )
        summary = train_policy(config, progress=progress, log=lambda _: None, build=build_defender)
        records[cfg.attack_list()[i]] = {"policy": config.out, "final": summary.get("final", {})}
    return records


def attack_pool(cfg: HardenConfig) -> str:
    """The data the rounds' attacks sample: ``--train``, or with ``attack_min_words`` its examples of
    at least that many words, written once to ``OUT/attack_pool`` (in ``--train``'s format)."""
    from arena.data import load_data
    from arena.overlap import write_subset

    if not cfg.attack_min_words:
        return cfg.train
    source = Path(cfg.train)
    path = Path(cfg.out) / f"attack_pool{source.suffix if source.is_file() else '.jsonl'}"
    if not path.exists():
        data = load_data(cfg.train)
        keep = [ex for ex in data.examples if len(ex.text.split()) >= cfg.attack_min_words]
        if not keep:
            raise ValueError(
                f"--attack-min-words {cfg.attack_min_words}: no example of --train {cfg.train} is that long"
            )
        partial = path.with_name(path.name + ".partial")
        write_subset(data, keep, partial)
        partial.replace(path)
    return str(path)


def check_overlap(cfg: HardenConfig) -> dict:
    """The evaluation set against the training set; an error when they share sentences (unless allowed)."""
    from arena.data import load_data
    from arena.overlap import overlap

    report = overlap(load_data(cfg.train), load_data(cfg.eval)).summary()
    if (report["exact"] or report["span"]) and not cfg.allow_overlap:
        raise ValueError(
            f"--eval {cfg.eval} shares {report['exact']} sentences and {report['span']} more "
            f"{report['ngram']}-word spans with --train {cfg.train}: evaluate on clean data (`arena overlap "
            "--train ... --data ... --out CLEAN`) or pass --allow-overlap"
        )
    return report


def matchup(cfg: HardenConfig, k: int, attacker: str | None, data: str, n: int | None, seed: int | None) -> Matchup:
    """A matchup of round ``k``'s model in the folder's store."""
    return Matchup(
        db=str(Path(cfg.out) / "arena.db"),
        defender=model_spec(cfg, k),
        attacker=attacker,
        data=data,
        n=n,
        seed=seed,
        synonyms=cfg.synonyms,
        device=cfg.device,
        options=dict(cfg.attack_options),
    )


def evaluate_round(cfg: HardenConfig, k: int, play: Callable[[Matchup], str]) -> dict:
    """Clean accuracy and accuracy under each attacker of round ``k``'s model on the evaluation data."""
    from arena.metrics import accuracy, attack_summary
    from arena.store import Store

    clean = play(matchup(cfg, k, None, cfg.eval, cfg.eval_n, 0))
    under = {
        name: play(matchup(cfg, k, a, cfg.eval, cfg.eval_n, 0))
        for name, a in zip(cfg.attack_list(), attackers_at(cfg, k))
    }
    with Store(Path(cfg.out) / "arena.db") as store:
        return {
            "clean": round(accuracy(store.results(clean)), 4),
            "under": {a: attack_summary(store.results(run))["accuracy_under_attack"] for a, run in under.items()},
            "runs": {"clean": clean, **under},
        }


def adversarial_round(cfg: HardenConfig, k: int, play: Callable[[Matchup], str]) -> tuple[list, float]:
    """Round ``k``'s successful adversarial examples (true labels) against round ``k - 1``'s model,
    and the seconds the attacks took (summed over the stored examples, so resumes count once)."""
    from arena.match import adversarial_examples
    from arena.store import Store

    found, seconds, pool = [], 0.0, attack_pool(cfg)
    with Store(Path(cfg.out) / "arena.db") as store:
        for a in attackers_at(cfg, k - 1):
            results = store.results(play(matchup(cfg, k - 1, a, pool, cfg.attack_n, cfg.seed * 1000 + k)))
            found += [replace(ex, id=f"r{k}:{a}:{ex.id}") for ex in adversarial_examples(results)]
            seconds += sum(r.seconds or 0.0 for r in results)
    return found, round(seconds, 1)


def fine_tune(cfg: HardenConfig, k: int, adversarial: list, progress: bool) -> dict:
    """Round ``k``'s model: round ``k - 1``'s, fine-tuned on the adversarial examples and clean ones."""
    import random

    from arena.data import LabelledData
    from defenses.train import TrainConfig, is_trained, train_classifier

    out = model_folder(cfg, k)
    if is_trained(out):
        return json.loads((out / "arena_classifier.json").read_text()).get("harden", {})
    previous = start_folder(cfg) if k == 1 else str(model_folder(cfg, k - 1))
    pool = training_pool(cfg.train, previous)
    if cfg.round_examples:
        adversarial = random.Random(cfg.seed * 1000 + k).sample(
            adversarial, min(len(adversarial), round(cfg.round_examples * cfg.adv_ratio))
        )
        clean_n = min(len(pool), cfg.round_examples - len(adversarial))
    else:
        clean_n = min(len(pool), round(len(adversarial) * (1 - cfg.adv_ratio) / cfg.adv_ratio))
    clean = random.Random(cfg.seed * 1000 + k).sample(pool.examples, clean_n)
    data = LabelledData(adversarial + clean, pool.label_names, f"harden round {k}: {cfg.train}")
    config = TrainConfig(lr=cfg.lr, epochs=cfg.epochs, batch_size=cfg.batch_size, seed=cfg.seed + k, init=previous)
    clock = time.perf_counter()
    if not len(data):
        raise ValueError(f"round {k}: no attack succeeded and no clean example drawn: nothing to fine-tune on")
    if cfg.switch:
        summary = fact_fine_tune(data, out, config, cfg.synonyms, cfg.device, progress)
    else:
        summary = train_classifier(data, out, config, device=cfg.device, progress=progress)
    record = {
        "adversarial": len(adversarial),
        "clean": clean_n,
        "steps": summary["steps"],
        "seconds": round(time.perf_counter() - clock, 1),
        "from": previous,
    }
    meta = json.loads((out / "arena_classifier.json").read_text())
    (out / "arena_classifier.json").write_text(json.dumps({**meta, "harden": record}, indent=2))
    return record


def training_pool(train: str, model: str):
    """The training data with its label ids in the order of the classifier folder ``model`` (as the
    attacks' results are), e.g. SST-2's 0/1 against the default classifier's negative/positive."""
    from arena.data import align_labels, load_data

    return align_labels(load_data(train), json.loads((Path(model) / "arena_classifier.json").read_text())["labels"])


def fact_fine_tune(data, out: Path, config, synonyms: str, device: str | None, progress: bool) -> dict:
    """FACT's co-tuning from ``config.init``: fine-tuning with SWITCH copies of each batch, the judge
    being the model the tuning starts from."""
    from arena.classifier import load_classifier
    from arena.pos import PosTagger
    from arena.similarity import SentenceSimilarity
    from arena.synonyms import load_synonyms
    from defenses.fact import FactAugmenter, train_fact

    judge = load_classifier(config.init, device=device)
    augmenter = FactAugmenter(
        judge, load_synonyms(synonyms), SentenceSimilarity(device=device), PosTagger(), seed=config.seed
    )
    return train_fact(data, out, config, augmenter, judge_name=config.init, device=device, progress=progress)


def plot_curve(curve: list[dict], path: Path) -> None:
    """Clean accuracy and accuracy under each attacker per round."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    rounds = [entry["round"] for entry in curve]
    ax.plot(rounds, [entry["clean"] for entry in curve], "o-", label="clean")
    for attacker in curve[0]["under"]:
        ax.plot(rounds, [entry["under"][attacker] for entry in curve], "o-", label=f"under {attacker}")
    ax.set_xlabel("round")
    ax.set_ylabel("accuracy")
    ax.set_xticks(rounds)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def harden(cfg: HardenConfig, *, progress: bool = True, say: Callable[[str], None] | None = None) -> list[dict]:
    """Run (or resume) the rounds; returns the curve (one entry per round, round 0 first)."""
    from arena.tournament import play as play_matchup

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    start_folder(cfg)
    settings = out / SETTINGS
    if settings.exists() and json.loads(settings.read_text()) != cfg.identity():
        raise ValueError(f"{out} holds a harden run with other settings ({settings}); pick another --out")
    overlap_report = check_overlap(cfg)
    settings.write_text(json.dumps(cfg.identity(), indent=1))
    curve_path = out / CURVE
    curve = json.loads(curve_path.read_text()) if curve_path.exists() else []

    def play(m: Matchup) -> str:
        return play_matchup(m, progress=progress)

    for k in range(len(curve), cfg.rounds + 1):
        clock = time.perf_counter()
        entry: dict = {"round": k, "model": model_spec(cfg, k)}
        if k:
            if say:
                say(f"round {k}: attacking {cfg.attack_n} training examples")
            adversarial, entry["attack_seconds"] = adversarial_round(cfg, k, play)
            if say:
                say(f"round {k}: fine-tuning on {len(adversarial)} adversarial examples and clean ones")
            entry["fine_tune"] = fine_tune(cfg, k, adversarial, progress)
            if cfg.retrain_attacker:
                if say:
                    say(f"round {k}: retraining the RL attackers against the new model")
                clock_attackers = time.perf_counter()
                entry["attackers"] = retrain_attackers(cfg, k, progress)
                entry["attacker_seconds"] = round(time.perf_counter() - clock_attackers, 1)
        if say:
            say(f"round {k}: evaluating on {cfg.eval}")
        entry.update(
            evaluate_round(cfg, k, play), overlap=overlap_report, seconds=round(time.perf_counter() - clock, 1)
        )
        curve.append(entry)
        curve_path.write_text(json.dumps(curve, indent=1))
        plot_curve(curve, out / "curve.png")
    return curve
