"""arena's native TextFooler against TextAttack's TextFooler recipe: same classifier, data and pieces.

Same classifier (``default``, truncation 256 tokens everywhere; on a GPU arena's Scorer autocasts
to bf16 unless ``--precision fp32``, TextAttack's wrapper runs fp32), same examples (the first 200 of
``../shared/data/textfooler/mr`` and the first 100 of ``.../imdb``), same synonym table, same
MiniLM similarity model and threshold, same POS tagger. Three runs per data set:

- ``arena``: :class:`attackers.textfooler.TextFooler` through an arena Scorer (batched across
  examples, cached);
- ``textattack``: TextAttack as its users run it: its ``HuggingFaceModelWrapper`` over the same
  HF model (every query padded to the maximum length) under
  :func:`attackers.textattack_adapter.build_recipe` ``("textfooler")``: TextAttack's search,
  goal function and constraints with the local synonym, POS and SBERT pieces, one example at a
  time;
- ``textattack_dynamic``: the same recipe behind arena's dynamic-padding wrapper (Scorer cache
  off; TextAttack's goal function keeps its own cache).

Each run is timed from building the attack to its last result (classifier loading excluded);
``examples_per_second`` is examples / those seconds. Queries: arena counts distinct model
inputs per example, TextAttack counts every input its goal function scores.

    python bench/textfooler_vs_textattack.py [--mr 200] [--imdb 100] [--synonyms SPEC] [--json]
    python bench/textfooler_vs_textattack.py --from-results [--json]

With ``--json`` the last line is one JSON object: ``{"arena", "textattack", "textattack_dynamic"}``
(summaries over all examples pooled), ``"speedup"`` (arena / textattack examples per second),
``"speedup_dynamic"``, ``"asr_diff"`` (arena - textattack attack success rate, percentage points)
and ``"per_dataset"`` with the same per data set. ``--out`` keeps that object in a file.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from pathlib import Path

import torch

from arena.classifier import HFClassifier, load_classifier
from arena.data import align_labels, load_data
from arena.metrics import attack_summary
from arena.resources import PRECISIONS
from arena.scorer import Scorer
from arena.store import ExampleResult
from arena.zoo import AttackOptions, build_attacker
from attackers.textfooler import DEFAULT_SIM_THRESHOLD

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results" / "textfooler_vs_textattack.json"
METHODS = ("arena", "textattack", "textattack_dynamic")
MAX_LENGTH = 256
COLUMNS = (
    "n",
    "succeeded",
    "failed",
    "skipped",
    "clean_accuracy",
    "accuracy_under_attack",
    "attack_success_rate",
    "avg_perturbed_words_pct",
    "avg_queries",
    "avg_similarity",
    "examples_per_second",
    "seconds",
)


def run_method(
    method: str, clf: HFClassifier, items: list, options: AttackOptions
) -> tuple[list[ExampleResult], float, float]:
    """Attack ``items`` one way; returns the results, seconds to build the attack, seconds in all."""
    start = time.perf_counter()
    if method == "arena":
        attacker = build_attacker("textfooler", options)
        setup = time.perf_counter() - start
        results = list(attacker.attack(items, Scorer(clf)))
        return results, setup, time.perf_counter() - start
    from textattack.models.wrappers import HuggingFaceModelWrapper

    from attackers.textattack_adapter import (
        TextAttackRecipe,
        build_recipe,
        to_textattack,
    )  # first: prepares TextAttack offline

    if method == "textattack":
        tokenizer = copy.deepcopy(clf.tokenizer)
        tokenizer.model_max_length = MAX_LENGTH  # the wrapper pads and truncates every query to this
        wrapper = HuggingFaceModelWrapper(clf.model, tokenizer)
    else:
        wrapper = to_textattack(Scorer(clf, cache_size=0))
    recipe = TextAttackRecipe("textfooler", options)
    attack = build_recipe("textfooler", wrapper, options)
    _ = recipe.similarity  # loaded here, as the arena attacker loads its own
    setup = time.perf_counter() - start
    results = list(recipe.run(attack, items))
    return results, setup, time.perf_counter() - start


def summarise(results: list[ExampleResult], seconds: float, setup: float) -> dict:
    """``attack_summary`` with examples per second over the whole run's wall time."""
    summary = attack_summary(results)
    summary["examples_per_second"] = round(len(results) / seconds, 4) if seconds > 0 else None
    summary["seconds"] = round(seconds, 2)
    summary["setup_seconds"] = round(setup, 2)
    return summary


def comparisons(block: dict) -> dict:
    """Speed ratios and success-rate difference of one block of method summaries."""

    def ratio(other: str) -> float | None:
        if "arena" not in block or other not in block:
            return None
        a, b = block["arena"]["examples_per_second"], block[other]["examples_per_second"]
        return round(a / b, 3) if a and b else None

    reference = block.get("textattack") or block.get("textattack_dynamic")
    a = block["arena"]["attack_success_rate"] if "arena" in block else None
    b = reference["attack_success_rate"] if reference else None
    return {
        "speedup": ratio("textattack"),
        "speedup_dynamic": ratio("textattack_dynamic"),
        "asr_diff": round(100 * (a - b), 2) if a is not None and b is not None else None,
    }


