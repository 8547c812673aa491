"""RL fine-tuning table: PPO, CORY, PPO++, AggreVaTeD, D2LOLS, the SFT guide and the untrained policy.

Same policy LM (default ``smollm2``, LoRA r=16), reward (the ``default`` classifier's positive
class, log-odds fed to PPO), judge (VADER), iteration budget and seeds for every algorithm.

Training prompts are the first 2-8 words of ``../shared/data/textfooler/imdb`` reviews; one fixed
split (``split_seed`` 0) holds out the same ``--heldout`` reviews (default 256) for every algorithm
and seed, and no run trains on them. The RLGF rows use a real guide: the policy LM fine-tuned
(``policies.sft``, LoRA, seed 0) on ``--guide-n`` positive SST-2 training sentences, one guide
shared by every seed like the reward model; the guide itself is a row (``sft``, its seeds are
sampling seeds).

Evaluation protocol: every row (algorithm x seed) samples ``--samples`` responses of
``--eval-length`` tokens for each of the held-out prompts (:mod:`policies.evaluation`, sampling
seed = run seed); the untrained policy is evaluated the same way at each seed. Per row:

- ``reward``: the reward model's P(positive); ``judge``: VADER's P(positive); ``gap`` = reward - judge;
- ``kl``: the learner's KL to the starting LM on its own samples (exact per token, summed over the
  response), the same estimate for every algorithm;
- ``ppl``: perplexity of the responses under the starting LM;
- ``lift``: reward minus the untrained policy's on the same prompts (same seed), a paired difference;
- every figure with a 95 % interval (bootstrap over seeds, then prompts: ``*_ci``);
- ``sec_per_iter``: wall seconds per training iteration.

    python bench/rl_table.py [--algos ppo,cory,...] [--seeds 0,1,2] [--iterations 20] [--json]
    python bench/rl_table.py --from-results [--json]

Each run (training and its evaluation) is written under ``--runs`` and resumes there, so several
processes (``--algos`` subsets) can share the work; after each run the table is rebuilt from all
finished runs into ``bench/results/rl.json`` (per-prompt figures included), ``rl.md`` and
``rl_curves.png``. With ``--json`` the last line is ``{"untrained": {...}, "sft": {...}, "ppo":
{"seeds", "reward", "reward_ci", "lift", "lift_ci", "kl", "kl_ci", "judge", ...}, ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from policies.train import ALGOS  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results"
RLGF = ("ppo++", "aggrevated", "d2lols")
ROWS = ("untrained", "sft") + ALGOS
EXAMPLES = 3  # responses per row shown in rl.md


def run_config(args, algo: str, seed: int):
    """The shared settings of every bench run."""
    from policies.train import PolicyRunConfig

    return PolicyRunConfig(
        out=str(Path(args.runs) / f"{algo}_s{seed}"),
        algo=algo,
        policy=args.policy,
        data=args.data,
        heldout=args.heldout,
        split_seed=0,
        iterations=args.iterations,
        batch=args.batch,
        seed=seed,
        min_tokens=4,
        max_tokens=args.max_tokens,
        eval_every=args.iterations,  # held-out reward at the start and the end; the table's is the bench's own
        checkpoint_every=3,
        eval_prompts=64,  # the curves' held-out reward during training; the table uses all held-out prompts
        tau=round(0.4 * args.iterations),  # D2LOLS: the authors' 20 of 50
        guide=str(guide_folder(args)) if algo in RLGF else None,
        ppo={"learning_rate": args.lr, "init_kl_coef": args.kl_coef, "mini_batch_size": 8, "score_norm": "normalize"},
    )


def guide_folder(args) -> Path:
    """Where the SFT guide lives."""
    return Path(args.runs) / "guide"


def train_guide(args, seed: int = 0) -> Path:
    """Fine-tune (or resume) the guide on positive SST-2 training sentences."""
    import random

    from arena.data import load_data
    from policies.lm import POLICY_FILE
    from policies.sft import SFTConfig, train_sft

    folder = guide_folder(args)
    if not (folder / POLICY_FILE).exists():
        data = load_data(str(SHARED / "sst2" / "train.tsv"))
        texts = [ex.text for ex in data if ex.label == 1]
        texts = [texts[i] for i in sorted(random.Random(seed).sample(range(len(texts)), args.guide_n))]
        train_sft(texts, folder, SFTConfig(policy=args.policy, seed=seed), progress=not args.json)
    return folder


def evaluate(args, row: str, folder: Path | None, seed: int, reference, task, prompts: list[str]) -> dict:
    """Held-out figures of the policy in ``folder`` (None: the untrained policy) at sampling seed
    ``seed``, cached as ``evals/ROW_sSEED.json`` under ``--runs``."""
    from policies.evaluation import heldout_scores
    from policies.lm import PolicyLM

    path = Path(args.runs) / "evals" / f"{row}_s{seed}.json"
    settings = {"samples": args.samples, "length": args.eval_length, "seed": seed, "prompts": len(prompts)}
    if path.exists():
        saved = json.loads(path.read_text())
        if saved["settings"] == settings:
            return saved
    policy = reference if folder is None else PolicyLM.load(folder)
    scores = heldout_scores(
        policy,
        reference,
        task,
        prompts,
        samples=args.samples,
        length=args.eval_length,
        seed=seed,
        progress=not args.json,
    )
    result = {
        "settings": settings,
        **{k: v.tolist() for k, v in scores.items() if k != "responses"},
        "examples": [[p, r] for p, r in zip(prompts[:EXAMPLES], scores["responses"][:EXAMPLES, 0].tolist())],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, result)
    return result


def _write(path: Path, obj) -> None:
    """Atomic JSON write (several bench processes may rebuild the same file)."""
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def curves(run_dir: Path) -> dict[str, list]:
    """Held-out reward and training KL per iteration of one run."""
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    return {
        "heldout": [[r["iteration"], r["reward"]] for r in rows if r["split"] == "heldout"],
        "kl": [[r["iteration"], r["kl"]] for r in rows if r["split"] == "train"],
    }


def collect(runs: Path) -> dict:
    """Every finished evaluation under ``runs``: ``{row: {seed: eval}}`` plus training summaries and curves."""
    evals: dict[str, dict] = {}
    training: dict[str, dict] = {}
    for path in sorted((runs / "evals").glob("*_s*.json")):
        row, seed = path.stem.rsplit("_s", 1)
        evals.setdefault(row, {})[seed] = json.loads(path.read_text())
        run = runs / path.stem
        if (run / "summary.json").exists():
            summary = json.loads((run / "summary.json").read_text())
            training.setdefault(row, {})[seed] = {
                "sec_per_iter": summary["sec_per_iter"],
                "train_seconds": summary["train_seconds"],
                "curves": curves(run),
            }
    return {"evals": evals, "training": training}


def table(collected: dict) -> dict:
    """One row per policy: means with 95 % intervals over seeds and prompts, lift paired with the untrained policy."""
    from arena.metrics import seed_item_interval

    evals, out = collected["evals"], {}
    base = evals.get("untrained", {})
    for row in ROWS:
        runs = evals.get(row, {})
        if not runs:
            continue
        seeds = sorted(runs)
        stack = {k: np.array([runs[s][k] for s in seeds]) for k in ("reward", "judge", "kl", "nll")}
        stack["gap"] = stack["reward"] - stack["judge"]
        record: dict = {"seeds": len(seeds)}
        for key in ("reward", "judge", "gap", "kl"):
            ci = seed_item_interval(stack[key])
            record[key], record[f"{key}_ci"] = round(ci["mean"], 4), [round(ci["low"], 4), round(ci["high"], 4)]
        nll = seed_item_interval(stack["nll"])
        record["ppl"], record["ppl_ci"] = (
            round(float(np.exp(stack["nll"].mean())), 2),
            [round(float(np.exp(nll["low"])), 2), round(float(np.exp(nll["high"])), 2)],
        )
        paired = [s for s in seeds if s in base]
        if paired:
            lift = seed_item_interval(
                np.array([runs[s]["reward"] for s in paired]) - np.array([base[s]["reward"] for s in paired])
            )
            record["lift"], record["lift_ci"] = round(lift["mean"], 4), [round(lift["low"], 4), round(lift["high"], 4)]
        timing = collected["training"].get(row, {})
        if timing:
            record["sec_per_iter"] = round(float(np.mean([t["sec_per_iter"] for t in timing.values()])), 2)
        out[row] = record
    return out


def render(summary: dict, settings: dict) -> str:
    """Markdown table."""
    cell = lambda r, k, f: "-" if k not in r else f"{r[k]:{f}} ({r[k + '_ci'][0]:{f}}–{r[k + '_ci'][1]:{f}})"  # noqa: E731
    lines = [
        f"policy {settings.get('policy')}, {settings.get('iterations')} iterations "
        f"x batch {settings.get('batch')}, "
        f"training responses 4-{settings.get('max_tokens')} tokens; "
        "reward `default` P(positive) (log-odds to PPO), judge VADER. "
        f"Held out: the same {settings.get('heldout')} IMDB prompts for every row, "
        f"{settings.get('samples')} samples of "
        f"{settings.get('eval_length')} tokens each; mean (95 % CI, bootstrap over seeds then prompts).",
        "",
        "| policy | seeds | reward | lift over untrained | KL | judge | gap | ppl | s/iter |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in summary.items():
        cells = [
            r["seeds"],
            cell(r, "reward", ".3f"),
            cell(r, "lift", "+.3f"),
            cell(r, "kl", ".2f"),
            cell(r, "judge", ".3f"),
            cell(r, "gap", "+.3f"),
            cell(r, "ppl", ".1f"),
            r.get("sec_per_iter", "-"),
        ]
        lines.append(f"| {name} | " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def examples(collected: dict) -> str:
    """A few held-out responses per row (seed 0, first sample)."""
    lines = ["| policy | prompt | response |", "|---|---|---|"]
    for row in ROWS:
        seed0 = collected["evals"].get(row, {}).get("0")
        for prompt, response in (seed0 or {}).get("examples", []):
            lines.append(f"| {row} | {prompt} | {response.replace('|', '/').strip()} |")
    return "\n".join(lines) + "\n"


def plot(training: dict, path: Path) -> None:
    """Held-out reward (one sample per prompt, during training) and training KL per iteration, mean over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    for algo, runs in training.items():
        for key, ax in (("heldout", ax1), ("kl", ax2)):
            series = [dict((i, v) for i, v in run["curves"][key]) for run in runs.values()]
            steps = sorted(set.intersection(*(set(s) for s in series))) if series else []
            ax.plot(
                steps,
                [np.mean([s[i] for s in series]) for i in steps],
                label=algo,
                marker="o" if key == "heldout" else None,
            )
    ax1.set_title("held-out reward during training (P positive)")
    ax2.set_title("training-loss KL (as each algorithm logs it)")
    for ax in (ax1, ax2):
        ax.set_xlabel("iteration")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def publish(args, settings: dict) -> dict:
    """Rebuild rl.json / rl.md / rl_curves.png from every finished run."""
    collected = collect(Path(args.runs))
    summary = table(collected)
    RESULTS.mkdir(parents=True, exist_ok=True)
    _write(RESULTS / "rl.json", {"settings": settings, "table": summary, **collected})
    (RESULTS / "rl.md").write_text(
        "# RL fine-tuning table (`python bench/rl_table.py`)\n\n"
        + render(summary, settings)
        + "\n## Held-out responses (seed 0, first sample)\n\n"
        + examples(collected)
    )
    if collected["training"]:
        plot(collected["training"], RESULTS / "rl_curves.png")
    return summary


