"""Labelled examples and the loaders that read them.

A data spec is one string:

- ``builtin``: the project's own balanced movie-review sentences (offline default);
- ``hf:NAME[:CONFIG][:SPLIT]``: a Hugging Face dataset (needs internet or a local cache);
- a ``.csv`` / ``.tsv`` / ``.jsonl`` file (column options; header auto-detected);
- an aclImdb-style folder (``pos/`` and ``neg/`` of ``*.txt``, or a root holding ``test/``);
- any other file in the TextFooler format: ``LABEL TEXT`` per line, or
  ``LABEL<TAB>PREMISE<TAB>HYPOTHESIS`` for NLI with word or number labels.

Bad rows, unknown labels and missing columns raise :class:`DataError` naming the
file, the line and the problem.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

from arena.resources import BUILTIN_REVIEWS

NLI_LABELS = ("contradiction", "entailment", "neutral")  # TextFooler's numeric order
TEXT_COLUMNS = ("text", "sentence", "review", "content", "premise", "sentence1", "question")
PAIR_COLUMNS = ("hypothesis", "sentence2", "text_pair")
LABEL_COLUMNS = ("label", "labels", "class", "sentiment", "gold_label")
SPLIT_NAMES = ("train", "test", "validation", "dev", "valid", "unsupervised")
SAMPLES = ("balanced", "first")  # how --n picks its examples (``select``)
DEFAULT_SAMPLE = "balanced"
DEFAULT_MAX_WORDS = 5_000  # the longest text an attack takes by default (--max-words)
MAX_LABEL_ID = (
    10_000  # a numeric label above this is refused: ids name classes, and each id up to the largest gets a name
)
_csv_field_limit_raised = False


class DataError(ValueError):
    """A data file or spec cannot be read; the message names where and why."""


@dataclass(frozen=True)
class Example:
    """One labelled input. For pairs (NLI) attackers perturb only ``text_pair``."""

    text: str
    label: int
    text_pair: str | None = None
    id: str = ""

    @property
    def input(self) -> str | tuple[str, str]:
        """What a classifier receives: the text, or the (premise, hypothesis) pair."""
        return self.text if self.text_pair is None else (self.text, self.text_pair)

    @property
    def segment(self) -> str:
        """What attackers perturb: the text, or the hypothesis of a pair."""
        return self.text if self.text_pair is None else self.text_pair


@dataclass
class LabelledData:
    """Examples plus the names of their label ids (index = label id)."""

    examples: list[Example]
    label_names: list[str]
    source: str
    fingerprint: str = field(default="")
    declared: bool = False  # the names and their order were given by the user (--labels), not read from the data

    def __post_init__(self) -> None:
        ids = [ex.id for ex in self.examples]
        if len(set(ids)) != len(ids):
            raise DataError(f"{self.source}: example ids are not unique")
        if not self.fingerprint:
            digest = hashlib.sha1()
            for ex in self.examples:
                digest.update(f"{ex.id}\x1f{ex.label}\x1f{ex.text}\x1f{ex.text_pair}\x1e".encode())
            self.fingerprint = digest.hexdigest()[:16]

    def __len__(self) -> int:
        return len(self.examples)

    def __iter__(self):
        return iter(self.examples)


LABEL_ALIASES = {"neg": "negative", "pos": "positive", "label_0": "0", "label_1": "1", "label_2": "2"}


def _canonical(name: str) -> str:
    lowered = name.strip().lower()
    return LABEL_ALIASES.get(lowered, lowered)


def align_labels(data: LabelledData, classifier_labels: Sequence[str]) -> LabelledData:
    """Re-index ``data``'s labels to a classifier's label order.

    Labels pair by name when both sides have names (case-insensitively: ``pos`` = ``positive``,
    ``LABEL_1`` = ``1``), and by id when the data's labels are numbers: a number is the index of
    the classifier's class. Names in the data against a classifier that has none pair by position
    only when the user declared the data's order (``--labels``); any other pairing is refused with
    a message naming both sides, never guessed.
    """
    ours = [_canonical(n) for n in data.label_names]
    theirs = [_canonical(n) for n in classifier_labels]
    if ours == theirs:
        return data
    numeric = lambda names: all(n.isdigit() for n in names)  # noqa: E731
    if not numeric(ours) and not numeric(theirs) and set(ours) <= set(theirs):
        mapping = [theirs.index(n) for n in ours]
        examples = [Example(ex.text, mapping[ex.label], ex.text_pair, ex.id) for ex in data.examples]
        return LabelledData(examples, list(classifier_labels), data.source)
    used = {ex.label for ex in data.examples}
    if (numeric(ours) or (data.declared and numeric(theirs))) and max(used, default=0) < len(theirs):
        return LabelledData(list(data.examples), list(classifier_labels), data.source, data.fingerprint)
    if numeric(ours):
        problem = f"label ids up to {max(used)} for a classifier with {len(theirs)} classes"
    elif numeric(theirs):
        problem = (
            f"the data's labels are names {data.label_names} and the classifier's outputs are not named "
            f"({len(theirs)} classes); pass --labels with the data's names in the classifier's output order, or "
            "--classifier-labels with the classifier's names"
        )
    else:
        problem = (
            f"the data's labels {data.label_names} are not among the classifier's labels {list(classifier_labels)}; "
            "pass --labels with the data's names in the classifier's terms, or --classifier-labels"
        )
    raise DataError(f"{data.source}: {problem}")


def read_text(path: Path) -> io.StringIO:
    """A data file's text, decoded as UTF-8 with or without a byte-order mark; a file that is not
    UTF-8 is an error naming its line."""
    raw = Path(path).read_bytes()
    try:
        return io.StringIO(raw.decode("utf-8-sig"), newline="")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _fail(f"{path}:{line}", f"not UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8") from None


def _fail(where: str, problem: str) -> DataError:
    return DataError(f"{where}: {problem}")


class _LabelMap:
    """Turns raw label strings into ids: numbers stay numbers, words get ids by ``names``."""

    def __init__(self, names: Sequence[str] | None, source: str):
        self.names = [n.strip() for n in names] if names else None
        self.source = source
        self.seen_words: list[str] = []

    def __call__(self, raw: object, where: str) -> int:
        value = str(raw).strip()
        if value == "":
            raise _fail(where, "empty label")
        if self.names is not None:
            lowered = [n.lower() for n in self.names]
            if value.lower() in lowered:
                return lowered.index(value.lower())
        try:
            number = float(value)
        except ValueError:
            if self.names is not None:
                raise _fail(where, f"unknown label {value!r} (known: {', '.join(self.names)})") from None
            if value.lower() not in self.seen_words:
                self.seen_words.append(value.lower())
            return -1 - self.seen_words.index(value.lower())  # resolved in finish()
        if not math.isfinite(number) or number != int(number) or number < 0:
            raise _fail(where, f"label {value!r} is not a non-negative integer or a class name")
        if number > MAX_LABEL_ID:
            raise _fail(
                where, f"label {value!r} is above {MAX_LABEL_ID:,}: not a class id (name the classes with --labels)"
            )
        label = int(number)
        if self.names is not None and label >= len(self.names):
            raise _fail(where, f"label {label} out of range for {len(self.names)} classes ({', '.join(self.names)})")
        return label

    def finish(self, examples: list[Example]) -> tuple[list[Example], list[str]]:
        """Resolve word labels to ids and return the examples with the label names."""
        if self.seen_words:
            if any(ex.label >= 0 for ex in examples):
                raise _fail(self.source, "labels mix numbers and class names; pass --labels to name them")
            if set(self.seen_words) <= set(NLI_LABELS):
                names = list(NLI_LABELS)
            else:
                names = sorted(self.seen_words)
            remap = {-1 - i: names.index(w) for i, w in enumerate(self.seen_words)}
            examples = [Example(ex.text, remap[ex.label], ex.text_pair, ex.id) for ex in examples]
            return examples, names
        if self.names is not None:
            return examples, list(self.names)
        k = max((ex.label for ex in examples), default=1) + 1
        return examples, [str(i) for i in range(max(k, 2))]


def _check_text(text: object, where: str, what: str = "text") -> str:
    if not isinstance(text, str):
        raise _fail(where, f"{what} is {type(text).__name__}, expected a string")
    text = text.strip()
    if not text:
        raise _fail(where, f"empty {what}")
    return text


def read_textfooler(path: Path, label_names: Sequence[str] | None = None) -> LabelledData:
    """TextFooler's format: ``LABEL TEXT`` lines, or ``LABEL<TAB>PREMISE<TAB>HYPOTHESIS`` (NLI)."""
    labels = _LabelMap(label_names, str(path))
    examples: list[Example] = []
    with read_text(path) as handle:
        for number, line in enumerate(handle, 1):
            where = f"{path}:{number}"
            line = line.rstrip("\n\r")
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) == 3:
                label = labels(parts[0], where)
                premise = _check_text(parts[1], where, "premise")
                hypothesis = _check_text(parts[2], where, "hypothesis")
                examples.append(Example(premise, label, hypothesis, f"{path.name}:{number}"))
                continue
            head, _, text = line.partition(" ")
            if len(parts) == 2 and not text.strip():
                head, text = parts
            label = labels(head, where)
            text = _check_text(text, where)
            if len(text) >= 2 and text[0] == text[-1] == '"':
                text = text[1:-1].strip()
            examples.append(Example(text, label, None, f"{path.name}:{number}"))
    if not examples:
        raise _fail(str(path), "no examples in file")
    examples, names = labels.finish(examples)
    return LabelledData(examples, names, str(path))


