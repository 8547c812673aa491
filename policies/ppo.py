"""PPO for causal LMs (TRL's PPOTrainer conventions, in one readable file).

One :meth:`PPOTrainer.step` takes a batch of sampled responses and one task score per sample:

1. old log-probs and values from the policy, reference log-probs (no gradient);
2. token rewards: ``-kl_coef * KL_t`` on every response token, plus the (optionally scaled or
   normalised) score on the last one; KL_t by the ``kl`` (log-ratio), ``abs``, ``mse``
   (half squared log-ratio) or ``full`` (whole-distribution) estimator;
3. GAE (gamma, lambda) with the policy's critic; advantages whitened over the trained tokens;
4. ``ppo_epochs`` passes over shuffled minibatches (optionally split into gradient-accumulation
   micro-batches): clipped policy loss, clipped value loss, gradient-norm clipping;
5. the KL controller (fixed, or Ziegler et al.'s adaptive one) sees this batch's KL.

``policy_mask`` / ``value_mask`` ``(B, R)`` restrict which tokens get policy / value loss (RLGF's
roll-in and roll-out). ``head`` picks the value head (D2LOLS's guide critic is head 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from policies.config import KL_ESTIMATORS, SCORE_NORMS, PPOConfig  # noqa: F401 (re-exported)
from policies.lm import Batch, PolicyLM


class FixedKLController:
    """A constant KL coefficient."""

    def __init__(self, value: float):
        self.value = value

    def update(self, current_kl: float, n_steps: int) -> None:
        """Nothing to adapt."""


class AdaptiveKLController:
    """Ziegler et al. (2019): move the coefficient so the batch KL tracks ``target``."""

    def __init__(self, value: float, target: float, horizon: int):
        self.value = value
        self.target = target
        self.horizon = horizon

    def update(self, current_kl: float, n_steps: int) -> None:
        """Proportional control, error clipped to +-20 %."""
        error = float(np.clip(current_kl / self.target - 1, -0.2, 0.2))
        self.value *= 1 + error * n_steps / self.horizon


class RunningMoments:
    """Running mean and standard deviation of scores (Chan et al.'s parallel update)."""

    def __init__(self):
        self.mean, self.var, self.count = 0.0, 1.0, 1e-24

    def update(self, x: torch.Tensor) -> None:
        """Fold a batch in."""
        n = x.numel()
        mean, var = float(x.mean()), float(x.var(unbiased=False)) if n > 1 else 0.0
        delta, total = mean - self.mean, self.count + n
        self.var = (self.var * self.count + var * n + delta**2 * self.count * n / total) / total
        self.mean += delta * n / total
        self.count = total

    @property
    def std(self) -> float:
        """The running standard deviation (never 0)."""
        return math.sqrt(max(self.var, 1e-12))


def kl_per_token(
    logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    estimator: str = "kl",
    logits: torch.Tensor | None = None,
    ref_logits: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-token KL(policy || reference) estimate ``(B, R)``."""
    ratio = logprobs - ref_logprobs
    if estimator == "kl":
        return ratio
    if estimator == "abs":
        return ratio.abs()
    if estimator == "mse":
        return 0.5 * ratio.square()
    if estimator == "full":
        if logits is None or ref_logits is None:
            raise ValueError("the 'full' KL estimator needs both models' logits")
        logp, logq = logits.log_softmax(-1), ref_logits.log_softmax(-1)
        return (logp.exp() * (logp - logq)).sum(-1)
    raise ValueError(f"unknown KL estimator {estimator!r}; choose from {', '.join(KL_ESTIMATORS)}")


def token_rewards(scores: torch.Tensor, kl: torch.Tensor, kl_coef: float) -> torch.Tensor:
    """``-kl_coef * KL`` on every token, plus the score on the last token ``(B, R)``."""
    rewards = -kl_coef * kl
    rewards[:, -1] += scores
    return rewards


def gae(values: torch.Tensor, rewards: torch.Tensor, gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over ``(B, R)`` tokens (value after the last token is 0)."""
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        next_value = values[:, t + 1] if t + 1 < rewards.shape[1] else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = delta + gamma * lam * last
        advantages[:, t] = last
    return advantages, advantages + values


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over ``mask`` (0 when the mask is empty)."""
    return (x * mask).sum() / mask.sum().clamp(min=1)


def whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """Zero-mean, unit-variance over the masked entries."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean).square(), mask)
    out = (x - mean) * torch.rsqrt(var + 1e-8)
    return out if shift_mean else out + mean


class PPOTrainer:
    """PPO on one :class:`PolicyLM` (its own optimizer, KL controller and score statistics)."""

    def __init__(self, policy: PolicyLM, config: PPOConfig | None = None):
        self.policy = policy
        self.config = config or PPOConfig()
        c = self.config
        self.optimizer = torch.optim.AdamW(
            policy.trainable_parameters(), lr=c.learning_rate, weight_decay=c.weight_decay, eps=c.adam_eps
        )
        self.kl_ctl = (
            AdaptiveKLController(c.init_kl_coef, c.target_kl, c.kl_horizon)
            if c.adaptive_kl
            else FixedKLController(c.init_kl_coef)
        )
        self.score_stats = RunningMoments()
        self.last: dict[
            str, torch.Tensor
        ] = {}  # the last step's rollout statistics (reference log-probs for perplexity)

    def process_scores(self, scores: torch.Tensor) -> torch.Tensor:
        """Scale or normalise by running statistics, then clip (config ``score_norm``/``score_clip``)."""
        if self.config.score_norm != "none":
            self.score_stats.update(scores)
            if self.config.score_norm == "normalize":
                scores = (scores - self.score_stats.mean) / self.score_stats.std
            else:
                scores = scores / self.score_stats.std
        if self.config.score_clip is not None:
            scores = scores.clamp(-self.config.score_clip, self.config.score_clip)
        return scores

    @torch.no_grad()
    def rollout_stats(self, batch: Batch, head: int = 0) -> dict[str, torch.Tensor]:
        """Old log-probs, values, reference log-probs and per-token KL of a sampled batch, in eval
        mode (dropout off: the reference and the policy agree at the start, two passes agree)."""
        full = self.config.kl_estimator == "full"
        with self.policy.evaluating():
            logprobs, values, logits = self.policy(batch, head=head, with_logits=full)
            ref_logprobs, _, ref_logits = self.policy(batch, reference=True, with_logits=full)
        kl = kl_per_token(logprobs, ref_logprobs, self.config.kl_estimator, logits, ref_logits)
        return {"logprobs": logprobs, "values": values, "ref_logprobs": ref_logprobs, "kl": kl}

    def step(
        self,
        batch: Batch,
        scores: torch.Tensor | np.ndarray | list,
        *,
        policy_mask: torch.Tensor | None = None,
        value_mask: torch.Tensor | None = None,
        head: int = 0,
    ) -> dict[str, float]:
        """One PPO update on ``batch`` with one score per sample; returns training statistics
        (``kl``: the batch's mean summed per-token KL estimate, as the controller sees it)."""
        c = self.config
        device = batch.input_ids.device
        scores = torch.as_tensor(scores, dtype=torch.float32, device=device)
        if scores.shape != (batch.input_ids.shape[0],):
            raise ValueError(
                f"need one score per sample: got shape {tuple(scores.shape)} for {batch.input_ids.shape[0]} samples"
            )
        old = self.last = self.rollout_stats(batch, head)
        old_values = old["values"]
        shape = old["logprobs"].shape
        policy_mask = torch.ones(shape, device=device) if policy_mask is None else policy_mask.to(device).float()
        value_mask = torch.ones(shape, device=device) if value_mask is None else value_mask.to(device).float()
        rewards = token_rewards(self.process_scores(scores), old["kl"], self.kl_ctl.value)
        advantages, returns = gae(old_values, rewards, c.gamma, c.lam)
        if c.whiten_advantages and policy_mask.sum() > 1:
            advantages = whiten(advantages, policy_mask)

        totals = {"pg_loss": 0.0, "vf_loss": 0.0, "clipfrac": 0.0, "approx_kl": 0.0}
        updates = 0
        n = shape[0]
        micro = c.mini_batch_size // c.gradient_accumulation_steps
        self.policy.train()
        for _ in range(c.ppo_epochs):
            order = torch.randperm(n)
            for start in range(0, n, c.mini_batch_size):
                rows = order[start : start + c.mini_batch_size]
                self.optimizer.zero_grad(set_to_none=True)
                for m in range(0, len(rows), micro):
                    idx = rows[m : m + micro]
                    stats = self._loss(
                        batch.select(idx),
                        head,
                        old["logprobs"][idx],
                        old_values[idx],
                        advantages[idx],
                        returns[idx],
                        policy_mask[idx],
                        value_mask[idx],
                    )
                    (stats["loss"] * len(idx) / len(rows)).backward()
                    for key in totals:
                        totals[key] += float(stats[key]) * len(idx) / len(rows)
                if c.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(self.policy.trainable_parameters(), c.max_grad_norm)
                self.optimizer.step()
                updates += 1
        kl_sum = float(old["kl"].sum(-1).mean())
        coef = self.kl_ctl.value
        self.kl_ctl.update(kl_sum, n)
        return {
            "kl": kl_sum,
            "kl_coef": coef,
            "score": float(scores.mean()),
            **{k: v / max(updates, 1) for k, v in totals.items()},
        }

    def _loss(
        self, batch: Batch, head: int, old_logprobs, old_values, advantages, returns, policy_mask, value_mask
    ) -> dict:
        c = self.config
        logprobs, values, _ = self.policy(batch, head=head)
        v_clipped = old_values + (values - old_values).clamp(-c.cliprange_value, c.cliprange_value)
        vf_loss = 0.5 * masked_mean(torch.max((values - returns).square(), (v_clipped - returns).square()), value_mask)
        ratio = (logprobs - old_logprobs).exp()
        pg = torch.max(-advantages * ratio, -advantages * ratio.clamp(1 - c.cliprange, 1 + c.cliprange))
        pg_loss = masked_mean(pg, policy_mask)
        with torch.no_grad():
            clipfrac = masked_mean(((ratio - 1).abs() > c.cliprange).float(), policy_mask)
            approx_kl = 0.5 * masked_mean((logprobs - old_logprobs).square(), policy_mask)
        return {
            "loss": pg_loss + c.vf_coef * vf_loss,
            "pg_loss": pg_loss.detach(),
            "vf_loss": vf_loss.detach(),
            "clipfrac": clipfrac,
            "approx_kl": approx_kl,
        }

    # -- checkpoints -----------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Optimizer, KL coefficient and score statistics (for resuming)."""
        return {
            "optimizer": self.optimizer.state_dict(),
            "kl_coef": self.kl_ctl.value,
            "score_stats": vars(self.score_stats).copy(),
            "config": asdict(self.config),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`."""
        self.optimizer.load_state_dict(state["optimizer"])
        self.kl_ctl.value = state["kl_coef"]
        vars(self.score_stats).update(state["score_stats"])


@dataclass
class Rollout:
    """What one iteration produced: texts (prompt + response), responses, reference log-probs, stats."""

    texts: list[str]
    responses: list[str]
    ref_logprobs: torch.Tensor
    stats: dict[str, float]


RewardFn = Callable[[list[str], list[str]], tuple[np.ndarray, np.ndarray]]  # (texts, prompts) -> (reward, task score)


class PPO:
    """Single-agent PPO: sample, score prompt + response, one :class:`PPOTrainer` step."""

    name = "ppo"

    def __init__(self, policy: PolicyLM, config: PPOConfig, reward: RewardFn, sampling: dict | None = None):
        self.policy = policy
        self.trainer = PPOTrainer(policy, config)
        self.reward = reward
        self.sampling = sampling or {}

    def iteration(self, prompts: list[str], length: int, it: int) -> Rollout:
        """Sample ``length`` tokens per prompt and update on the reward."""
        batch = self.policy.sample(prompts, length, **self.sampling)
        texts = self.policy.texts(batch)
        scores, _ = self.reward(texts, prompts)
        stats = self.trainer.step(batch, scores)
        return Rollout(texts, self.policy.decode(batch.response), self.trainer.last["ref_logprobs"], stats)

    def agents(self) -> dict[str, tuple[PolicyLM, PPOTrainer]]:
        """Named (policy, trainer) pairs, for checkpoints; the first is the one to evaluate and save."""
        return {"policy": (self.policy, self.trainer)}

    def extra_state(self) -> dict:
        """Algorithm state beyond the agents (none for PPO)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        """Restore :meth:`extra_state`."""
