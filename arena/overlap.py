"""Train/test overlap: which evaluation examples a model may have seen in training.

An evaluation text is **exact** when, lower-cased and reduced to its letters and digits, it equals
a training text reduced the same way; it is a **span** overlap when it shares a run of ``ngram``
words (lower-cased letters and digits) with a training text. The rest are **clean**. An example
with a pair (NLI) overlaps when either of its segments does. ``textfooler/mr_unseen`` in the
project's benchmark data is the clean part of ``textfooler/mr`` against ``sst2/train.tsv`` by this
rule with 8-word spans.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from arena.data import Example, LabelledData

DEFAULT_NGRAM = 8
_WORD = re.compile(r"[a-z0-9]+")


def squeeze(text: str) -> str:
    """The text lower-cased with everything but letters and digits dropped (the exact-match key)."""
    return "".join(_WORD.findall(text.lower()))


def spans(text: str, n: int) -> set[tuple[str, ...]]:
    """Every run of ``n`` words (lower-cased letters and digits) in the text."""
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def segments(ex: Example) -> list[str]:
    """The texts of an example: the text, and the pair's second segment when there is one."""
    return [ex.text] if ex.text_pair is None else [ex.text, ex.text_pair]


@dataclass
class TrainingIndex:
    """The exact keys and ``ngram``-word spans of a training set."""

    exact: set[str]
    spans: set[tuple[str, ...]]
    ngram: int = DEFAULT_NGRAM

    @classmethod
    def of(cls, data: LabelledData, ngram: int = DEFAULT_NGRAM) -> TrainingIndex:
        """Index every text (and pair segment) of ``data``."""
        if ngram < 1:
            raise ValueError(f"--ngram must be at least 1, got {ngram}")
        exact: set[str] = set()
        found: set[tuple[str, ...]] = set()
        for ex in data:
            for text in segments(ex):
                exact.add(squeeze(text))
                found |= spans(text, ngram)
        exact.discard("")
        return cls(exact, found, ngram)

    def kind(self, ex: Example) -> str:
        """``exact``, ``span`` or ``clean`` for one evaluation example."""
        texts = segments(ex)
        if any(squeeze(text) in self.exact for text in texts):
            return "exact"
        if any(spans(text, self.ngram) & self.spans for text in texts):
            return "span"
        return "clean"


@dataclass
class OverlapReport:
    """How an evaluation set overlaps a training set, and which of its examples are clean."""

    n: int
    exact: int
    span: int
    clean: int
    ngram: int
    clean_examples: list[Example] = field(repr=False, default_factory=list)

    def summary(self) -> dict:
        """The counts as a JSON-ready dict."""
        return {"n": self.n, "exact": self.exact, "span": self.span, "clean": self.clean, "ngram": self.ngram}


def overlap(train: LabelledData, data: LabelledData, ngram: int = DEFAULT_NGRAM) -> OverlapReport:
    """Count the examples of ``data`` that appear in ``train`` exactly or by an ``ngram``-word span."""
    index = TrainingIndex.of(train, ngram)
    kinds = [index.kind(ex) for ex in data]
    clean = [ex for ex, kind in zip(data, kinds) if kind == "clean"]
    return OverlapReport(len(kinds), kinds.count("exact"), kinds.count("span"), len(clean), ngram, clean)


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes (what a classifier folder records of its training file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _line_number(ex: Example) -> int:
    return int(ex.id.rpartition(":")[2])


def write_subset(data: LabelledData, keep: list[Example], out: str | Path) -> str:
    """Write the examples ``keep`` of ``data`` to ``out`` in the format of the file ``data`` was read
    from: its lines as they are for TextFooler and JSONL files, its header and rows for CSV/TSV.
    Other sources (folders, hub sets) are written as JSONL (``text``, ``label``, ``text_pair``).
    Returns the format written."""
    path = Path(data.source).expanduser()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file():
        with open(out, "w", encoding="utf-8") as handle:
            for ex in keep:
                row = {
                    "text": ex.text,
                    "label": ex.label,
                    **({"text_pair": ex.text_pair} if ex.text_pair is not None else {}),
                }
                handle.write(json.dumps(row) + "\n")
        return "jsonl"
    numbers = {_line_number(ex) for ex in keep}
    suffix = path.suffix.lower()
    if suffix in (
        ".csv",
        ".tsv",
    ):  # rows numbered as arena.data.read_delimited numbers them: blank rows dropped, header 1
        delimiter, quoting = (",", csv.QUOTE_MINIMAL) if suffix == ".csv" else ("\t", csv.QUOTE_NONE)
        with open(path, encoding="utf-8", newline="") as handle:
            rows = [r for r in csv.reader(handle, delimiter=delimiter, quoting=quoting) if any(c.strip() for c in r)]
        header = all(_line_number(ex) > 1 for ex in data)
        with open(out, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter=delimiter, quoting=quoting, lineterminator="\n")
            writer.writerows(row for number, row in enumerate(rows, 1) if number in numbers or (header and number == 1))
        return suffix[1:]
    with open(path, encoding="utf-8") as lines, open(out, "w", encoding="utf-8") as handle:
        handle.writelines(
            line if line.endswith("\n") else line + "\n" for number, line in enumerate(lines, 1) if number in numbers
        )
    return "jsonl" if suffix in (".jsonl", ".json") else "textfooler"


def training_file(folder: str | Path) -> Path | None:
    """The training file a classifier folder records (``arena_classifier.json``'s ``data``), when it
    is here and, where the folder records its sha256, is that same file."""
    meta_file = Path(folder) / "arena_classifier.json"
    if not meta_file.is_file():
        return None
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    path = Path(str(meta.get("data", ""))).expanduser()
    if not meta.get("data") or not path.is_file():
        return None
    return path if meta.get("data_sha256") in (None, file_sha256(path)) else None