def _pick_column(
    columns: Sequence[str], wanted: str | None, candidates: Sequence[str], where: str, what: str
) -> str | None:
    if wanted is not None:
        if wanted not in columns:
            raise _fail(where, f"missing {what} column {wanted!r} (columns: {', '.join(columns)})")
        return wanted
    lowered = {c.lower(): c for c in columns}
    for name in candidates:
        if name in lowered:
            return lowered[name]
    return None


def _rows_to_examples(
    rows: Iterable[tuple[int, dict]],
    columns: Sequence[str],
    source: str,
    text_col: str | None,
    label_col: str | None,
    pair_col: str | None,
    label_names: Sequence[str] | None,
    line_word: str = "line",
) -> LabelledData:
    text_key = _pick_column(columns, text_col, TEXT_COLUMNS, source, "text")
    if text_key is None:
        raise _fail(source, f"no text column found (columns: {', '.join(columns)}); pass --text-col")
    label_key = _pick_column(columns, label_col, LABEL_COLUMNS, source, "label")
    if label_key is None:
        raise _fail(source, f"no label column found (columns: {', '.join(columns)}); pass --label-col")
    pair_key = (
        _pick_column(columns, pair_col, PAIR_COLUMNS, source, "pair")
        if (pair_col or text_key.lower() in ("premise", "sentence1"))
        else None
    )
    if len({text_key, label_key, pair_key} - {None}) < 2 + (pair_key is not None):
        raise _fail(
            source,
            f"the text{', pair' if pair_key else ''} and label must be different columns "
            f"(columns: {', '.join(columns)})",
        )
    labels = _LabelMap(label_names, source)
    examples = []
    for number, row in rows:
        where = f"{source}:{line_word} {number}" if line_word != "line" else f"{source}:{number}"
        if text_key not in row or label_key not in row or row[text_key] is None or row[label_key] is None:
            raise _fail(where, f"row has no value for column {text_key!r} or {label_key!r}")
        text = _check_text(row[text_key], where)
        pair = _check_text(row[pair_key], where, pair_key) if pair_key else None
        examples.append(Example(text, labels(row[label_key], where), pair, f"{Path(source).name}:{number}"))
    if not examples:
        raise _fail(source, "no examples")
    examples, names = labels.finish(examples)
    return LabelledData(examples, names, source)


