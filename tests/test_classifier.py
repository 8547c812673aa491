from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import torch
from conftest import tiny_gpt2_classifier

from arena.classifier import (
    CallableClassifier,
    Classifier,
    ClassifierError,
    HFClassifier,
    HTTPClassifier,
    load_classifier,
)


def test_hf_classifier_from_folder(tiny_classifier):
    assert isinstance(tiny_classifier, Classifier)
    assert tiny_classifier.labels == ["contradiction", "entailment", "neutral"]
    probs = tiny_classifier.predict_proba(["a short text", "another, somewhat longer text here"])
    assert probs.shape == (2, 3) and np.allclose(probs.sum(1), 1)


def test_hf_classifier_pairs_use_token_types(tiny_classifier):
    pair = tiny_classifier.predict_proba([("a man sleeps", "a person rests")])
    joined = tiny_classifier.predict_proba(["a man sleeps a person rests"])
    assert pair.shape == (1, 3) and not np.allclose(pair, joined)
    with pytest.raises(TypeError, match="all single texts or all"):
        tiny_classifier.predict_proba(["x", ("a", "b")])


def test_hf_classifier_truncates_huge_text(tiny_classifier):
    encoded = tiny_classifier.encode(["word " * 200_000])
    assert len(encoded[0]["input_ids"]) == tiny_classifier.max_length


def test_a_max_length_under_one_token_is_refused(tiny_classifier):
    from arena.classifier import HFClassifier

    with pytest.raises(ValueError, match="max_length is a number of tokens, at least 1"):
        HFClassifier(tiny_classifier.model, tiny_classifier.tokenizer, max_length=0)


def test_load_classifier_wrong_path_names_it(tmp_path, monkeypatch):
    (tmp_path / "not_a_model").mkdir()
    with pytest.raises(ClassifierError, match="no config.json"):
        load_classifier(str(tmp_path / "not_a_model"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # offline, an uncached hub id fails at once, before any download is tried
    with pytest.raises(
        ClassifierError,
        match="no-such-org/no-such-model: no such folder, and as a hub classifier id it is not in the local",
    ):
        load_classifier("no-such-org/no-such-model")
    for path in (str(tmp_path / "missing"), "./runs/missing", "runs/missing/model", "~/missing"):
        with pytest.raises(ClassifierError, match="no such folder"):
            load_classifier(path)


def test_load_classifier_points_defense_names_to_build_defender():
    for spec in ("five", "fuse?perturb_words=2", "fact:runs/fact", "five+fact"):
        with pytest.raises(
            ClassifierError, match=r"is a defense, not a classifier: build it with arena\.build_defender"
        ):
            load_classifier(spec)


def test_load_classifier_labels_override(tiny_model_dir):
    clf = load_classifier(tiny_model_dir, labels=["a", "b", "c"])
    assert clf.labels == ["a", "b", "c"]
    with pytest.raises(ClassifierError, match="2 labels given but the model has 3"):
        load_classifier(tiny_model_dir, labels=["a", "b"])


def test_default_classifier_is_accurate_on_builtin_set():
    from arena.data import align_labels, load_data

    clf = load_classifier("default")
    assert clf.labels == ["negative", "positive"]
    data = align_labels(load_data("builtin"), clf.labels)
    preds = clf.predict_proba([ex.text for ex in data]).argmax(1)
    assert (preds == np.array([ex.label for ex in data])).mean() >= 0.85


# --- callables --------------------------------------------------------------------------------


def keyword_probs(texts):
    return [[0.2, 0.8] if "good" in t else [0.9, 0.1] for t in texts]


keyword_probs.labels = ["neg", "pos"]


def keyword_logits(texts):
    return np.array([[0.0, 3.0] if "good" in t else [2.0, -1.0] for t in texts])


def broken(texts):
    raise RuntimeError("model server on fire")


def two_line_error(texts):
    raise RuntimeError("first line\n  second line")


def fails_in_workers(texts):
    """keyword_probs, except in a worker process of `arena match --workers` (any process but the
    test's, whose id the test puts in TEST_PARENT_PID)."""
    if os.environ.get("TEST_PARENT_PID", str(os.getpid())) != str(os.getpid()):
        raise RuntimeError("worker on fire")
    return keyword_probs(texts)


def wrong_shape(texts):
    return np.ones((len(texts) + 1, 2)) / 2


def test_callable_from_spec_probs_and_labels():
    clf = load_classifier("test_classifier:keyword_probs")
    assert isinstance(clf, CallableClassifier) and clf.labels == ["neg", "pos"]
    assert np.allclose(clf.predict_proba(["good", "bad"]), [[0.2, 0.8], [0.9, 0.1]])


def test_callable_logits_are_softmaxed_and_labels_inferred():
    clf = CallableClassifier(keyword_logits)
    probs = clf.predict_proba(["good film"])
    assert np.allclose(probs, torch.softmax(torch.tensor([[0.0, 3.0]]), -1).numpy())
    assert clf.labels == ["0", "1"]


def test_callable_file_path_spec(tmp_path):
    (tmp_path / "mymodel.py").write_text("def predict(texts):\n    return [[1.0, 0.0, 0.0] for _ in texts]\n")
    clf = load_classifier(f"{tmp_path / 'mymodel.py'}:predict", labels=["a", "b", "c"])
    assert clf.predict_proba(["x"]).tolist() == [[1.0, 0.0, 0.0]]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("test_classifier:broken", "raised RuntimeError: model server on fire"),
        ("test_classifier:wrong_shape", "returned shape (3, 2); expected (2, 2)"),
    ],
)
def test_callable_errors_are_clear(spec, message):
    with pytest.raises(ClassifierError) as err:
        load_classifier(spec, labels=["n", "p"]).predict_proba(["a", "b"])
    assert message in str(err.value)


