"""Train a policy on the generator task: build the algorithm, loop, log, checkpoint, resume.

``train_policy(PolicyRunConfig(...))`` writes into ``out``:

- ``config.json``: the run's settings (a resumed run must match them);
- ``metrics.jsonl``: one line per iteration (``split: train``) and per held-out evaluation
  (``split: heldout``, at iteration 0, every ``eval_every`` iterations and at the end): reward
  (reward model's P(target)), kl, judge, gap, ppl, distinct_1/2, seconds, algorithm statistics;
- ``checkpoint.pt``: every ``checkpoint_every`` iterations (trainable weights, optimizer and KL
  states, random states; loaded with ``weights_only=True``); a rerun resumes from it and drops
  metric lines past it, so nothing is logged twice;
- ``policy/``: the final policy (merged safetensors + tokenizer; CORY's second agent in
  ``agent2/``), loadable by ``arena generate`` and any HF causal-LM code;
- ``curves.png``: reward, KL and judge per iteration.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from arena.classifier import Classifier
from policies.config import ALGOS, ATTACKER_TEMPLATE, HELDOUT, TASKS, PolicyRunConfig  # noqa: F401 (re-exported)
from policies.cory import CORY
from policies.lm import TASK_FILE, PolicyLM
from policies.ppo import PPO, PPOConfig
from policies.rlgf import RLGF
from policies.tasks import AttackerTask, AttackReward, ClassifierReward, GeneratorTask

ClassifierBuilder = Callable[..., Classifier]  # spec (and device=) -> classifier


def _texts(spec: str, n: int | None, seed: int) -> list[str]:
    from arena.data import load_data

    return [ex.text for ex in load_data(spec, n=n, seed=seed if n else None, sample="first").examples]


def hold_out(items: list, requested: int | None, source: str, kind: str) -> tuple[list, list]:
    """``items`` split into (train, held out): the last ``requested`` held out, or with None the
    last HELDOUT, or half of the items when there are fewer than 2 * HELDOUT."""
    size = max(1, min(HELDOUT, len(items) // 2)) if requested is None else requested
    if len(items) < 2 * size:
        remedy = "lower --heldout" if requested else "give more texts in --data"
        raise ValueError(f"{source}: {len(items)} {kind}, need at least {2 * size} to hold out {size} ({remedy})")
    return items[: len(items) - size], items[len(items) - size :]


def build_task(cfg: PolicyRunConfig, build: ClassifierBuilder | None = None) -> GeneratorTask | AttackerTask:
    """Prompts from ``cfg.data`` (the last ``heldout`` texts held out), reward and judge classifiers
    made from their specs by ``build`` (default :func:`arena.classifier.load_classifier`; the CLI
    passes the registry's builder, which also knows defender names such as ``plain`` and ``fact``)."""
    from arena.classifier import load_classifier

    build = build or load_classifier
    if cfg.task == "attacker":
        return build_attacker_task(cfg, build)
    texts = _texts(cfg.data, cfg.data_n, cfg.split())
    random.Random(cfg.split()).shuffle(texts)
    train, held = hold_out(texts, cfg.heldout, cfg.data, "texts")
    reward = ClassifierReward(build(cfg.reward), cfg.target, cfg.reward_kind)
    judge = ClassifierReward(build(cfg.judge), cfg.target, "prob")
    return GeneratorTask(train, held, reward, judge, min_tokens=cfg.min_tokens, max_tokens=cfg.max_tokens)


def build_attacker_task(cfg: PolicyRunConfig, build: ClassifierBuilder) -> AttackerTask:
    """Labelled texts from ``cfg.data`` that the defender (``cfg.reward``) and the judge both get
    right (a text the judge already misreads scores ~0 whatever the policy appends: no signal);
    the last ``heldout`` of them (after a seeded shuffle) held out."""
    from arena.data import align_labels, load_data
    from arena.similarity import SentenceSimilarity

    defender = build(cfg.reward, device=cfg.device)
    judge = build(cfg.judge, device=cfg.device)
    data = align_labels(
        load_data(cfg.data, n=cfg.data_n, seed=cfg.split() if cfg.data_n else None, sample="first"), defender.labels
    )
    items = [(ex.text, ex.label) for ex in data.examples if ex.text_pair is None]
    if not items:
        raise ValueError(f"{cfg.data}: the attacker task needs single-text examples")
    reward = AttackReward(defender, judge, SentenceSimilarity(device=cfg.device), novelty=cfg.novelty)
    right = reward.both_right([t for t, _ in items], [y for _, y in items])
    items = [item for item, ok in zip(items, right) if ok]
    random.Random(cfg.split()).shuffle(items)
    train, held = hold_out(items, cfg.heldout, cfg.data, "texts both defender and judge classify correctly")
    return AttackerTask(train, held, reward, min_tokens=cfg.min_tokens, max_tokens=cfg.max_tokens)


def build_algorithm(cfg: PolicyRunConfig, task: GeneratorTask | AttackerTask) -> PPO | CORY | RLGF:
    """The algorithm object with fresh policies (LoRA on the starting LM)."""
    config = PPOConfig(**cfg.ppo)
    heads = 2 if cfg.algo == "d2lols" else 1
    policy = PolicyLM.from_pretrained(cfg.policy, lora_r=cfg.lora_r, value_heads=heads, device=cfg.device)
    if cfg.algo == "ppo":
        return PPO(policy, config, task.reward)
    if cfg.algo == "cory":
        torch.manual_seed(cfg.seed + 1)  # the second agent's value head
        agent2 = PolicyLM.from_pretrained(cfg.policy, lora_r=cfg.lora_r, device=cfg.device, name="agent2")
        return CORY(
            policy, agent2, config, task.reward, template=cfg.observer_template(), exchange_every=cfg.exchange_every
        )
    guide = PolicyLM.from_pretrained(cfg.guide, frozen=True, device=cfg.device, name="guide") if cfg.guide else None
    return RLGF(policy, config, task.reward, mode=cfg.algo, beta=cfg.beta, tau=cfg.tau, guide=guide, seed=cfg.seed)


@torch.no_grad()
def evaluate_policy(policy: PolicyLM, task: GeneratorTask | AttackerTask, n: int, length: int) -> dict[str, float]:
    """Held-out metrics: the policy alone on ``n`` fixed held-out prompts, ``length`` tokens each."""
    prompts = task.heldout_prompts(n)
    with torch.random.fork_rng(devices=[]):  # the same draws for every evaluation, training's random stream untouched
        torch.manual_seed(1234)
        batch = policy.sample(prompts, length)
    with torch.no_grad(), policy.evaluating():
        ref_logprobs, _, _ = policy(batch, reference=True)
    return task.metrics(policy.texts(batch), policy.decode(batch.response), ref_logprobs, prompts)


def _trainable_state(policy: PolicyLM) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in policy.named_parameters() if v.requires_grad}