def _column_ref(value: str | None, header: list[str] | None) -> str | None:
    """Column options may be names or 0-based indices."""
    if value is None or header is not None:
        return value
    return f"col{int(value)}" if value.isdigit() else value


def read_delimited(
    path: Path,
    delimiter: str,
    text_col: str | None = None,
    label_col: str | None = None,
    pair_col: str | None = None,
    label_names: Sequence[str] | None = None,
    header: bool | None = None,
) -> LabelledData:
    """CSV/TSV with a header (auto-detected) or positional columns (``--text-col 0 --label-col 1``)."""
    global _csv_field_limit_raised
    if not _csv_field_limit_raised:
        csv.field_size_limit(2**31 - 1)
        _csv_field_limit_raised = True
    with read_text(path) as handle:
        rows = list(
            csv.reader(handle, delimiter=delimiter, quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL)
        )
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise _fail(str(path), "file is empty")
    first = [c.strip() for c in rows[0]]
    if header is None:
        known = {*TEXT_COLUMNS, *PAIR_COLUMNS, *LABEL_COLUMNS}
        header = any(c.lower() in known for c in first) or any(c in first for c in (text_col, label_col, pair_col) if c)
    if header:
        columns, body, start = first, rows[1:], 2
    else:
        columns = [f"col{i}" for i in range(len(first))]
        body, start = rows, 1
        text_col = _column_ref(text_col, None) or "col0"
        label_col = _column_ref(label_col, None) or f"col{len(first) - 1}"
        pair_col = _column_ref(pair_col, None)
    numbered = []
    for offset, row in enumerate(body):
        number = start + offset
        if len(row) != len(columns):
            raise _fail(f"{path}:{number}", f"expected {len(columns)} fields, found {len(row)}")
        numbered.append((number, dict(zip(columns, row))))
    return _rows_to_examples(numbered, columns, str(path), text_col, label_col, pair_col, label_names)


