"""The one classifier protocol and its adapters: HF models, Python callables, HTTP endpoints.

Every classifier has ``labels`` (class names, index = class id) and
``predict_proba(texts) -> (n, len(labels))`` with rows summing to 1. An input is a
string, or a ``(premise, hypothesis)`` pair for NLI.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import random
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from arena.batching import length_bucketed_batches
from arena.names import DEFENSE_NAMES, defense_name
from arena.resources import (
    DEFAULT_CLASSIFIER_DIR,
    FACT_CLASSIFIER_DIR,
    HTTP_MAX_BYTES,
    HTTP_TIMEOUT,
    autocast_dtype,
    minilm_path,
    model_source_problem,
    pick_device,
)
from arena.results import STORED_MAX_LENGTH
from arena.time_limit import check_time_limit

TextInput = str | tuple[str, str]
Encoded = dict[str, list[int]]


class ClassifierError(RuntimeError):
    """A classifier failed, returned malformed output, or could not be loaded."""


@runtime_checkable
class Classifier(Protocol):
    """What the arena needs from a text classifier."""

    labels: Sequence[str]

    def predict_proba(self, texts: Sequence[TextInput]) -> np.ndarray:
        """Class probabilities, shape ``(len(texts), len(labels))``."""
        ...


def check_inputs(texts: Sequence[TextInput]) -> list[TextInput]:
    """Validate a batch of inputs (strings or string pairs) and return it as a list."""
    if isinstance(texts, (str, tuple)):
        raise TypeError("predict_proba takes a sequence of texts, not a single text; wrap it in a list")
    items = list(texts)
    for i, item in enumerate(items):
        if isinstance(item, str):
            continue
        if isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(p, str) for p in item):
            items[i] = (item[0], item[1])
            continue
        raise TypeError(f"input {i} is {type(item).__name__}; expected a string or a (premise, hypothesis) pair")
    return items


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of a logit matrix."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    out = np.exp(shifted)
    return out / out.sum(axis=1, keepdims=True)


def to_probabilities(raw: object, n: int, k: int | None, who: str) -> np.ndarray:
    """Validate a model's output as an ``(n, k)`` matrix. Each row that is a distribution (non-negative,
    summing to 1 within 0.001) is kept; each other row is taken as logits and softmaxed alone."""
    try:
        out = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ClassifierError(f"{who} returned something that is not a numeric matrix: {exc}") from None
    if out.ndim == 1 and n == len(out) and k in (None, 1):
        raise ClassifierError(
            f"{who} returned a vector of {len(out)} numbers; expected one row of class scores per text"
        )
    if out.ndim != 2 or out.shape[0] != n:
        raise ClassifierError(f"{who} returned shape {out.shape}; expected ({n}, {k if k else 'k'})")
    if k is not None and out.shape[1] != k:
        raise ClassifierError(f"{who} returned {out.shape[1]} classes; expected {k}")
    if out.shape[1] < 2:
        raise ClassifierError(f"{who} returned {out.shape[1]} class score(s) per text; need at least 2")
    if not np.isfinite(out).all():
        raise ClassifierError(f"{who} returned NaN or infinite scores")
    distributions = (out >= 0).all(axis=1) & np.isclose(out.sum(axis=1), 1.0, rtol=0, atol=1e-3)
    out = out.copy()
    out[distributions] /= out[distributions].sum(axis=1, keepdims=True)
    out[~distributions] = softmax(out[~distributions])  # each row on its own: never dependent on its batch
    return out


def hub_hint(name_or_path: str) -> str:
    """What a failed model load should add: nothing for a local folder, else that a hub id needs
    internet or a cached copy."""
    return (
        ""
        if Path(name_or_path).expanduser().exists()
        else " (not a local folder; as a hub id it needs internet or a cached copy)"
    )


def padding_id(model: torch.nn.Module, tokenizer) -> int:
    """The token id batches are padded with: the model config's (a last-token-pooling head, GPT-2
    style, finds each row's end by it), else the tokenizer's pad, else its end-of-text, else 0.
    A config without one is given it, so that such a head can take batches at all."""
    config = model.config
    pad = next((p for p in (config.pad_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id) if p is not None), 0)
    if config.pad_token_id is None:
        config.pad_token_id = pad
    return int(pad)


class HFClassifier:
    """A transformers sequence-classification model (hub id or local folder), batched by length."""

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer,
        *,
        name: str = "hf",
        max_length: int = STORED_MAX_LENGTH,
        token_budget: int | None = None,
        max_batch: int = 128,
        device: str | None = None,
        precision: str = "auto",
    ):
        if max_length < 1:
            raise ValueError(f"max_length is a number of tokens, at least 1 (got {max_length})")
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.name = name
        model_max = getattr(tokenizer, "model_max_length", 512) or 512
        positions = getattr(model.config, "max_position_embeddings", model_max)
        self.max_length = int(min(max_length, model_max, positions))
        # padded tokens per forward: large on a GPU; on a CPU small batches stay in cache (MiniLM,
        # one thread: 1,024 tokens is ~1.7x faster per short text than 16,384, ~1.2x on 256-token reviews)
        self.token_budget = token_budget or (16384 if self.device.type == "cuda" else 1024)
        self.max_batch = max_batch
        self.pad_id = padding_id(model, tokenizer)
        id2label = getattr(model.config, "id2label", None) or {}
        self.labels = [str(id2label.get(i, i)) for i in range(model.config.num_labels)]
        self.autocast = autocast_dtype(self.device, precision)

    @classmethod
    def from_pretrained(cls, name_or_path: str, *, labels: Sequence[str] | None = None, **kwargs) -> HFClassifier:
        """Load tokenizer and model; never runs remote code; safetensors preferred over pickle."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        local = Path(name_or_path).expanduser()
        source = str(local) if local.exists() else name_or_path
        if local.exists() and not (local / "config.json").exists():
            raise ClassifierError(f"{name_or_path}: folder has no config.json; is it a transformers model folder?")
        problem = model_source_problem(name_or_path, "classifier")
        if problem:
            raise ClassifierError(problem)
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
            try:
                model = AutoModelForSequenceClassification.from_pretrained(
                    source, trust_remote_code=False, use_safetensors=True
                )
            except OSError:
                logging.getLogger(__name__).warning(
                    "%s has no safetensors weights; loading the pickle checkpoint (weights_only)", name_or_path
                )
                model = AutoModelForSequenceClassification.from_pretrained(
                    source, trust_remote_code=False, use_safetensors=False
                )
        except Exception as exc:
            raise ClassifierError(f"could not load classifier {name_or_path!r}{hub_hint(name_or_path)}: {exc}") from exc
        if labels is not None:
            if len(labels) != model.config.num_labels:
                raise ClassifierError(
                    f"{name_or_path}: {len(labels)} labels given but the model has {model.config.num_labels} outputs"
                )
            model.config.id2label = dict(enumerate(labels))
        return cls(model, tokenizer, name=name_or_path, **kwargs)

    def encode(self, texts: Sequence[TextInput]) -> list[Encoded]:
        """Tokenise each input once (truncated to ``max_length``)."""
        if not texts:
            return []
        char_cap = self.max_length * 100  # a word-piece covers at most ~100 chars, so this never cuts kept tokens
        firsts = [(t if isinstance(t, str) else t[0])[:char_cap] for t in texts]
        seconds = [t[1][:char_cap] for t in texts if not isinstance(t, str)]
        if seconds and len(seconds) != len(texts):
            raise TypeError("a batch must be all single texts or all (premise, hypothesis) pairs")
        out = self.tokenizer(firsts, seconds or None, truncation=True, max_length=self.max_length)
        keys = [k for k in ("input_ids", "token_type_ids") if k in out]
        return [{k: out[k][i] for k in keys} for i in range(len(texts))]

    def logits(self, batch: Sequence[Encoded]) -> torch.Tensor:
        """Forward one batch of encodings, padded to its own longest sequence; returns float32 logits."""
        with torch.inference_mode(), self.autocast_context():
            return self.model(**self.collate(batch)).logits.float()

    def collate(self, batch: Sequence[Encoded]) -> dict[str, torch.Tensor]:
        """One batch of encodings as model inputs on the device, padded to its longest sequence."""
        width = max(len(e["input_ids"]) for e in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        types = torch.zeros((len(batch), width), dtype=torch.long) if "token_type_ids" in batch[0] else None
        for row, enc in enumerate(batch):
            length = len(enc["input_ids"])
            ids[row, :length] = torch.tensor(enc["input_ids"])
            mask[row, :length] = 1
            if types is not None:
                types[row, :length] = torch.tensor(enc["token_type_ids"])
        inputs = {"input_ids": ids.to(self.device), "attention_mask": mask.to(self.device)}
        if types is not None:
            inputs["token_type_ids"] = types.to(self.device)
        return inputs

    def autocast_context(self) -> torch.autocast:
        """The autocast context for this model's precision (disabled for fp32)."""
        return torch.autocast(self.device.type, dtype=self.autocast or torch.float32, enabled=self.autocast is not None)

    def logits_from_encoded(self, encoded: Sequence[Encoded]) -> np.ndarray:
        """Raw logits for pre-tokenised inputs, batched by length under the token budget."""
        out = np.zeros((len(encoded), len(self.labels)), dtype=np.float64)
        lengths = [len(e["input_ids"]) for e in encoded]
        for batch in length_bucketed_batches(lengths, self.token_budget, self.max_batch):
            check_time_limit()
            out[batch] = self.logits([encoded[i] for i in batch]).cpu().numpy()
        return out

    def proba_from_encoded(self, encoded: Sequence[Encoded]) -> np.ndarray:
        """Probabilities for pre-tokenised inputs, batched by length under the token budget."""
        return softmax(self.logits_from_encoded(encoded))

    def predict_proba(self, texts: Sequence[TextInput]) -> np.ndarray:
        """Class probabilities for strings or (premise, hypothesis) pairs."""
        return self.proba_from_encoded(self.encode(check_inputs(texts)))

    def __repr__(self) -> str:
        return f"HFClassifier({self.name!r}, labels={self.labels}, device={self.device})"


def run_identity(classifier) -> dict[str, object]:
    """What a stored run is told apart by besides its names: a model-backed classifier's reduced
    precision (``{"precision": "bf16"}``, also when ``auto`` picked it on a GPU) and a max_length
    other than 256 after capping to the model's, and what a defense reports of itself
    (``stored_identity()``: FuSE without its similarity check, the default that ``fuse`` has meant
    only in later versions; see CHANGELOG.md). Empty for fp32 at 256 and for black boxes, so runs stored before these
    were recorded keep their ids. A defense's model is read through its ``base``. Its keys are
    ``arena.store.IDENTITY_KEYS``, which `arena runs` shows beside the names."""
    out: dict[str, object] = dict(getattr(classifier, "stored_identity", dict)())
    model = getattr(classifier, "base", classifier)
    if not isinstance(model, HFClassifier):
        return out
    if model.autocast is not None:
        out["precision"] = {torch.bfloat16: "bf16", torch.float16: "fp16"}[model.autocast]
    if model.max_length != STORED_MAX_LENGTH:
        out["max_length"] = model.max_length
    return out


class CallableClassifier:
    """A Python function ``f(texts) -> probabilities or logits`` as a classifier."""

    stochastic = False

    def __init__(
        self, fn: Callable[[list[TextInput]], object], labels: Sequence[str] | None = None, name: str = "callable"
    ):
        self.fn = fn
        self.name = name
        if getattr(fn, "stochastic", False):  # a function that draws says so: never cached, attacked adaptively
            self.stochastic = True
        given = labels if labels is not None else getattr(fn, "labels", None)
        self._labels = [str(x) for x in given] if given is not None else None

    @classmethod
    def from_spec(cls, spec: str, labels: Sequence[str] | None = None) -> CallableClassifier:
        """Import ``module:function`` (or ``path/to/file.py:function``)."""
        module_name, _, attr = spec.rpartition(":")
        if not module_name or not attr:
            raise ClassifierError(f"{spec!r}: expected module:function")
        try:
            if module_name.endswith(".py"):
                path = Path(module_name).expanduser().resolve()
                if not path.exists():
                    raise ClassifierError(f"{spec!r}: no such file {path}")
                module_spec = importlib.util.spec_from_file_location(path.stem, path)
                module = importlib.util.module_from_spec(module_spec)
                sys.modules[path.stem] = module
                module_spec.loader.exec_module(module)
            else:
                if "" not in sys.path:  # the working folder last: a stray nltk.py there does not shadow the real one
                    sys.path.append("")
                module = importlib.import_module(module_name)
        except ClassifierError:
            raise
        except (Exception, SystemExit) as exc:
            raise ClassifierError(f"{spec!r}: could not import {module_name!r}: {type(exc).__name__}: {exc}") from exc
        fn = getattr(module, attr, None)
        if not callable(fn):
            raise ClassifierError(f"{spec!r}: {module_name} has no callable {attr!r}")
        return cls(fn, labels, name=spec)

    @property
    def labels(self) -> list[str]:
        """Class names; inferred from the output width of a probe call when not given."""
        if self._labels is None:
            width = self._call(["probe"]).shape[1]
            self._labels = [str(i) for i in range(width)]
        return self._labels

    def _call(self, texts: list[TextInput]) -> np.ndarray:
        check_time_limit()
        try:
            raw = self.fn(texts)
        except (Exception, SystemExit) as exc:  # a sys.exit() inside the function is its failure, not the command's end
            raise ClassifierError(f"classifier {self.name!r} raised {type(exc).__name__}: {exc}") from exc
        k = len(self._labels) if self._labels is not None else None
        return to_probabilities(raw, len(texts), k, f"classifier {self.name!r}")

    def predict_proba(self, texts: Sequence[TextInput]) -> np.ndarray:
        """Call the function; logits are turned into probabilities."""
        items = check_inputs(texts)
        if not items:
            return np.zeros((0, len(self.labels)))
        probs = self._call(items)
        if self._labels is None:
            self._labels = [str(i) for i in range(probs.shape[1])]
        return probs


MAX_RETRY_AFTER = 60.0  # the longest Retry-After an HTTP classifier honours, in seconds


def retry_after(value: str | None) -> float:
    """Seconds from a ``Retry-After`` header in its delay form (0 when absent or an HTTP date)."""
    try:
        seconds = float(value) if value else 0.0
    except ValueError:
        return 0.0
    return seconds if seconds == seconds and seconds > 0 else 0.0


class HTTPClassifier:
    """A classifier served over HTTP: POST ``{"texts": [...]}`` -> ``{"probs": [[...]], "labels"?: [...],
    "stochastic"?: true}`` (an endpoint that draws says so: never cached, attacked adaptively)."""

    def __init__(
        self,
        url: str,
        labels: Sequence[str] | None = None,
        *,
        timeout: float = HTTP_TIMEOUT,
        retries: int = 3,
        batch_size: int = 64,
        backoff: float = 0.5,
        max_bytes: int = HTTP_MAX_BYTES,
    ):
        if not url.startswith(("http://", "https://")):
            raise ClassifierError(f"{url!r}: expected an http:// or https:// URL")
        if not timeout > 0:
            raise ClassifierError(f"HTTP timeout {timeout}: must be a positive number of seconds")
        self.url = url
        self.name = url
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.retries = retries
        self.batch_size = batch_size
        self.backoff = backoff
        self._labels = [str(x) for x in labels] if labels is not None else None
        self._stochastic: bool | None = None

    @property
    def labels(self) -> list[str]:
        """Class names from the constructor, the endpoint's ``labels`` field, or the output width."""
        if self._labels is None:
            self._post(["probe"])
        return self._labels

    @property
    def stochastic(self) -> bool:
        """Whether the endpoint says it is randomized (its ``stochastic`` field; asked once)."""
        if self._stochastic is None:
            self._post(["probe"])
        return bool(self._stochastic)

    @stochastic.setter
    def stochastic(self, value: bool) -> None:
        self._stochastic = value

    def _request(self, texts: list[TextInput]) -> dict:
        body = json.dumps({"texts": [t if isinstance(t, str) else list(t) for t in texts]}).encode()
        request = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        deadline = time.monotonic() + self.timeout  # for the request in all, retries included
        last_error, wait = "", 0.0
        for attempt in range(self.retries + 1):
            if attempt:  # jitter: clients told to wait do not all come back at once
                time.sleep(max(0.0, min(wait + random.uniform(0, self.backoff), deadline - time.monotonic())))
            if time.monotonic() >= deadline:
                break
            wait = self.backoff * 2**attempt
            try:
                payload = self._answer(request, deadline)
            except urllib.error.HTTPError as exc:
                detail = exc.read(200).decode(errors="replace")
                if exc.code < 500 and exc.code != 429:
                    raise ClassifierError(f"endpoint {self.url} answered HTTP {exc.code}: {detail}") from None
                wait = max(wait, min(retry_after(exc.headers.get("Retry-After")), MAX_RETRY_AFTER))
                last_error = f"HTTP {exc.code}: {detail}"
                continue
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                last_error = f"{type(reason).__name__}: {reason}"
                continue
            try:
                data = json.loads(payload)
            except ValueError:  # not JSON, or not even text
                raise ClassifierError(f"endpoint {self.url} did not answer JSON: {payload[:200]!r}") from None
            if not isinstance(data, dict) or "probs" not in data:
                raise ClassifierError(f'endpoint {self.url} answered without a "probs" field: {str(data)[:200]}')
            return data
        raise ClassifierError(
            f"endpoint {self.url} gave no answer within {self.timeout:g} s ({attempt + 1} attempts): {last_error}"
        )

    def _answer(self, request: urllib.request.Request, deadline: float) -> bytes:
        """One attempt's answer, read by ``deadline`` (checked between reads, not only per socket
        read: an endpoint that trickles its answer is cut off) and at most ``max_bytes`` long."""
        chunks, size = [], 0
        with urllib.request.urlopen(request, timeout=max(0.001, deadline - time.monotonic())) as response:
            while chunk := response.read1(65536):
                size += len(chunk)
                if size > self.max_bytes:
                    raise ClassifierError(f"endpoint {self.url} answered more than {self.max_bytes:,} bytes")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no complete answer within {self.timeout:g} s")
                chunks.append(chunk)
        return b"".join(chunks)

    def _post(self, texts: list[TextInput]) -> np.ndarray:
        check_time_limit()
        data = self._request(texts)
        if self._stochastic is None:
            self._stochastic = data.get("stochastic") is True
        if self._labels is None and isinstance(data.get("labels"), list):
            self._labels = [str(x) for x in data["labels"]]
        k = len(self._labels) if self._labels is not None else None
        probs = to_probabilities(data["probs"], len(texts), k, f"endpoint {self.url}")
        if self._labels is None:
            self._labels = [str(i) for i in range(probs.shape[1])]
        return probs

    def predict_proba(self, texts: Sequence[TextInput]) -> np.ndarray:
        """POST the texts in chunks of ``batch_size`` with timeout and bounded retries."""
        items = check_inputs(texts)
        if not items:
            return np.zeros((0, len(self.labels)))
        return np.concatenate(
            [self._post(items[i : i + self.batch_size]) for i in range(0, len(items), self.batch_size)]
        )


def load_default_classifier(adapter_dir: str | Path = DEFAULT_CLASSIFIER_DIR, **kwargs) -> HFClassifier:
    """The offline default (or another adapter folder, e.g. the packaged FACT model): packaged MiniLM
    encoder + the committed LoRA adapter and head, merged."""
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    adapter_dir = Path(adapter_dir)
    meta_path = adapter_dir / "arena_classifier.json"
    if not (adapter_dir / "adapter_model.safetensors").exists() or not meta_path.exists():
        raise ClassifierError(
            f"no trained adapter in {adapter_dir}; train one with `arena train classifier` (see README)"
        )
    meta = json.loads(meta_path.read_text())
    base = minilm_path() if meta.get("base", "minilm") == "minilm" else meta["base"]
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the head is "newly initialised" until the adapter loads it
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            base,
            num_labels=len(meta["labels"]),
            id2label=dict(enumerate(meta["labels"])),
            label2id={label: i for i, label in enumerate(meta["labels"])},
        )
    finally:
        hf_logging.set_verbosity(verbosity)
    model = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    tokenizer = AutoTokenizer.from_pretrained(base)
    name = {DEFAULT_CLASSIFIER_DIR: "default", FACT_CLASSIFIER_DIR: "fact"}.get(adapter_dir.resolve(), str(adapter_dir))
    return HFClassifier(model, tokenizer, name=name, **kwargs)


