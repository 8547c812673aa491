"""Property-based fuzzing of what users and endpoints feed us: data files, classifier outputs, HTTP answers.

Every case ends in a correct result or one clear error (exit 2 on the command line); never a
traceback, never a silently wrong answer.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arena.classifier import ClassifierError, HTTPClassifier, to_probabilities
from arena.cli import main
from arena.data import DataError, load_data

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SUFFIXES = (".csv", ".tsv", ".jsonl", ".txt")
LABELS = st.sampled_from(
    ["0", "1", "2", "pos", "neg", "", " ", "inf", "-inf", "nan", "-1", "1.5", "1e3", "99999999999", "LABEL_1"]
)
CELLS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
WORDS = st.text(alphabet="abcdefghij klmnop", min_size=1, max_size=40).filter(lambda t: t.strip())


def loads_or_fails_cleanly(path) -> None:
    """``load_data`` gives a consistent data set or a DataError naming the file."""
    try:
        data = load_data(str(path))
    except DataError as exc:
        assert str(path.name) in str(exc) or "--labels" in str(exc), exc
        return
    assert data.examples and data.label_names
    for example in data.examples:
        assert isinstance(example.text, str) and example.text.strip()
        assert 0 <= example.label < len(data.label_names)


@FUZZ
@given(raw=st.binary(max_size=400), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_load_or_fail_cleanly(tmp_path, raw, suffix):
    path = tmp_path / f"data{suffix}"
    path.write_bytes(raw)
    loads_or_fails_cleanly(path)


@FUZZ
@given(
    rows=st.lists(st.tuples(LABELS, CELLS), min_size=1, max_size=8),
    suffix=st.sampled_from(SUFFIXES),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]),
    header=st.booleans(),
)
def test_random_rows_encodings_and_delimiters_load_or_fail_cleanly(tmp_path, rows, suffix, encoding, header):
    if suffix == ".jsonl":
        text = "\n".join(json.dumps({"label": label, "text": cell}) for label, cell in rows)
    else:
        sep = {".csv": ",", ".tsv": "\t", ".txt": " "}[suffix]
        text = "\n".join(
            ([f"label{sep}text"] if header and suffix != ".txt" else [])
            + [f"{label}{sep}{cell}" for label, cell in rows]
        )
    path = tmp_path / f"data{suffix}"
    path.write_bytes(text.encode(encoding, errors="replace"))
    loads_or_fails_cleanly(path)


@FUZZ
@given(
    rows=st.lists(st.tuples(st.integers(0, 3), WORDS), min_size=1, max_size=10),
    suffix=st.sampled_from(SUFFIXES),
    bom=st.booleans(),
)
def test_well_formed_files_load_exactly(tmp_path, rows, suffix, bom):
    if suffix == ".jsonl":
        text = "\n".join(json.dumps({"text": words, "label": label}) for label, words in rows)
    elif suffix == ".txt":
        text = "\n".join(f"{label} {words}" for label, words in rows)
    else:
        sep = "," if suffix == ".csv" else "\t"
        text = "\n".join([f"text{sep}label"] + [f"{words}{sep}{label}" for label, words in rows])
    path = tmp_path / f"data{suffix}"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    data = load_data(str(path), sample="first")
    assert [(ex.label, ex.text) for ex in data.examples] == [(label, words.strip()) for label, words in rows]


@FUZZ
@given(
    rows=st.lists(
        st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=2, max_size=2),
        min_size=1,
        max_size=6,
    )
)
def test_probabilities_are_per_row_and_never_batch_dependent(rows):
    try:
        together = to_probabilities(rows, len(rows), 2, "fuzz")
    except ClassifierError:
        assert not np.isfinite(np.asarray(rows, dtype=np.float64)).all()
        return
    assert np.allclose(together.sum(axis=1), 1) and (together >= 0).all()
    alone = np.vstack([to_probabilities([row], 1, 2, "fuzz") for row in rows])
    assert np.array_equal(together, alone)


@FUZZ
@given(
    raw=st.one_of(
        st.lists(st.lists(st.floats(), max_size=4), max_size=4),
        st.lists(st.integers(), max_size=4),
        st.text(max_size=10),
        st.none(),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )
)
def test_malformed_outputs_are_classifier_errors(raw):
    try:
        probs = to_probabilities(raw, 2, 2, "fuzz")
    except ClassifierError:
        return
    assert probs.shape == (2, 2) and np.allclose(probs.sum(axis=1), 1)


class Answer:
    body = b""
    status = 200


class Endpoint(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(Answer.status)
        self.send_header("Content-Length", str(len(Answer.body)))
        self.end_headers()
        self.wfile.write(Answer.body)


@pytest.fixture(scope="module")
def endpoint():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/predict"
    httpd.shutdown()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)


@FUZZ
@given(
    answer=st.one_of(
        st.binary(max_size=200),
        JSON_VALUES.map(lambda v: json.dumps(v).encode()),
        st.builds(
            lambda probs, labels: json.dumps({"probs": probs, "labels": labels}).encode(), JSON_VALUES, JSON_VALUES
        ),
    ),
    status=st.sampled_from([200, 200, 200, 400, 404, 500]),
)
def test_random_http_answers_give_probabilities_or_one_error(endpoint, answer, status):
    Answer.body, Answer.status = answer, status
    classifier = HTTPClassifier(endpoint, retries=0, timeout=5)
    try:
        probs = classifier.predict_proba(["a text", "another"])
    except ClassifierError as exc:
        assert "\n" not in str(exc).strip() or str(exc).count("\n") < 3
        return
    assert status == 200 and probs.shape[0] == 2 and np.allclose(probs.sum(axis=1), 1)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    raw=st.binary(max_size=300), suffix=st.sampled_from(SUFFIXES), labels=st.sampled_from([None, "neg,pos", ",", "a,a"])
)
def test_the_command_line_answers_or_fails_in_one_line(tmp_path, capsys, raw, suffix, labels):
    path = tmp_path / f"data{suffix}"
    path.write_bytes(raw)
    argv = [
        "eval",
        "--classifier",
        "test_classifier:keyword_probs",
        "--data",
        str(path),
        "--db",
        str(tmp_path / "f.db"),
        "--json",
    ]
    status = main(argv + (["--labels", labels] if labels else []))
    out, err = capsys.readouterr()
    assert status in (0, 2), (status, err)
    if status == 2:
        assert err.count("\n") == 1 and err.startswith("arena eval: error: "), err
    else:
        assert 0 <= json.loads(out.strip().splitlines()[-1])["accuracy"] <= 1