def save_checkpoint(
    path: Path, algorithm: PPO | CORY | RLGF, iteration: int, rng: np.random.Generator, memory: list[str] | None = None
) -> None:
    """Atomically write the resumable state after ``iteration`` iterations (``memory``: the novelty
    bonus's remembered attacks)."""
    state = {
        "iteration": iteration,
        "extra": algorithm.extra_state(),
        "numpy_rng": rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
        "agents": {},
        "memory": list(memory or []),
    }
    for name, (policy, trainer) in algorithm.agents().items():
        state["agents"][name] = {"weights": _trainable_state(policy), "trainer": trainer.state_dict()}
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, algorithm: PPO | CORY | RLGF, rng: np.random.Generator, reward=None) -> int:
    """Restore a checkpoint into a freshly built ``algorithm`` (and the novelty memory into an
    attack ``reward``); returns the iterations done."""
    state = torch.load(path, weights_only=True, map_location="cpu")
    for name, (policy, trainer) in algorithm.agents().items():
        saved = state["agents"][name]
        missing = policy.load_state_dict(saved["weights"], strict=False)
        if missing.unexpected_keys:
            raise ValueError(f"{path}: checkpoint does not fit this policy ({missing.unexpected_keys[:3]} ...)")
        trainer.load_state_dict(saved["trainer"])
    algorithm.load_extra_state(state["extra"])
    rng.bit_generator.state = state["numpy_rng"]
    torch.set_rng_state(state["torch_rng"])
    if hasattr(reward, "memory"):
        reward.memory = list(state.get("memory", []))
    return int(state["iteration"])


def _read_metrics(path: Path, upto: int) -> list[dict]:
    """Metric lines of iterations < ``upto`` (heldout lines at ``upto`` kept when they are the resume point's)."""
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r["iteration"] < upto or (r["split"] == "heldout" and r["iteration"] == upto)]