def print_table(title: str, block: dict) -> None:
    """One markdown table: a row per method."""
    print(f"\n### {title}\n")
    print("| method | " + " | ".join(COLUMNS) + " |")
    print("|---|" + "---:|" * len(COLUMNS))
    for method in (m for m in METHODS if m in block):
        row = block[method]
        print(f"| {method} | " + " | ".join("-" if row.get(k) is None else str(row[k]) for k in COLUMNS) + " |")
    c = comparisons(block)
    print(
        f"\narena vs textattack: {c['speedup']}x faster, vs textattack_dynamic: {c['speedup_dynamic']}x; "
        f"ASR arena - textattack: {c['asr_diff']} points"
    )


def report(result: dict, as_json: bool) -> None:
    """Print the tables (per data set, then pooled) and, with ``as_json``, the JSON line."""
    config = result["config"]
    print(
        f"TextFooler: arena vs TextAttack; classifier {config['classifier']}, max_length {config['max_length']}, "
        f"{config['device']} ({config['threads']} threads), synonyms {config['synonyms']}"
    )
    for name, block in result["per_dataset"].items():
        print_table(f"{name} (first {next(block[m]['n'] for m in METHODS if m in block)})", block)
    print_table("overall", result)
    if as_json:
        print(json.dumps(result))


def main() -> int:
    """Command-line entry point: the options, the run and the table this module's docstring describes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mr", type=int, default=200, help="first N examples of mr")
    parser.add_argument("--imdb", type=int, default=100, help="first N examples of imdb")
    parser.add_argument(
        "--data-dir", default=str(SHARED / "textfooler"), help="folder holding TextFooler's mr and imdb files"
    )
    parser.add_argument("--synonyms", default=f"neighbors:{SHARED / 'synonyms' / 'counterfitted_neighbors.json'}")
    parser.add_argument(
        "--importance",
        default="oov",
        choices=("oov", "delete"),
        help="arena's word importance (TextAttack's is delete)",
    )
    parser.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
        help="arena's classifier precision (auto: fp32 on CPU, bf16/fp16 on GPU); "
        "TextAttack's wrapper always runs fp32",
    )
    parser.add_argument("--out", default=str(RESULTS), help="where the JSON object is written")
    parser.add_argument("--from-results", action="store_true", help="reprint the tables from --out without running")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ", ".join(METHODS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    if not set(methods) <= set(METHODS):
        parser.error(f"--methods: choose from {', '.join(METHODS)}")

    if args.from_results:
        report(json.loads(Path(args.out).read_text()), args.json)
        return 0
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # HF tokenisers warn about >512-token reviews before truncating
    clf = load_classifier("default", max_length=MAX_LENGTH, precision=args.precision)
    assert isinstance(clf, HFClassifier), "the bench needs an HF-backed classifier"
    options = AttackOptions(synonyms=args.synonyms, importance=args.importance)
    clf.predict_proba(["warm-up", "threads and allocator"])

    pooled: dict[str, list[ExampleResult]] = {m: [] for m in methods}
    seconds: dict[str, float] = {m: 0.0 for m in methods}
    setup: dict[str, float] = {m: 0.0 for m in methods}
    per_dataset: dict[str, dict] = {}
    for name, n in (("mr", args.mr), ("imdb", args.imdb)):
        if n <= 0:
            continue
        path = Path(args.data_dir) / name
        if not path.exists():
            print(f"missing {path}: pass --data-dir", file=sys.stderr)
            return 2
        items = list(enumerate(align_labels(load_data(str(path), n=n, sample="first"), clf.labels).examples))
        block = {}
        for method in methods:
            results, built, total = run_method(method, clf, items, options)
            print(
                f"  {name:<5s} {method:<19s} {len(results)} examples in {total:8.1f} s (setup {built:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
            block[method] = summarise(results, total, built)
            pooled[method] += results
            seconds[method] += total
            setup[method] += built
        per_dataset[name] = {**block, **comparisons(block)}

    overall = {m: summarise(pooled[m], seconds[m], setup[m]) for m in methods}
    result = {
        **overall,
        **comparisons(overall),
        "per_dataset": per_dataset,
        "config": {
            "classifier": "default",
            "max_length": MAX_LENGTH,
            "mr": args.mr,
            "imdb": args.imdb,
            "synonyms": args.synonyms,
            "importance": args.importance,
            "precision": args.precision,
            "sim_threshold": DEFAULT_SIM_THRESHOLD,
            "pos": options.pos,
            "device": str(clf.device),
            "threads": torch.get_num_threads(),
            "machine": platform.machine(),
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    report(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
