"""The RL tasks on arena parts: prompts, reward, judge, metrics.

**Generator** (the CORY/RLGF IMDB task):

- Prompts: the first 2-8 words (drawn per review) of the texts of a data set; the last
  ``heldout`` texts are kept apart for evaluation.
- Responses: a length drawn per batch in [min_tokens, max_tokens].
- Reward: an arena classifier's score for a target class on prompt + response: ``logit``
  (log-odds of the target class, what TRL's and CORY's IMDB runs feed PPO) or ``prob``.
- Judge: a second, independent classifier (default ``vader``, a lexicon model) scores the same
  texts; ``gap`` = reward model's target probability - judge's: how much of the reward the judge
  does not confirm (reward hacking).

**Attacker**: the prompt is a text the defender (and the judge) classify correctly; the policy appends a
short continuation; reward = P_defender(wrong) x P_judge(true) x similarity (:class:`AttackReward`).
The judge (default ``ngram``, TF-IDF + logistic regression, :mod:`arena.ngram`) is a different model
family from the neural defenders, so a continuation that flips the defender but not the judge has
not simply changed the text's sentiment. With a novelty weight W (``--novelty W``, after
curiosity-driven red teaming, Hong et al. 2024) the reward is multiplied by 1 + W x novelty, where
novelty is 1 minus the highest cosine similarity of the appended text's sentence embedding to those
of earlier successful attacks (a successful attack fools the defender while the judge keeps the
label): a new way to fool the defender pays more than a repeat.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from arena.classifier import Classifier
from arena.data import class_index
from arena.metrics import distinct_n
from arena.scorer import Scorer
from arena.words import added_text

NOVELTY_MEMORY = 1024  # successful attacks the novelty bonus compares with


class ClassifierReward:
    """Score texts with a classifier's target class: ``logit`` (log-odds) or ``prob``."""

    def __init__(self, classifier: Classifier, target: str | int = "positive", kind: str = "logit"):
        if kind not in ("logit", "prob"):
            raise ValueError("reward kind must be 'logit' or 'prob'")
        labels = list(classifier.labels)
        self.target = class_index(target, labels, "the classifier's")
        self.scorer = Scorer(classifier, cache_size=50_000)
        self.kind = kind
        self.labels = labels

    def probability(self, texts: Sequence[str]) -> np.ndarray:
        """P(target class) per text."""
        return self.scorer.predict_proba(list(texts))[:, self.target] if texts else np.zeros(0)

    def __call__(self, texts: Sequence[str], prompts: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(reward per text, P(target) per text); the prompts do not matter here."""
        p = self.probability(texts)
        if self.kind == "prob":
            return p.astype(np.float32), p
        q = np.clip(p, 1e-6, 1 - 1e-6)
        return np.log(q / (1 - q)).astype(np.float32), p


def prompts_from_texts(
    texts: Sequence[str], rng: np.random.Generator, min_words: int = 2, max_words: int = 8
) -> list[str]:
    """The first k words of each text, k uniform in [min_words, max_words] (capped by the text's length)."""
    out = []
    for text in texts:
        words = text.split()
        if words:
            out.append(" ".join(words[: int(rng.integers(min_words, max_words + 1))]))
    return out


def perplexity(ref_logprobs: torch.Tensor) -> float:
    """Perplexity of the responses under the reference LM, from its per-token log-probs ``(B, R)``."""
    return math.exp(-float(ref_logprobs.mean())) if ref_logprobs.numel() else float("nan")


@dataclass
class GeneratorTask:
    """Prompts and scorers of the generator task."""

    train_texts: list[str]
    heldout_texts: list[str]
    reward: ClassifierReward
    judge: ClassifierReward
    min_tokens: int = 4
    max_tokens: int = 16
    min_words: int = 2
    max_words: int = 8

    def __post_init__(self):
        if not self.train_texts:
            raise ValueError("the generator task needs texts to cut prompts from")
        if not 1 <= self.min_tokens <= self.max_tokens:
            raise ValueError("need 1 <= min_tokens <= max_tokens")

    def prompts(self, rng: np.random.Generator, n: int) -> list[str]:
        """``n`` training prompts (texts drawn with replacement, a fresh cut each time)."""
        picks = rng.integers(0, len(self.train_texts), size=n)
        return prompts_from_texts([self.train_texts[i] for i in picks], rng, self.min_words, self.max_words)

    @property
    def heldout_size(self) -> int:
        """How many texts are held out."""
        return len(self.heldout_texts)

    def heldout_prompts(self, n: int, seed: int = 1234) -> list[str]:
        """The same ``n`` held-out prompts every time (fixed seed)."""
        texts = self.heldout_texts or self.train_texts
        return prompts_from_texts(texts[:n], np.random.default_rng(seed), self.min_words, self.max_words)

    def response_length(self, rng: np.random.Generator) -> int:
        """This batch's response length."""
        return int(rng.integers(self.min_tokens, self.max_tokens + 1))

    def metrics(
        self,
        texts: Sequence[str],
        responses: Sequence[str],
        ref_logprobs: torch.Tensor | None = None,
        prompts: Sequence[str] = (),
    ) -> dict[str, float]:
        """Reward-model probability, judge probability, their gap, distinct-1/2 and perplexity."""
        reward_p = float(self.reward.probability(texts).mean())
        judge_p = float(self.judge.probability(texts).mean())
        out = {
            "reward": reward_p,
            "judge": judge_p,
            "gap": reward_p - judge_p,
            "distinct_1": distinct_n(responses, 1),
            "distinct_2": distinct_n(responses, 2),
        }
        if ref_logprobs is not None:
            out["ppl"] = perplexity(ref_logprobs)
        return out


class AttackReward:
    """The attacker task's reward for x -> x': P_defender(wrong | x') * P_judge(true | x') * sim(x, x').

    The policy must fool the defender while an independent judge still reads the true label and
    the similarity model still finds the same meaning. ``labels`` maps each prompt (an original
    text) to its true label id, in the defender's label order.
    """

    def __init__(
        self,
        defender: Classifier,
        judge: Classifier,
        similarity,
        labels: dict[str, int] | None = None,
        *,
        novelty: float = 0.0,
        memory: int = NOVELTY_MEMORY,
    ):
        if novelty < 0:
            raise ValueError(f"the novelty weight must be >= 0 (got {novelty})")
        self.defender = Scorer(defender, cache_size=50_000)
        self.judge = Scorer(judge, cache_size=50_000)
        self.judge_index = label_map(defender.labels, judge.labels)
        self.similarity = similarity
        self.labels = labels or {}
        self.novelty = novelty
        self.memory_size = memory
        self.memory: list[str] = []  # the added text of the latest successful attacks (training only)

    def parts(
        self, originals: Sequence[str], texts: Sequence[str], labels: Sequence[int], p_def: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Per text: p_wrong (defender), p_judge (judge's P(true)), sim, reward, fooled, judge_keeps.
        ``p_def``: the defender's probabilities when the caller already has them (an attack's Scorer)."""
        y = np.asarray(labels, dtype=int)
        rows = np.arange(len(y))
        p_def = self.defender.predict_proba(list(texts)) if p_def is None else p_def
        p_judge_all = self.judge.predict_proba(list(texts))
        p_judge = p_judge_all[rows, self.judge_index[y]]
        sim = np.asarray(self.similarity.similarity(list(originals), list(texts)), dtype=np.float64)
        p_wrong = 1.0 - p_def[rows, y]
        return {
            "p_wrong": p_wrong,
            "p_judge": p_judge,
            "sim": sim,
            "reward": p_wrong * p_judge * sim,
            "fooled": p_def.argmax(1) != y,
            "judge_keeps": self._keeps(p_judge_all, y),
        }

    def _keeps(self, p_judge_all: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether the judge reads the true label (a tie does not contradict it)."""
        return p_judge_all[np.arange(len(y)), self.judge_index[y]] >= p_judge_all.max(1)

    def both_right(self, texts: Sequence[str], labels: Sequence[int]) -> np.ndarray:
        """Per text: the defender predicts its label and the judge keeps it (no similarity needed)."""
        y = np.asarray(labels, dtype=int)
        return (self.defender.predict_proba(list(texts)).argmax(1) == y) & self._keeps(
            self.judge.predict_proba(list(texts)), y
        )

    def __call__(self, texts: Sequence[str], prompts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(reward, P_defender(wrong)) for prompt -> text pairs; prompts must be known originals."""
        try:
            labels = [self.labels[p] for p in prompts]
        except KeyError as exc:
            raise KeyError(f"attack reward: prompt {exc} is not one of the task's texts") from None
        parts = self.parts(prompts, texts, labels)
        reward = parts["reward"]
        if self.novelty:
            added = [added_text(p, t) for p, t in zip(prompts, texts)]
            reward = reward * (1.0 + self.novelty * self.novelty_of(added))
            self.remember([a for a, ok in zip(added, parts["fooled"] & parts["judge_keeps"]) if ok])
        return reward.astype(np.float32), parts["p_wrong"]

    def novelty_of(self, added: Sequence[str]) -> np.ndarray:
        """Per added text: 1 - its highest cosine similarity to the remembered successful attacks
        (1 while nothing is remembered), clipped to [0, 1]."""
        if not self.memory:
            return np.ones(len(added))
        vectors = self.similarity.embed(list(added) + self.memory)
        cos = vectors[: len(added)] @ vectors[len(added) :].T
        return np.clip(1.0 - cos.max(axis=1), 0.0, 1.0)

    def remember(self, added: Sequence[str]) -> None:
        """Add successful attacks' added texts to the memory (the latest ``memory_size`` kept)."""
        self.memory = (self.memory + list(added))[-self.memory_size :]


def label_map(defender_labels: Sequence[str], judge_labels: Sequence[str]) -> np.ndarray:
    """Index in the judge's labels of each defender label (by name, case-insensitive)."""
    judge = [str(label).lower() for label in judge_labels]
    missing = [label for label in defender_labels if str(label).lower() not in judge]
    if missing:
        raise ValueError(
            f"the judge's labels {list(judge_labels)} lack the defender's {missing}: pick a judge with the same classes"
        )
    return np.array([judge.index(str(label).lower()) for label in defender_labels])


@dataclass
class AttackerTask:
    """Continue a correctly classified text with up to ``max_tokens`` tokens so the defender flips
    while the judge and the similarity model keep its meaning."""

    train: list[tuple[str, int]]
    heldout: list[tuple[str, int]]
    reward: AttackReward
    min_tokens: int = 4
    max_tokens: int = 16

    def __post_init__(self):
        if not self.train:
            raise ValueError("the attacker task needs texts the defender classifies correctly")
        for text, label in self.train + self.heldout:
            self.reward.labels[text] = label

    def prompts(self, rng: np.random.Generator, n: int) -> list[str]:
        """``n`` training texts (drawn with replacement)."""
        return [self.train[i][0] for i in rng.integers(0, len(self.train), size=n)]

    @property
    def heldout_size(self) -> int:
        """How many texts are held out."""
        return len(self.heldout)

    def heldout_prompts(self, n: int, seed: int = 1234) -> list[str]:
        """The first ``n`` held-out texts."""
        return [text for text, _ in (self.heldout or self.train)[:n]]

    def response_length(self, rng: np.random.Generator) -> int:
        """This batch's continuation length."""
        return int(rng.integers(self.min_tokens, self.max_tokens + 1))

    def metrics(
        self,
        texts: Sequence[str],
        responses: Sequence[str],
        ref_logprobs: torch.Tensor | None = None,
        prompts: Sequence[str] = (),
    ) -> dict[str, float]:
        """Mean reward, attack success rate, judge agreement on successes (``judge``), ``gap`` (share of
        texts that fool the defender *and* flip the judge), similarity, distinct-n and perplexity."""
        parts = self.reward.parts(prompts, texts, [self.reward.labels[p] for p in prompts])
        fooled = parts["fooled"]
        out = {
            "reward": float(parts["reward"].mean()),
            "success": float(fooled.mean()),
            "judge": float(parts["judge_keeps"][fooled].mean()) if fooled.any() else 1.0,
            "gap": float((fooled & ~parts["judge_keeps"]).mean()),
            "similarity": float(parts["sim"].mean()),
            "distinct_1": distinct_n(responses, 1),
            "distinct_2": distinct_n(responses, 2),
        }
        if ref_logprobs is not None:
            out["ppl"] = perplexity(ref_logprobs)
        return out
