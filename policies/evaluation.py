"""Held-out evaluation of a policy on fixed prompts: several samples per prompt, figures per prompt.

``heldout_scores(policy, reference, task, prompts, samples=4, length=8, seed=0)`` samples
``samples`` responses of ``length`` tokens per prompt (plain sampling, special tokens suppressed as
in training) and returns, per prompt (means over its samples):

- ``reward``: the task's reward model's P(target) of prompt + response;
- ``judge``: the judge's P(target) of the same text;
- ``kl``: the learner's KL to the reference on its own samples, summed over the response tokens,
  each token's KL exact over the vocabulary (so never negative), the same estimate for every
  algorithm whatever its training loss logs;
- ``nll``: the mean per-token negative log-likelihood of the response under the reference
  (``exp`` of its mean is the perplexity).

Per-prompt figures let a table pair runs on the same prompts and bootstrap over prompts and seeds
(:func:`arena.metrics.seed_item_interval`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from policies.lm import Batch, PolicyLM
from policies.tasks import GeneratorTask

FIGURES = ("reward", "judge", "kl", "nll")


def _masked_log_softmax(logits: torch.Tensor, special_ids: Sequence[int]) -> torch.Tensor:
    """Log-probabilities of the sampling distribution (special tokens suppressed)."""
    logits = logits.clone()
    logits[..., list(special_ids)] = float("-inf")
    return logits.log_softmax(-1)


@torch.no_grad()
def sample_with_kl(
    policy: PolicyLM, reference: PolicyLM, prompts: Sequence[str], length: int, generator: torch.Generator
) -> tuple[Batch, torch.Tensor, torch.Tensor]:
    """Sample ``length`` tokens per prompt from ``policy``; per response token, the exact
    KL(policy || reference) over the vocabulary ``(B, R)`` and the reference's log-probability of
    the sampled token ``(B, R)``. The policy's distribution comes from the sampling pass itself;
    the reference runs once more unless it is the policy."""
    steps: list[torch.Tensor] = []
    with policy.evaluating():
        batch = policy.sample(prompts, length, generator=generator, step_logits=steps)
    logp = _masked_log_softmax(torch.stack(steps, dim=1), policy.special_ids)
    if reference is policy:
        ref_logp = logp
    else:
        with reference.evaluating():
            _, _, ref_logits = reference(batch, reference=True, with_logits=True)
        ref_logp = _masked_log_softmax(ref_logits.to(logp.device), policy.special_ids)
    p = logp.exp()
    kl = torch.where(p > 0, p * (logp - ref_logp), torch.zeros_like(p)).sum(-1).clamp(min=0.0)
    taken = torch.gather(ref_logp, 2, batch.response[:, :, None].to(ref_logp.device)).squeeze(-1)
    return batch, kl, taken


@torch.no_grad()
def heldout_scores(
    policy: PolicyLM,
    reference: PolicyLM,
    task: GeneratorTask,
    prompts: Sequence[str],
    *,
    samples: int = 4,
    length: int = 8,
    seed: int = 0,
    batch_size: int = 32,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Per-prompt means over ``samples`` responses (see the module docstring): ``{figure: (P,)}``,
    plus ``responses`` (the P x samples decoded responses, prompt-major)."""
    if samples < 1 or length < 1:
        raise ValueError(f"held-out evaluation needs samples >= 1 and length >= 1 (got {samples}, {length})")
    from tqdm.auto import tqdm

    repeated = [p for p in prompts for _ in range(samples)]
    generator = torch.Generator().manual_seed(seed)
    per_text: dict[str, list[float]] = {k: [] for k in FIGURES}
    responses: list[str] = []
    for start in tqdm(range(0, len(repeated), batch_size), desc="held-out", disable=not progress):
        chunk = repeated[start : start + batch_size]
        batch, kl, ref_taken = sample_with_kl(policy, reference, chunk, length, generator)
        texts = policy.texts(batch)
        per_text["reward"] += task.reward.probability(texts).tolist()
        per_text["judge"] += task.judge.probability(texts).tolist()
        per_text["kl"] += kl.sum(-1).cpu().tolist()
        per_text["nll"] += (-ref_taken.mean(-1)).cpu().tolist()
        responses += policy.decode(batch.response)
    out = {k: np.asarray(v, dtype=float).reshape(len(prompts), samples).mean(axis=1) for k, v in per_text.items()}
    out["responses"] = np.asarray(responses, dtype=object).reshape(len(prompts), samples)
    return out