def main() -> int:
    """Command-line entry point: the options, the runs and the table this module's docstring describes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--algos",
        default=",".join(("untrained", "sft") + ALGOS),
        help="rows to run (untrained, sft and the algorithms)",
    )
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=10)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--kl-coef", type=float, default=0.05)
    parser.add_argument(
        "--heldout", type=int, default=256, help="IMDB reviews held out as evaluation prompts (the same for every run)"
    )
    parser.add_argument("--samples", type=int, default=4, help="responses per held-out prompt")
    parser.add_argument("--eval-length", type=int, default=8, help="tokens per held-out response")
    parser.add_argument(
        "--guide-n", type=int, default=2000, help="positive SST-2 training sentences the SFT guide learns"
    )
    parser.add_argument("--policy", default="smollm2")
    parser.add_argument("--data", default=str(SHARED / "textfooler" / "imdb"))
    parser.add_argument(
        "--runs", default=str(ROOT / "runs" / "rl_bench"), help="folder of the per-run outputs (resumable)"
    )
    parser.add_argument("--threads", type=int, help="torch threads of this process (when several share the cores)")
    parser.add_argument("--from-results", action="store_true", help="reprint from bench/results/rl.json")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.from_results:
        results = json.loads((RESULTS / "rl.json").read_text())
        summary, settings = results["table"], results["settings"]
    else:
        rows = [a for a in args.algos.split(",") if a]
        if not set(rows) <= set(ROWS):
            parser.error(f"--algos: choose from {', '.join(ROWS)}")
        import torch

        from policies.lm import PolicyLM
        from policies.train import build_task, train_policy

        if args.threads:
            torch.set_num_threads(args.threads)
        settings = {
            k: getattr(args, k)
            for k in (
                "policy",
                "iterations",
                "batch",
                "max_tokens",
                "lr",
                "kl_coef",
                "heldout",
                "samples",
                "eval_length",
                "guide_n",
            )
        } | {"data": Path(args.data).name, "lora_r": 16, "reward_kind": "logit", "split_seed": 0}
        task = build_task(run_config(args, "ppo", 0))
        prompts = task.heldout_prompts(args.heldout)
        reference = PolicyLM.from_pretrained(args.policy, lora_r=0, frozen=True)
        for row in rows:
            for seed in (int(s) for s in args.seeds.split(",") if s):
                if row == "untrained":
                    folder = None
                elif row == "sft":
                    folder = train_guide(args)
                else:
                    if row in RLGF:
                        train_guide(args)
                    cfg = run_config(args, row, seed)
                    train_policy(cfg, progress=not args.json)
                    folder = Path(cfg.out) / "policy"
                evaluate(args, row, folder, seed, reference, task, prompts)
                summary = publish(args, settings)
    print(render(summary, settings))
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
