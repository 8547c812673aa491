"""Supervised fine-tuning of a policy LM on texts of one class: a guide for RLGF (``--guide DIR``).

RLGF's guide should know the task; the untrained policy does not. ``arena train sft`` fine-tunes
the policy LM (LoRA) with the language-modelling loss on the target class's texts of a training
set (e.g. the positive SST-2 training sentences), never on the evaluation prompts. The folder it
writes is a policy folder (:meth:`policies.lm.PolicyLM.save`), which ``arena train policy --guide
DIR`` loads. A checkpoint every ``checkpoint_every`` steps (weights, Adam state, the data order)
lets an interrupted run resume where it stopped.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from policies.config import SFTConfig  # noqa: F401 (re-exported)
from policies.lm import PolicyLM

CHECKPOINT = "sft_checkpoint.pt"
SFT_FILE = "arena_sft.json"


def lm_loss(policy: PolicyLM, texts: Sequence[str], max_tokens: int) -> torch.Tensor:
    """Mean next-token cross-entropy of ``texts`` (padding ignored)."""
    ids = [policy.encode([t])[0][:max_tokens] for t in texts]
    width = max(len(i) for i in ids)
    pad = policy.tokenizer.pad_token_id if policy.tokenizer.pad_token_id is not None else 0
    input_ids = torch.full((len(ids), width), pad, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, tokens in enumerate(ids):
        input_ids[row, : len(tokens)] = torch.tensor(tokens)
        mask[row, : len(tokens)] = 1
    input_ids, mask = input_ids.to(policy.device_), mask.to(policy.device_)
    labels = input_ids.masked_fill(mask == 0, -100)
    return policy.model(input_ids=input_ids, attention_mask=mask, labels=labels).loss


def train_sft(
    texts: Sequence[str], out: str | Path, config: SFTConfig, *, device: str | None = None, progress: bool = True
) -> dict:
    """Fine-tune ``config.policy`` on ``texts``; writes the policy folder ``out`` and returns a summary
    (steps, first and last loss). Re-running with the same ``out`` resumes from its checkpoint."""
    if not texts:
        raise ValueError("no training texts (is --target a class of --data?)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    policy = PolicyLM.from_pretrained(config.policy, lora_r=config.lora_r, device=device, name="sft")
    optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=config.lr)
    steps = max(1, math.ceil(config.epochs * len(texts) / config.batch_size))
    order = np.concatenate(
        [np.random.default_rng(config.seed + e).permutation(len(texts)) for e in range(math.ceil(config.epochs))]
    )
    start, losses = 0, []
    if (out / CHECKPOINT).exists():
        state = torch.load(out / CHECKPOINT, weights_only=True, map_location="cpu")
        policy.load_state_dict(state["weights"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        start, losses = int(state["step"]), list(state["losses"])
    from tqdm.auto import tqdm

    bar = tqdm(total=steps, initial=start, desc="sft", unit="step", disable=not progress)
    policy.train()
    for step in range(start, steps):
        batch = [texts[i] for i in order[step * config.batch_size : (step + 1) * config.batch_size]]
        optimizer.zero_grad(set_to_none=True)
        loss = lm_loss(policy, batch, config.max_tokens)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
        if (step + 1) % config.checkpoint_every == 0 and step + 1 < steps:
            tmp = out / (CHECKPOINT + ".tmp")
            torch.save(
                {
                    "step": step + 1,
                    "losses": losses,
                    "optimizer": optimizer.state_dict(),
                    "weights": {k: v.detach().cpu() for k, v in policy.named_parameters() if v.requires_grad},
                },
                tmp,
            )
            os.replace(tmp, out / CHECKPOINT)
    bar.close()
    policy.eval()
    policy.save(out)
    summary = {
        "steps": steps,
        "texts": len(texts),
        "first_loss": round(losses[0], 4) if losses else None,
        "last_loss": round(float(np.mean(losses[-10:])), 4) if losses else None,
        "config": asdict(config),
    }
    (out / SFT_FILE).write_text(json.dumps(summary, indent=1))
    (out / CHECKPOINT).unlink(missing_ok=True)
    return summary
