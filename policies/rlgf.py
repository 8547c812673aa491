"""RLGF (Chang et al., 2023): RL with a guide policy: PPO++, AggreVaTeD and D2LOLS.

Per trajectory of L response tokens: with probability ``beta`` a switch point t is drawn
uniformly from {1, ..., L-1}; the roll-in policy's first t tokens are teacher-forced and the
roll-out policy completes the sequence (otherwise t = 0: an ordinary trajectory).

- ``ppo++``: guide roll-in, learner roll-out (a restart distribution over guide-visited states).
  Policy and value losses on the learner's tokens only (positions >= t).
- ``aggrevated``: learner roll-in, guide roll-out; t = 0 means a pure guide trajectory. Policy
  loss on the learner's prefix (positions < t); value loss on the guide's tokens (>= t), so the
  critic estimates the guide's value and the prefix returns are Monte-Carlo Q of the guide.
- ``d2lols``: AggreVaTeD with a separate guide critic (value head 1) for the first ``tau``
  iterations, then PPO++ with the learner's own critic (head 0).

Rewards: the task score on the final text plus the per-token KL penalty of the learner against
the reference, as in :mod:`policies.ppo`. The guide is any causal LM with the learner's
vocabulary; by default the frozen starting policy (the reference weights), sampled with
top-p 0.92 / top-k 50 as in the authors' IMDB setup.
"""

from __future__ import annotations

import numpy as np
import torch

from policies.config import MODES  # noqa: F401 (re-exported)
from policies.lm import PolicyLM
from policies.ppo import PPOConfig, PPOTrainer, RewardFn, Rollout

DEFAULT_BETA = {"ppo++": 0.6, "aggrevated": 0.8, "d2lols": 0.8}
GUIDE_SAMPLING = {"top_p": 0.92, "top_k": 50}


def switch_points(n: int, length: int, beta: float, rng: np.random.Generator) -> torch.Tensor:
    """Per trajectory: t uniform in {1..length-1} with probability beta, else 0."""
    if length < 2:
        return torch.zeros(n, dtype=torch.long)
    mixed = rng.random(n) < beta
    return torch.as_tensor(np.where(mixed, rng.integers(1, length, size=n), 0), dtype=torch.long)


def loss_masks(phase: str, switch: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(policy mask, value mask) ``(B, L)`` for ``phase`` ``ppo++`` or ``aggrevated``."""
    after = torch.arange(length)[None, :] >= switch[:, None]
    if phase == "ppo++":
        return after, after
    if phase == "aggrevated":
        return ~after, after
    raise ValueError(f"phase must be 'ppo++' or 'aggrevated', not {phase!r}")


class RLGF:
    """A learner trained with a guide: ``mode`` is ``ppo++``, ``aggrevated`` or ``d2lols``."""

    def __init__(
        self,
        policy: PolicyLM,
        config: PPOConfig,
        reward: RewardFn,
        *,
        mode: str = "ppo++",
        beta: float | None = None,
        tau: int = 20,
        guide: PolicyLM | None = None,
        guide_sampling: dict | None = None,
        sampling: dict | None = None,
        seed: int = 0,
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if mode == "d2lols" and len(policy.value_heads) < 2:
            raise ValueError(
                "d2lols needs a policy with two value heads (learner critic, guide critic): "
                "PolicyLM(..., value_heads=2)"
            )
        if guide is not None and guide.tokenizer.get_vocab() != policy.tokenizer.get_vocab():
            raise ValueError("the guide must share the learner's tokenizer (roll-in tokens are copied between them)")
        self.name = mode
        self.policy = policy
        self.trainer = PPOTrainer(policy, config)
        self.reward = reward
        self.mode = mode
        self.beta = DEFAULT_BETA[mode] if beta is None else beta
        if not 0 <= self.beta <= 1:
            raise ValueError("beta must be in [0, 1]")
        self.tau = tau
        self.guide = guide
        self.guide_sampling = GUIDE_SAMPLING if guide_sampling is None else guide_sampling
        self.sampling = sampling or {}
        self.rng = np.random.default_rng(seed)

    def phase(self, it: int) -> str:
        """``ppo++`` or ``aggrevated`` at iteration ``it``."""
        if self.mode == "d2lols":
            return "aggrevated" if it < self.tau else "ppo++"
        return self.mode

    def _guide_sample(self, prompts, length, queries, **forcing):
        if self.guide is None:
            return self.policy.sample(
                prompts, length, queries=queries, reference=True, **self.guide_sampling, **forcing
            )
        return self.guide.sample(prompts, length, queries=queries, **self.guide_sampling, **forcing)

    def iteration(self, prompts: list[str], length: int, it: int) -> Rollout:
        """One roll-in / roll-out step and a masked PPO update."""
        phase = self.phase(it)
        queries = self.policy.encode(prompts)
        switch = switch_points(len(prompts), length, self.beta, self.rng)
        if phase == "ppo++":
            guide = self._guide_sample(prompts, length, queries)
            batch = self.policy.sample(
                prompts, length, queries=queries, forced=guide.response, force_until=switch, **self.sampling
            )
        else:
            learner = self.policy.sample(prompts, length, queries=queries, **self.sampling)
            batch = self._guide_sample(prompts, length, queries, forced=learner.response, force_until=switch)
        policy_mask, value_mask = loss_masks(phase, switch, length)
        head = 1 if self.mode == "d2lols" and phase == "aggrevated" else 0
        texts = self.policy.texts(batch)
        scores, _ = self.reward(texts, prompts)
        stats = self.trainer.step(batch, scores, policy_mask=policy_mask, value_mask=value_mask, head=head)
        stats.update(phase=phase, learner_tokens=float(policy_mask.float().mean()))
        return Rollout(texts, self.policy.decode(batch.response), self.trainer.last["ref_logprobs"], stats)

    def agents(self) -> dict[str, tuple[PolicyLM, PPOTrainer]]:
        """The learner (evaluated and saved)."""
        return {"policy": (self.policy, self.trainer)}

    def extra_state(self) -> dict:
        """The switch-point generator's state."""
        return {"rng": self.rng.bit_generator.state}

    def load_extra_state(self, state: dict) -> None:
        """Restore :meth:`extra_state`."""
        if "rng" in state:
            self.rng.bit_generator.state = state["rng"]
