"""CORY (Ma et al., NeurIPS 2024): cooperative multi-agent RL fine-tuning of one LM.

Two copies of the starting policy, a *pioneer* and an *observer*, each with its own value head,
optimizer and PPO trainer, and one shared frozen reference (the adapter switched off):

1. the pioneer answers the query: a1 ~ pi_pio(. | s0);
2. the observer sees the pioneer's sentence in its prompt (default: the paper's IMDB template
   ``I can make this sentence "<s0 + a1>" more positive: <s0>``) and continues s0: a2;
3. r1 = r(s0 + a1), r2 = r(s0 + a2) (the observer is scored on s0 + a2, not on its long prompt);
   both agents get the collective reward r1 + r2, each with its own token-level KL penalty on
   its own input;
4. every ``exchange_every`` iterations (default 5) the roles swap.

Role exchange here swaps which agent plays which role, so each agent keeps its weights, Adam
state and KL controller. The authors' code swaps by saving both models and reloading each into
the other's trainer, which resets Adam and the adaptive-KL state at every swap; ours does not.
Either agent alone answers plain queries at inference; ``agents()`` lists agent 1 first.
"""

from __future__ import annotations

import numpy as np

from policies.config import IMDB_TEMPLATE  # noqa: F401 (re-exported)
from policies.lm import PolicyLM
from policies.ppo import PPOConfig, PPOTrainer, RewardFn, Rollout


class CORY:
    """Pioneer/observer PPO with a shared reward and periodic role exchange."""

    name = "cory"

    def __init__(
        self,
        agent1: PolicyLM,
        agent2: PolicyLM,
        config: PPOConfig,
        reward: RewardFn,
        *,
        template: str = IMDB_TEMPLATE,
        exchange_every: int = 5,
        sampling: dict | None = None,
    ):
        if "{sentence}" not in template or "{query}" not in template:
            raise ValueError("the observer template needs {sentence} (query + pioneer response) and {query}")
        if exchange_every < 1:
            raise ValueError("exchange_every must be >= 1")
        self.policies = [agent1, agent2]
        self.trainers = [PPOTrainer(agent1, config), PPOTrainer(agent2, config)]
        self.reward = reward
        self.template = template
        self.exchange_every = exchange_every
        self.sampling = sampling or {}
        self.pioneer = 0  # index of the agent playing pioneer

    def observer_prompts(self, queries: list[str], pioneer_texts: list[str]) -> list[str]:
        """The observer's prompts: the template filled with the pioneer's sentence and the query."""
        return [self.template.format(sentence=sentence, query=query) for query, sentence in zip(queries, pioneer_texts)]

    def iteration(self, prompts: list[str], length: int, it: int) -> Rollout:
        """One cooperative step; swaps roles after every ``exchange_every``-th iteration."""
        p, o = self.pioneer, 1 - self.pioneer
        pio, obs = self.policies[p], self.policies[o]
        queries = pio.encode(prompts)
        b1 = pio.sample(prompts, length, queries=queries, **self.sampling)
        texts1 = pio.texts(b1)
        b2 = obs.sample(self.observer_prompts(prompts, texts1), length, **self.sampling)
        texts2 = obs.join(queries, b2.response)
        r1, p1 = self.reward(texts1, prompts)
        r2, p2 = self.reward(texts2, prompts)
        shared = np.asarray(r1) + np.asarray(r2)
        s1 = self.trainers[p].step(b1, shared)
        s2 = self.trainers[o].step(b2, shared)
        if (it + 1) % self.exchange_every == 0:
            self.pioneer = o
        return Rollout(
            texts1, pio.decode(b1.response), self.trainers[p].last["ref_logprobs"], self.agent_stats(p, s1, s2, p1, p2)
        )

    @staticmethod
    def agent_stats(p: int, pioneer: dict, observer: dict, p_pioneer, p_observer) -> dict:
        """One iteration's statistics by agent, whichever role each played: ``kl`` is agent 1's (the
        agent evaluated and saved as the policy, so the KL column and the held-out reward, judge and
        perplexity are of one agent), ``kl_agent2`` agent 2's; each agent's mean P(target) on its
        own texts this iteration (``p_target_agent1/2``), the pioneer's number and its PPO statistics."""
        by_agent = {p: (pioneer, p_pioneer), 1 - p: (observer, p_observer)}
        return {
            "kl": by_agent[0][0]["kl"],
            "kl_agent2": by_agent[1][0]["kl"],
            "p_target_agent1": float(np.mean(by_agent[0][1])),
            "p_target_agent2": float(np.mean(by_agent[1][1])),
            "pioneer": p + 1,
            **{f"pioneer_{k}": v for k, v in pioneer.items() if k != "kl"},
        }

    def agents(self) -> dict[str, tuple[PolicyLM, PPOTrainer]]:
        """Agent 1 (evaluated and saved as the policy) and agent 2."""
        return {"policy": (self.policies[0], self.trainers[0]), "agent2": (self.policies[1], self.trainers[1])}

    def extra_state(self) -> dict:
        """Which agent is the pioneer."""
        return {"pioneer": self.pioneer}

    def load_extra_state(self, state: dict) -> None:
        """Restore :meth:`extra_state`."""
        self.pioneer = int(state.get("pioneer", 0))