def read_jsonl(
    path: Path,
    text_col: str | None = None,
    label_col: str | None = None,
    pair_col: str | None = None,
    label_names: Sequence[str] | None = None,
) -> LabelledData:
    """One JSON object per line."""
    numbered, columns = [], []
    with read_text(path) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _fail(f"{path}:{number}", f"invalid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise _fail(f"{path}:{number}", "expected a JSON object")
            columns.extend(k for k in row if k not in columns)
            numbered.append((number, row))
    if not numbered:
        raise _fail(str(path), "file is empty")
    return _rows_to_examples(numbered, columns, str(path), text_col, label_col, pair_col, label_names)


def read_aclimdb(folder: Path, split: str = "test") -> LabelledData:
    """An aclImdb folder: ``pos/`` and ``neg/`` of ``*.txt`` (or a root holding ``SPLIT/pos``...)."""
    root = folder / split if (folder / split / "pos").is_dir() else folder
    if not ((root / "pos").is_dir() and (root / "neg").is_dir()):
        raise _fail(str(folder), "not an aclImdb folder: expected pos/ and neg/ subfolders")
    examples = []
    for label, name in ((0, "neg"), (1, "pos")):
        for file in sorted((root / name).glob("*.txt")):
            with read_text(file) as handle:
                text = _check_text(handle.read().replace("<br />", " "), str(file))
            examples.append(Example(text, label, None, f"{name}/{file.name}"))
    if not examples:
        raise _fail(str(root), "no .txt reviews in pos/ or neg/")
    return LabelledData(examples, ["negative", "positive"], str(folder))


def parse_hf_spec(spec: str) -> tuple[str, str | None, str]:
    """``hf:NAME[:CONFIG][:SPLIT]`` -> (name, config, split); a lone second part that names a split is a split."""
    parts = spec.split(":")[1:]
    if not parts or not parts[0]:
        raise DataError(f"{spec}: expected hf:NAME[:CONFIG][:SPLIT]")
    name, config, split = parts[0], None, "test"
    if len(parts) == 2:
        if parts[1].split("[")[0] in SPLIT_NAMES:
            split = parts[1]
        else:
            config = parts[1]
    elif len(parts) == 3:
        config, split = parts[1] or None, parts[2]
    elif len(parts) > 3:
        raise DataError(f"{spec}: too many ':' parts; expected hf:NAME[:CONFIG][:SPLIT]")
    return name, config, split


def read_hf(
    spec: str, text_col: str | None, label_col: str | None, pair_col: str | None, label_names: Sequence[str] | None
) -> LabelledData:
    """A dataset from the Hugging Face hub (online) or its local cache."""
    import datasets

    name, config, split = parse_hf_spec(spec)
    try:
        dataset = datasets.load_dataset(name, config, split=split)
    except Exception as exc:  # network, unknown name, unknown split...
        raise DataError(f"{spec}: could not load dataset {name!r} (config {config}, split {split}): {exc}") from exc
    names = label_names
    feature = dataset.features.get(label_col or "label")
    if names is None and feature is not None and hasattr(feature, "names"):
        names = list(feature.names)
    rows = ((i + 1, row) for i, row in enumerate(dataset))
    return _rows_to_examples(rows, list(dataset.column_names), spec, text_col, label_col, pair_col, names, "row")


def class_index(target: str | int, label_names: Sequence[str], whose: str) -> int:
    """The id of class ``target``, given by name (any case) or index, among ``label_names``; a clear
    error naming ``whose`` classes they are otherwise."""
    labels = [str(label) for label in label_names]
    if isinstance(target, str) and not target.lstrip("-").isdigit():
        lowered = [label.lower() for label in labels]
        if target.lower() not in lowered:
            raise ValueError(f"target class {target!r} is not one of {whose} labels {labels}")
        return lowered.index(target.lower())
    if not 0 <= int(target) < len(labels):
        raise ValueError(f"target class index {target} is out of range for {whose} labels {labels}")
    return int(target)


def check_data_spec(spec: str) -> None:
    """Raise for a data spec that names no file or folder here (checked before any model loads)."""
    if spec not in ("builtin", "default") and not spec.startswith("hf:") and not Path(spec).expanduser().exists():
        raise DataError(
            f"{spec}: no such file or folder (use builtin, hf:NAME[:CONFIG][:SPLIT], a csv/tsv/jsonl file, "
            "a TextFooler file or an aclImdb folder)"
        )


def load_data(
    spec: str,
    *,
    n: int | None = None,
    seed: int | None = None,
    text_col: str | None = None,
    label_col: str | None = None,
    pair_col: str | None = None,
    labels: Sequence[str] | None = None,
    header: bool | None = None,
    sample: str = DEFAULT_SAMPLE,
    max_words: int | None = None,
) -> LabelledData:
    """Load a data spec (see module docstring) and pick ``n`` of its examples (:func:`select`);
    with ``max_words``, a picked example longer than that (text and pair together) is an error
    naming it (attacks cost, in time and memory, with the words of a text)."""
    if labels is not None and (
        not all(name.strip() for name in labels) or len({name.strip().lower() for name in labels}) < len(labels)
    ):
        raise DataError(f"--labels {','.join(labels)!r}: class names must be non-empty and distinct")
    check_data_spec(spec)
    columns = [
        flag
        for flag, given in (("--text-col", text_col), ("--label-col", label_col), ("--pair-col", pair_col))
        if given
    ]
    if columns and (kind := _columnless(spec)):
        raise DataError(
            f"{spec}: {', '.join(columns)} name columns of CSV, TSV, JSON-lines or hf: data; "
            f"this is {kind}, which has none"
        )
    if spec in ("builtin", "default"):
        data = read_delimited(BUILTIN_REVIEWS, "\t", label_names=labels or ["negative", "positive"])
        data.source = "builtin"
    elif spec.startswith("hf:"):
        data = read_hf(spec, text_col, label_col, pair_col, labels)
    else:
        path = Path(spec).expanduser()
        suffix = path.suffix.lower()
        if path.is_dir():
            data = read_aclimdb(path)
        elif suffix in (".csv", ".tsv"):
            data = read_delimited(
                path, "," if suffix == ".csv" else "\t", text_col, label_col, pair_col, labels, header
            )
        elif suffix in (".jsonl", ".json"):
            data = read_jsonl(path, text_col, label_col, pair_col, labels)
        else:
            data = read_textfooler(path, labels)
    if n is not None and n <= 0:
        raise DataError(f"{spec}: --n must be positive, got {n}")
    picked = select(data.examples, n, seed, sample)
    for example in picked if max_words else ():
        count = len(example.text.split()) + len((example.text_pair or "").split())
        if count > max_words:
            raise DataError(
                f"{data.source}: example {example.id} has {count:,} words, more than --max-words {max_words:,} "
                "(raise --max-words, or leave the example out)"
            )
    return LabelledData(picked, data.label_names, data.source, declared=bool(labels))


def _columnless(spec: str) -> str | None:
    """What a data spec is when its format has no columns to name (None for CSV, TSV, JSON lines and hf:)."""
    if spec in ("builtin", "default"):
        return "the built-in set"
    path = Path(spec).expanduser()
    if spec.startswith("hf:") or (not path.is_dir() and path.suffix.lower() in (".csv", ".tsv", ".jsonl", ".json")):
        return None
    return "an aclImdb folder" if path.is_dir() else "a TextFooler-format file (LABEL TEXT per line)"


def select(
    examples: Sequence[Example], n: int | None, seed: int | None = None, sample: str = DEFAULT_SAMPLE
) -> list[Example]:
    """``n`` examples in a fixed order (all of them when ``n`` is None, shuffled with ``seed`` if given).

    ``balanced``: the classes take turns (label 0, 1, ..., 0, 1, ...), each in file order or, with
    ``seed``, in a seeded shuffle; a class that runs out leaves its turn to the others.
    ``first``: the first ``n`` in file order, or after a seeded shuffle of the whole set.
    """
    if sample not in SAMPLES:
        raise DataError(f"unknown sample {sample!r}; use {' or '.join(SAMPLES)}")
    examples = list(examples)
    if n is None or sample == "first":
        if seed is not None:
            random.Random(seed).shuffle(examples)
        return examples[:n]
    by_label: dict[int, list[Example]] = {}
    for ex in examples:
        by_label.setdefault(ex.label, []).append(ex)
    groups = [by_label[label] for label in sorted(by_label)]
    if seed is not None:
        for label, group in zip(sorted(by_label), groups):
            random.Random(f"{seed}:{label}").shuffle(group)
    turns = [ex for row in zip_longest(*groups) for ex in row if ex is not None]
    return turns[:n]