def test_callable_bad_specs():
    with pytest.raises(ClassifierError, match="could not import 'no_such_module_xyz'"):
        load_classifier("no_such_module_xyz:predict")
    with pytest.raises(ClassifierError, match="has no callable 'nope'"):
        load_classifier("test_classifier:nope")


# --- HTTP -------------------------------------------------------------------------------------


class Behaviour:
    mode = "ok"
    calls = 0


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        Behaviour.calls += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        texts = body["texts"]
        mode = Behaviour.mode
        if mode == "flaky" and Behaviour.calls == 1:
            return self._send(503, b"busy")
        if mode == "500":
            return self._send(500, b"boom")
        if mode == "400":
            return self._send(400, b"bad request: texts too long")
        if mode == "notjson":
            return self._send(200, b"<html>")
        if mode == "noprobs":
            return self._send(200, json.dumps({"scores": []}).encode())
        if mode == "slow":
            time.sleep(1.0)
        if mode == "busy" and Behaviour.calls == 1:
            self.send_response(429)
            self.send_header("Retry-After", "0.4")
            self.send_header("Content-Length", "4")
            self.end_headers()
            return self.wfile.write(b"busy")
        if mode in ("trickle", "huge"):
            payload = json.dumps({"probs": [[0.5, 0.5]] * len(texts), "pad": "x" * 4096}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            try:
                for i in range(0, len(payload), 1 if mode == "trickle" else 1024):
                    self.wfile.write(payload[i : i + (1 if mode == "trickle" else 1024)])
                    self.wfile.flush()
                    if mode == "trickle":
                        time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        probs = [[0.3, 0.7] if "good" in (t if isinstance(t, str) else t[1]) else [0.6, 0.4] for t in texts]
        self._send(200, json.dumps({"probs": probs, "labels": ["neg", "pos"]}).encode())

    def _send(self, code, payload):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            self.wfile.write(payload)
        except BrokenPipeError:  # the client gave up (timeout test)
            pass


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Behaviour.mode, Behaviour.calls = "ok", 0
    yield f"http://127.0.0.1:{httpd.server_address[1]}/predict"
    httpd.shutdown()


def test_http_classifier_ok_and_batched(server):
    clf = load_classifier(server)
    assert isinstance(clf, HTTPClassifier)
    clf.batch_size = 2
    probs = clf.predict_proba(["good", "bad", "good"])
    assert np.allclose(probs, [[0.3, 0.7], [0.6, 0.4], [0.3, 0.7]])
    assert clf.labels == ["neg", "pos"] and Behaviour.calls == 2


def test_http_classifier_retries_then_succeeds(server):
    Behaviour.mode = "flaky"
    clf = HTTPClassifier(server, ["neg", "pos"], backoff=0.01)
    assert clf.predict_proba(["good"]).shape == (1, 2) and Behaviour.calls == 2


@pytest.mark.parametrize(
    "mode, message",
    [
        ("500", "no answer within 0.2 s (3 attempts): HTTP 500"),
        ("400", "answered HTTP 400: bad request"),
        ("notjson", "did not answer JSON"),
        ("noprobs", 'without a "probs" field'),
        ("slow", "no answer within 0.2 s (1 attempts)"),
    ],
)
def test_http_classifier_misbehaving_endpoint(server, mode, message):
    Behaviour.mode = mode
    retries = 0 if mode == "slow" else 2
    clf = HTTPClassifier(server, ["neg", "pos"], backoff=0.01, retries=retries, timeout=0.2)
    with pytest.raises(ClassifierError) as err:
        clf.predict_proba(["good"])
    assert message in str(err.value)


def test_http_classifier_deadline_covers_a_trickling_answer(server):
    Behaviour.mode = "trickle"  # one byte every 50 ms: every socket read is quick, the answer never ends in time
    clf = HTTPClassifier(server, ["neg", "pos"], retries=0, timeout=0.5)
    start = time.monotonic()
    with pytest.raises(ClassifierError, match="no answer within 0.5 s"):
        clf.predict_proba(["good"])
    assert time.monotonic() - start < 2


def test_http_classifier_caps_the_answer_size(server):
    Behaviour.mode = "huge"
    with pytest.raises(ClassifierError, match="answered more than 2,048 bytes"):
        HTTPClassifier(server, ["neg", "pos"], max_bytes=2048).predict_proba(["good"])


def test_http_classifier_honours_retry_after(server):
    Behaviour.mode = "busy"  # 429 with Retry-After: 0.4 on the first call
    clf = HTTPClassifier(server, ["neg", "pos"], backoff=0.01, timeout=5)
    start = time.monotonic()
    assert clf.predict_proba(["good"]).shape == (1, 2) and Behaviour.calls == 2
    assert time.monotonic() - start >= 0.4


def test_http_classifier_pairs_travel_as_lists(server):
    clf = HTTPClassifier(server, ["neg", "pos"])
    assert np.allclose(clf.predict_proba([("premise", "good")]), [[0.3, 0.7]])


def test_http_classifier_connection_refused():
    clf = HTTPClassifier("http://127.0.0.1:9/predict", ["a", "b"], retries=1, backoff=0.01, timeout=1)
    with pytest.raises(ClassifierError, match=r"no answer within 1 s \(2 attempts\)"):
        clf.predict_proba(["x"])


def test_bf16_precision_is_opt_in_and_close(tiny_model_dir):
    exact = HFClassifier.from_pretrained(tiny_model_dir, device="cpu")
    fast = HFClassifier.from_pretrained(tiny_model_dir, device="cpu", precision="bf16")
    assert exact.autocast is None and fast.autocast == torch.bfloat16
    texts = ["a short text", "another text that is a bit longer"]
    assert np.abs(exact.predict_proba(texts) - fast.predict_proba(texts)).max() < 0.05
    with pytest.raises(ValueError, match="precision must be one of"):
        HFClassifier.from_pretrained(tiny_model_dir, precision="int4")


@pytest.mark.parametrize("tokenizer_pad,config_pad", [(False, 1), (False, None), (True, None)])
def test_last_token_pooling_classifier_batches_like_single_texts(tiny_lm_dir, tokenizer_pad, config_pad):
    # GPT-2 style heads read each row at its last non-pad token: padding must use the config's id
    # (hub GPT-2 classifiers: no pad in the tokenizer, eos in the config), or one must be given it
    clf = tiny_gpt2_classifier(tiny_lm_dir, tokenizer_pad=tokenizer_pad, config_pad=config_pad)
    texts = ["the movie was good", "the plot was dull but the acting was very good and fun"]
    together = clf.logits_from_encoded(clf.encode(texts))
    alone = np.vstack([clf.logits_from_encoded(clf.encode([text])) for text in texts])
    assert np.allclose(together, alone, atol=1e-5)