def load_classifier(spec: str, *, labels: Sequence[str] | None = None, **kwargs) -> Classifier:
    """Build a classifier from a spec: ``default``, ``vader`` (lexicon), ``ngram[:DIR]`` (TF-IDF judge), a trained
    adapter folder, ``module:function``, ``http(s)://...``, a local model folder or a hub id."""
    http_timeout = kwargs.pop("http_timeout", HTTP_TIMEOUT)
    if spec == "default":
        return load_default_classifier(**kwargs)
    if spec == "vader":
        from arena.lexicon import VaderClassifier

        return VaderClassifier()
    if spec == "ngram" or spec.startswith("ngram:"):
        from arena.ngram import PACKAGED_JUDGE_DIR, NgramClassifier

        return NgramClassifier.load(spec.partition(":")[2] or PACKAGED_JUDGE_DIR)
    if spec.startswith(("http://", "https://")):
        return HTTPClassifier(spec, labels, timeout=http_timeout)
    path = Path(spec).expanduser()
    if path.is_dir() and (path / "arena_classifier.json").exists():
        return load_default_classifier(path, **kwargs)
    if not path.exists() and defense_name(spec) in DEFENSE_NAMES:
        raise ClassifierError(
            f"{spec!r} is a defense, not a classifier: build it with "
            f"arena.build_defender({spec!r}, base=...), as the CLI's --classifier does"
        )
    if ":" in spec and not path.exists():
        return CallableClassifier.from_spec(spec, labels)
    return HFClassifier.from_pretrained(spec, labels=labels, **kwargs)
