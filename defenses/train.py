"""Fine-tuning a text classifier: LoRA on any HF encoder, length-sorted batches, checkpoints and resume.

``arena train classifier`` calls :func:`train_classifier`; the result is a small folder
(``adapter_model.safetensors`` + ``adapter_config.json`` + ``arena_classifier.json``)
that ``load_classifier(folder)`` reads back. The committed default classifier was
made this way (README gives the exact command). With validation data the saved model is the
checkpoint of lowest validation loss (FireBERT's FACT recipe), not necessarily the last step.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from arena.checks import require_at_least
from arena.classifier import ClassifierError, hub_hint, padding_id
from arena.data import Example, LabelledData
from arena.overlap import file_sha256
from arena.resources import pick_device, resolve_base_model

CHECKPOINT = "checkpoint"


@dataclass
class TrainConfig:
    """Hyper-parameters of a LoRA fine-tune (defaults: the measured default-classifier recipe)."""

    base: str = "minilm"  # or "default" (the same packaged encoder the default classifier is built on)
    epochs: float = 1.0
    lr: float = 5e-4
    batch_size: int = 32
    max_length: int = 64
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.1
    lora_targets: list[str] = field(default_factory=lambda: ["query", "key", "value", "dense"])
    warmup: float = 0.06
    weight_decay: float = 0.0
    sort_chunk: int = 50
    checkpoint_every: int = 200
    seed: int = 0
    init: str | None = None  # a classifier folder of this recipe whose LoRA weights and head the training starts from

    def __post_init__(self):
        if self.base == "default":
            self.base = "minilm"
        if not 0.0 <= self.warmup < 1.0:
            raise ValueError(f"warmup is a fraction of the steps in [0, 1) (got {self.warmup})")
        if not self.epochs > 0 or not self.lr > 0 or self.weight_decay < 0 or not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError(
                f"training needs epochs > 0, lr > 0, weight decay >= 0 and LoRA dropout in [0, 1) (got epochs "
                f"{self.epochs}, lr {self.lr}, weight decay {self.weight_decay}, dropout {self.lora_dropout})"
            )
        require_at_least(
            "training",
            {
                name: (value, 1)
                for name, value in (
                    ("batch size", self.batch_size),
                    ("max length", self.max_length),
                    ("LoRA r", self.lora_r),
                    ("LoRA alpha", self.lora_alpha),
                    ("sort chunk", self.sort_chunk),
                    ("checkpoint every", self.checkpoint_every),
                )
            },
        )


def batch_order(lengths: list[int], batch_size: int, sort_chunk: int, seed: int) -> list[list[int]]:
    """Shuffled indices, length-sorted within chunks of ``batch_size * sort_chunk``, cut into
    batches whose order is shuffled again; deterministic for a seed (resume relies on it)."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * sort_chunk
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def _build_model(config: TrainConfig, labels: list[str]):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    base = resolve_base_model(config.base)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            base,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            trust_remote_code=False,
        )
        tokenizer = AutoTokenizer.from_pretrained(base, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise ClassifierError(
            f"could not load base encoder {config.base!r}{hub_hint(base)}; 'minilm' is the packaged offline one: {exc}"
        ) from exc
    finally:
        hf_logging.set_verbosity(verbosity)
    lora = LoraConfig(
        task_type="SEQ_CLS",
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.lora_targets,
        modules_to_save=["classifier"],
    )
    return get_peft_model(model, lora), tokenizer


def is_trained(folder: str | Path) -> bool:
    """Whether ``folder`` holds a finished classifier (a model and no checkpoint of an unfinished run)."""
    return (Path(folder) / "arena_classifier.json").exists() and not (Path(folder) / CHECKPOINT).exists()


def start_from(model, config: TrainConfig, labels: list[str]) -> None:
    """Load the LoRA weights and head of ``config.init`` (a folder :func:`train_classifier` wrote with
    the same base, labels and LoRA settings) into ``model``: fine-tuning goes on from that classifier."""
    from peft import set_peft_model_state_dict

    folder = Path(config.init)
    meta_path, weights = folder / "arena_classifier.json", folder / "adapter_model.safetensors"
    if not meta_path.exists() or not weights.exists():
        raise ValueError(f"{folder}: not a classifier folder of arena's recipe (no adapter and arena_classifier.json)")
    meta = json.loads(meta_path.read_text())
    theirs = meta.get("train", {})
    mismatched = [
        key for key in ("base", "lora_r", "lora_alpha", "lora_targets") if theirs.get(key) != getattr(config, key)
    ]
    if meta.get("labels") != labels or mismatched:
        raise ValueError(
            f"{folder}: its labels or LoRA settings ({', '.join(mismatched) or 'labels'}) differ from this training's; "
            "fine-tuning continues only a classifier of the same recipe"
        )
    set_peft_model_state_dict(model, load_file(str(weights)))


def _trainable_state(model) -> dict[str, torch.Tensor]:
    return {
        k: v.detach().cpu().contiguous()
        for k, v in model.state_dict().items()
        if "lora_" in k or "modules_to_save" in k
    }


def _save_adapter(model, out: Path, config: TrainConfig, labels: list[str], extra: dict) -> None:
    model.save_pretrained(str(out), safe_serialization=True)
    adapter_config = out / "adapter_config.json"
    settings = json.loads(adapter_config.read_text())
    settings["base_model_name_or_path"] = config.base  # not this machine's absolute path
    adapter_config.write_text(json.dumps(settings, indent=2, sort_keys=True))
    meta = {"base": config.base, "labels": labels, "train": asdict(config), **extra}
    (out / "arena_classifier.json").write_text(json.dumps(meta, indent=2))
    readme = out / "README.md"  # peft writes a model card template; we keep our own metadata file instead
    if readme.exists():
        readme.unlink()


Augment = Callable[[list[Example], int], list[Example]]
Rows = list[dict[str, list[int]]]


def _tokenize(tokenizer, examples: list[Example], max_length: int, keys: list[str] | None = None) -> Rows:
    """One row of token lists (``keys``: those the tokenizer gives among input ids and token types)
    per example."""
    seconds = [ex.text_pair for ex in examples] if examples[0].text_pair is not None else None
    encoded = tokenizer([ex.text for ex in examples], seconds, truncation=True, max_length=max_length)
    keys = keys or [k for k in ("input_ids", "token_type_ids") if k in encoded]
    return [{k: encoded[k][i] for k in keys} for i in range(len(examples))]


def _collate(rows: Rows, pad_id: int, device) -> dict[str, torch.Tensor]:
    """Rows padded to the longest into model inputs with an attention mask, on ``device``."""
    width = max(len(r["input_ids"]) for r in rows)
    inputs = {k: torch.full((len(rows), width), pad_id if k == "input_ids" else 0, dtype=torch.long) for k in rows[0]}
    inputs["attention_mask"] = torch.zeros((len(rows), width), dtype=torch.long)
    for row, enc in enumerate(rows):
        length = len(enc["input_ids"])
        for k, ids in enc.items():
            inputs[k][row, :length] = torch.tensor(ids)
        inputs["attention_mask"][row, :length] = 1
    return {k: v.to(device) for k, v in inputs.items()}


def validation_loss(model, rows: Rows, labels: list[int], pad_id: int, device, batch_size: int = 64) -> float:
    """Mean cross-entropy of ``model`` (in eval mode: no dropout) over the rows, in length-sorted batches."""
    was_training = model.training
    model.eval()
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            logits = model(**_collate([rows[i] for i in batch], pad_id, device)).logits.float()
            target = torch.tensor([labels[i] for i in batch], device=logits.device)
            total += torch.nn.functional.cross_entropy(logits, target, reduction="sum").item()
    model.train(was_training)
    return total / len(rows)


def train_classifier(
    data: LabelledData,
    out_dir: str | Path,
    config: TrainConfig,
    *,
    val: LabelledData | None = None,
    device: str | None = None,
    progress: bool = True,
    augment: Augment | None = None,
    augment_id: dict | None = None,
    overwrite: bool = False,
) -> dict:
    """LoRA fine-tune ``config.base`` on ``data``; checkpoints every ``checkpoint_every`` steps into
    ``out_dir/checkpoint`` and resumes from there when re-run with the same arguments.

    With ``val``, the validation loss is measured at every checkpoint and after the last step, and
    the saved model is the one with the lowest (the earliest on a tie); ``arena_classifier.json``
    records every measurement and the step chosen.
    ``augment(batch_examples, step)`` may return extra examples appended to that batch (FACT's
    co-tuning); it must be deterministic in ``step`` for resume to repeat the same batches.
    ``augment_id`` describes it in the run's fingerprint and the saved ``arena_classifier.json``. A folder that
    already holds a finished model (and no checkpoint) is refused unless ``overwrite``: a rerun must not silently
    retrain it.
    """
    if len(data) == 0:
        raise ValueError("no training examples")
    labels = data.label_names
    if any(not 0 <= ex.label < len(labels) for ex in data.examples):
        raise ValueError(f"labels must be in 0..{len(labels) - 1}")
    if val is not None:
        if len(val) == 0:
            raise ValueError(f"{val.source}: no validation examples")
        if val.label_names != labels:
            raise ValueError(
                f"validation labels {val.label_names} differ from the training data's {labels}; pass --labels"
            )
        if (val.examples[0].text_pair is None) != (data.examples[0].text_pair is None):
            raise ValueError("validation and training data must both be single texts or both pairs")
    out = Path(out_dir)
    if is_trained(out) and not overwrite:
        raise ValueError(
            f"{out} already holds a trained classifier; pick another --out or pass --overwrite to retrain it"
        )
    torch.manual_seed(config.seed)
    model, tokenizer = _build_model(config, labels)
    if config.init:
        start_from(model, config, labels)
    out.mkdir(parents=True, exist_ok=True)
    dev = pick_device(device)
    model.to(dev)
    examples: list[Example] = data.examples
    rows = _tokenize(tokenizer, examples, config.max_length)
    keys = list(rows[0])
    lengths = [len(r["input_ids"]) for r in rows]
    pad_id = padding_id(model, tokenizer)
    val_rows = _tokenize(tokenizer, val.examples, config.max_length, keys) if val is not None else None
    val_labels = [ex.label for ex in val.examples] if val is not None else None

    epochs = max(1, math.ceil(config.epochs))
    per_epoch = [batch_order(lengths, config.batch_size, config.sort_chunk, config.seed + e) for e in range(epochs)]
    schedule = [b for batches in per_epoch for b in batches]
    schedule = schedule[: max(1, int(round(len(per_epoch[0]) * config.epochs)))]
    total = len(schedule)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    warmup = max(1, int(config.warmup * total))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: (step + 1) / warmup if step < warmup else max(0.0, (total - step) / max(1, total - warmup)),
    )

    ckpt = out / CHECKPOINT
    step = 0
    fingerprint = {"data": data.fingerprint, "config": asdict(config), "augment": augment_id}
    if val is not None:  # only then: checkpoints of runs without validation keep their fingerprint
        fingerprint["val"] = val.fingerprint
    history: list[list[float]] = []  # [step, validation loss]
    best: dict[str, torch.Tensor] | None = None  # trainable weights at the lowest validation loss so far
    if (ckpt / "state.json").exists():
        state = json.loads((ckpt / "state.json").read_text())
        if state["fingerprint"] != fingerprint:
            raise ValueError(
                f"{ckpt} belongs to a different run (other data or settings); remove it or pick another --out"
            )
        model.load_state_dict(load_file(str(ckpt / "trainable.safetensors")), strict=False)
        opt_state = torch.load(ckpt / "optimizer.pt", weights_only=True)
        optimizer.load_state_dict(opt_state["optimizer"])
        scheduler.load_state_dict(opt_state["scheduler"])
        step = state["step"]
        history = state.get("val_history", [])
        if history:
            best = load_file(str(ckpt / "best.safetensors"))

    def validate() -> None:
        nonlocal best
        loss = round(validation_loss(model, val_rows, val_labels, pad_id, dev), 6)  # as recorded
        if not history or loss < min(past for _, past in history):
            best = _trainable_state(model)
        history.append([step, loss])

    def save_checkpoint() -> None:
        ckpt.mkdir(exist_ok=True)
        save_file(_trainable_state(model), str(ckpt / "trainable.safetensors"))
        if best is not None:
            save_file(best, str(ckpt / "best.safetensors"))
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, ckpt / "optimizer.pt")
        (ckpt / "state.json").write_text(json.dumps({"step": step, "fingerprint": fingerprint, "val_history": history}))

    model.train()
    started = time.time()
    losses: list[float] = []
    augmented = 0
    bar = tqdm(total=total, initial=step, desc="train classifier", unit="step", disable=not progress)
    while step < total:
        batch = schedule[step]
        batch_rows = [rows[i] for i in batch]
        labels_now = [examples[i].label for i in batch]
        if augment is not None:
            extra = augment([examples[i] for i in batch], step)
            if extra:
                batch_rows += _tokenize(tokenizer, extra, config.max_length, keys)
                labels_now += [ex.label for ex in extra]
                augmented += len(extra)
        loss = model(**_collate(batch_rows, pad_id, dev), labels=torch.tensor(labels_now, device=dev)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        losses.append(loss.item())
        bar.update(1)
        bar.set_postfix(
            loss=f"{np.mean(losses[-50:]):.3f}", **({"val_loss": f"{history[-1][1]:.4f}"} if history else {})
        )
        if step % config.checkpoint_every == 0 and step < total:
            if val is not None:
                validate()
            save_checkpoint()
    if val is not None and (not history or history[-1][0] != total):
        validate()
    bar.close()
    summary = {
        "steps": total,
        "train_examples": len(examples),
        "augmented_examples_this_run": augmented,
        "seconds_this_run": round(time.time() - started, 1),
        "final_loss_avg50": round(float(np.mean(losses[-50:])), 4) if losses else None,
    }
    extra = {
        "data": data.source,
        "data_fingerprint": data.fingerprint,
        **({"augment": augment_id} if augment_id else {}),
    }
    if Path(data.source).is_file():  # what `arena eval`/`match` check their data against (arena.overlap)
        extra["data_sha256"] = file_sha256(data.source)
    if val is not None:
        chosen_step, chosen_loss = min(history, key=lambda entry: entry[1])
        model.load_state_dict(best, strict=False)
        extra["validation"] = {
            "data": val.source,
            "data_fingerprint": val.fingerprint,
            "examples": len(val),
            "chosen_step": chosen_step,
            "val_loss": chosen_loss,
            "history": history,
        }
        summary.update(chosen_step=chosen_step, val_loss=chosen_loss)
    model.eval()
    _save_adapter(model, out, config, labels, extra)
    if ckpt.exists():
        for file in ckpt.iterdir():
            file.unlink()
        ckpt.rmdir()
    return summary
