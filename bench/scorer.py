"""Texts/s of four ways to score a realistic mix: per-text loop, TextAttack-style padded batches,
a raw length-sorted loop, and arena's Scorer.

The mix: the 1,000 MR sentences and 1,000 IMDB reviews of ``../shared/data/textfooler/{mr,imdb}``
shuffled together (seed 0); every method truncates at the same length (default 512, the model's
maximum, which is what TextAttack's HuggingFaceModelWrapper pads every query to).

    python bench/scorer.py [--classifier default] [--max-length 512] [--json]

With ``--json`` the last line is one JSON object:
``{"texts_per_s": {"per_text", "padded32", "raw_sorted", "scorer"}, "scorer_vs_padded", "scorer_vs_raw", ...}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

from arena.classifier import HFClassifier, load_classifier
from arena.data import load_data
from arena.scorer import Scorer

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "textfooler"


def _forward(clf: HFClassifier, enc) -> np.ndarray:
    inputs = {k: v.to(clf.device) for k, v in enc.items()}
    with torch.inference_mode():
        return torch.softmax(clf.model(**inputs).logits.float(), -1).cpu().numpy()


def per_text(clf: HFClassifier, texts: list[str], length: int) -> np.ndarray:
    """One forward per text, no padding."""
    return np.concatenate(
        [_forward(clf, clf.tokenizer([t], truncation=True, max_length=length, return_tensors="pt")) for t in texts]
    )


def padded32(clf: HFClassifier, texts: list[str], length: int) -> np.ndarray:
    """TextAttack's HF wrapper: batches of 32 in data order, every batch padded to the full length."""
    out = []
    for i in range(0, len(texts), 32):
        enc = clf.tokenizer(
            texts[i : i + 32], truncation=True, max_length=length, padding="max_length", return_tensors="pt"
        )
        out.append(_forward(clf, enc))
    return np.concatenate(out)


def raw_sorted(clf: HFClassifier, texts: list[str], length: int, batch: int = 32) -> np.ndarray:
    """Hand-written baseline: tokenise all, sort by length, batches of 32 padded to their longest."""
    ids = clf.tokenizer(texts, truncation=True, max_length=length)["input_ids"]
    order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
    out = np.zeros((len(texts), len(clf.labels)))
    for start in range(0, len(order), batch):
        part = order[start : start + batch]
        enc = clf.tokenizer.pad({"input_ids": [ids[i] for i in part]}, return_tensors="pt")
        out[part] = _forward(clf, enc)
    return out


def scorer(clf: HFClassifier, texts: list[str], length: int) -> np.ndarray:
    """arena's Scorer (fresh cache, so every text is a miss)."""
    return Scorer(clf).predict_proba(texts)


METHODS = {"per_text": per_text, "padded32": padded32, "raw_sorted": raw_sorted, "scorer": scorer}


def main() -> int:
    """Command-line entry point: the options, the run and the table this module's docstring describes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classifier", default="default")
    parser.add_argument("--data-dir", default=str(SHARED), help="folder holding TextFooler's mr and imdb files")
    parser.add_argument("--per-source", type=int, default=1000, help="texts taken from each of mr and imdb")
    parser.add_argument("--max-length", type=int, default=512, help="truncation length shared by every method")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the raw loops tokenise >512-token reviews before truncating
    texts = []
    for name in ("mr", "imdb"):
        path = Path(args.data_dir) / name
        if not path.exists():
            print(f"missing {path}: pass --data-dir", file=sys.stderr)
            return 2
        texts += [ex.text for ex in load_data(str(path), n=args.per_source, sample="first")]
    random.Random(0).shuffle(texts)
    clf = load_classifier(args.classifier, max_length=args.max_length)
    assert isinstance(clf, HFClassifier), "the bench needs an HF-backed classifier"
    clf.tokenizer.model_max_length = 10**6  # the raw loops truncate explicitly
    _ = scorer(clf, texts[:8], args.max_length)  # warm-up (threads, allocator)

    rates, outputs, seconds = {}, {}, {}
    for name in args.methods.split(","):
        start = time.perf_counter()
        outputs[name] = METHODS[name](clf, texts, args.max_length)
        seconds[name] = time.perf_counter() - start
        rates[name] = len(texts) / seconds[name]
        print(f"  {name:<11s} {seconds[name]:8.1f} s  {rates[name]:8.1f} texts/s", file=sys.stderr, flush=True)
    reference = outputs.get("per_text", next(iter(outputs.values())))
    max_diff = {k: float(np.abs(v - reference).max()) for k, v in outputs.items()}

    print(
        f"\nScorer bench: {len(texts)} texts (mr + imdb, shuffled), truncation {args.max_length}, "
        f"{clf.device} ({torch.get_num_threads()} threads)"
    )
    print("| method     | seconds | texts/s | x padded32 | max |p - p_per_text| |")
    print("|------------|--------:|--------:|-----------:|------------------:|")
    for name, rate in rates.items():
        ratio = rate / rates["padded32"] if "padded32" in rates else float("nan")
        print(f"| {name:<10s} | {seconds[name]:7.1f} | {rate:7.1f} | {ratio:10.2f} | {max_diff[name]:17.2e} |")
    result = {
        "texts_per_s": {k: round(v, 2) for k, v in rates.items()},
        "scorer_vs_padded": round(rates["scorer"] / rates["padded32"], 3)
        if {"scorer", "padded32"} <= rates.keys()
        else None,
        "scorer_vs_raw": round(rates["scorer"] / rates["raw_sorted"], 3)
        if {"scorer", "raw_sorted"} <= rates.keys()
        else None,
        "n_texts": len(texts),
        "max_length": args.max_length,
        "device": str(clf.device),
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }
    print(f"scorer vs padded32: {result['scorer_vs_padded']}x   scorer vs raw_sorted: {result['scorer_vs_raw']}x")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