def plot_curves(rows: list[dict], out: Path, title: str) -> None:
    """reward / KL / judge per iteration (training) with held-out reward marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [r for r in rows if r["split"] == "train"]
    held = [r for r in rows if r["split"] == "heldout"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, key in zip(axes, ("reward", "kl", "judge")):
        ax.plot([r["iteration"] for r in train], [r[key] for r in train], label="train")
        if key != "kl":
            ax.plot([r["iteration"] for r in held], [r[key] for r in held], "o-", label="held-out")
        ax.set_title(key)
        ax.set_xlabel("iteration")
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def train_policy(
    cfg: PolicyRunConfig, *, progress: bool = True, log=print, build: ClassifierBuilder | None = None
) -> dict:
    """Run (or resume) training; returns the summary also written to ``summary.json``. ``build``
    makes the reward and judge classifiers from their specs (see :func:`build_task`)."""
    from tqdm.auto import tqdm

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    config_path, metrics_path, ckpt = out / "config.json", out / "metrics.jsonl", out / "checkpoint.pt"
    torch.manual_seed(cfg.seed)
    task = build_task(cfg, build)
    cfg = replace(cfg, heldout=task.heldout_size)  # the number the default stands for: what config.json records
    if config_path.exists():
        previous = PolicyRunConfig(**{**json.loads(config_path.read_text()), "out": cfg.out}).identity()
        if previous != cfg.identity():
            raise ValueError(f"{out} holds a run with other settings ({config_path}); pick another --out")
    config_path.write_text(json.dumps(asdict(cfg), indent=1))
    rng = np.random.default_rng(cfg.seed)
    algorithm = build_algorithm(cfg, task)
    policy = algorithm.agents()["policy"][0]
    start = load_checkpoint(ckpt, algorithm, rng, task.reward) if ckpt.exists() else 0
    rows = _read_metrics(metrics_path, start)
    if start:
        log(f"resuming {out} after iteration {start}")

    def write(row: dict) -> None:
        rows.append(row)
        with metrics_path.open("a") as f:
            f.write(json.dumps(row) + "\n")

    metrics_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    if not any(r["split"] == "heldout" and r["iteration"] == start for r in rows):
        write(
            {
                "split": "heldout",
                "iteration": start,
                **evaluate_policy(policy, task, cfg.eval_prompts or cfg.heldout, cfg.eval_length),
            }
        )
    bar = tqdm(
        range(start, cfg.iterations), initial=start, total=cfg.iterations, disable=not progress, desc=f"{cfg.algo}"
    )
    for it in bar:
        clock = time.perf_counter()
        prompts = task.prompts(rng, cfg.batch)
        rollout = algorithm.iteration(prompts, task.response_length(rng), it)
        seconds = time.perf_counter() - clock
        row = {
            "split": "train",
            "iteration": it,
            **task.metrics(rollout.texts, rollout.responses, rollout.ref_logprobs, prompts),
            "seconds": seconds,
            **{k: v for k, v in rollout.stats.items() if k not in ("score",)},
        }
        write(row)
        bar.set_postfix(reward=f"{row['reward']:.3f}", kl=f"{row['kl']:.2f}", judge=f"{row['judge']:.3f}")
        done = it + 1
        if done % cfg.eval_every == 0 or done == cfg.iterations:
            write(
                {
                    "split": "heldout",
                    "iteration": done,
                    **evaluate_policy(policy, task, cfg.eval_prompts or cfg.heldout, cfg.eval_length),
                }
            )
        if done % cfg.checkpoint_every == 0 or done == cfg.iterations:
            save_checkpoint(ckpt, algorithm, done, rng, getattr(task.reward, "memory", None))
    for name, (agent, _) in algorithm.agents().items():
        agent.save(out / name)
    plot_curves(
        rows,
        out / "curves.png",
        f"{cfg.algo} on {cfg.policy}, {cfg.task} task (reward {cfg.reward}, judge {cfg.judge})",
    )
    (out / "policy" / TASK_FILE).write_text(
        json.dumps(
            {
                "task": cfg.task,
                "reward": cfg.reward,
                "judge": cfg.judge,
                "target": cfg.target,
                "max_tokens": cfg.max_tokens,
            }
        )
    )
    summary = summarise(rows)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def summarise(rows: list[dict]) -> dict:
    """Untrained vs final held-out metrics, the last training KL, seconds per iteration and in all."""
    held = sorted((r for r in rows if r["split"] == "heldout"), key=lambda r: r["iteration"])
    train = [r for r in rows if r["split"] == "train"]
    keys = [
        k
        for k in ("reward", "success", "judge", "gap", "similarity", "ppl", "distinct_1", "distinct_2")
        if held and k in held[0]
    ]
    tail = train[-5:]
    return {
        "untrained": {k: held[0][k] for k in keys} if held else {},
        "final": {k: held[-1][k] for k in keys} if held else {},
        "iterations": len(train),
        "kl": float(np.mean([r["kl"] for r in tail])) if tail else 0.0,
        "train_reward": float(np.mean([r["reward"] for r in tail])) if tail else None,
        "sec_per_iter": float(np.mean([r["seconds"] for r in train])) if train else None,
        "train_seconds": round(float(sum(r["seconds"] for r in train)), 1),  # over all sittings, evaluations excluded
    }
