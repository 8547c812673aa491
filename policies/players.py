"""Trained RL policies in the arena: ``rl:DIR`` as an attacker, ``gen:DIR`` as a generator.

They live with the policies (not in ``attackers/``) because they are built on them; the registry
(:mod:`arena.zoo`) offers them beside the word-swap attackers.

**Attacker** (``arena train policy --task attacker``):

Per example the defender gets right: ``samples`` continuations of up to ``tokens`` tokens are
sampled from the policy (all examples of a chunk in one batch), every x' = x + continuation is
scored by the defender through the arena Scorer (the queries), by the judge and by the
similarity model, and the candidate with the highest attack reward
P_defender(wrong) x P_judge(true) x sim(x, x') is kept. The attack succeeded when the defender
is wrong on it. ``extra`` records ``judge_keeps`` (the selecting judge still reads the true label:
shown, never summarised, as that judge chose the text) and ``added_tokens``; with an
``eval_judge``, a classifier that took no part in training or selection, also
``eval_judge_keeps``, which ``arena match`` summarises as ``eval_judge_agreement``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from arena.attack import FAILED, SKIPPED, SUCCEEDED
from arena.data import Example
from arena.results import ExampleResult
from arena.scorer import Scorer
from arena.words import WordView


class RLPolicyAttacker:
    """``rl:DIR``: sample continuations from a trained policy; keep the best by attack reward."""

    def __init__(
        self,
        policy_dir: str,
        *,
        judge: str | None = None,
        eval_judge: str | None = None,
        samples: int = 8,
        tokens: int | None = None,
        chunk_size: int = 16,
        seed: int = 0,
        device: str | None = None,
    ):
        from arena.classifier import load_classifier
        from arena.similarity import SentenceSimilarity
        from policies.lm import PolicyLM, read_policy

        task = read_policy(policy_dir, "attacker")
        self.policy = PolicyLM.load(task.folder, device=device)
        self.judge_spec = judge or task.judge
        if eval_judge is not None and eval_judge == self.judge_spec:
            raise ValueError(
                f"--eval-judge {eval_judge!r} is the judge that trains and selects the attacks; label preservation "
                "must be reported by a classifier that took no part (e.g. vader, or the FACT model: fact)"
            )
        self.judge = load_classifier(self.judge_spec)
        self.eval_judge = load_classifier(eval_judge) if eval_judge else None
        self.similarity = SentenceSimilarity(device=device)
        self.samples = samples
        self.tokens = tokens or task.max_tokens
        self.chunk_size = chunk_size
        self.seed = seed
        self.name = f"rl:{policy_dir}"

    def attack(self, items: Sequence[tuple[int, Example]], scorer: Scorer) -> Iterator[ExampleResult]:
        """Attack in chunks; one policy batch and one defender call per chunk."""
        from policies.tasks import AttackReward

        reward = AttackReward(scorer.classifier, self.judge, self.similarity)
        generator = torch.Generator().manual_seed(self.seed)
        for start in range(0, len(items), self.chunk_size):
            yield from self._chunk(items[start : start + self.chunk_size], scorer, reward, generator)

    def _chunk(self, items, scorer: Scorer, reward, generator) -> Iterator[ExampleResult]:
        clock = time.perf_counter()
        for _, ex in items:
            if ex.text_pair is not None:
                raise ValueError(
                    "the RL attacker appends to single texts; (premise, hypothesis) pairs are not supported"
                )
        owners = [ex.id for _, ex in items]
        clean = scorer.predict_proba([ex.text for _, ex in items], owners)
        active = [i for i, (_, ex) in enumerate(items) if int(clean[i].argmax()) == ex.label]
        best: dict[int, tuple[str, np.ndarray, dict]] = {}
        if active:
            prompts = [items[i][1].text for i in active for _ in range(self.samples)]
            batch = self.policy.sample(prompts, self.tokens, generator=generator)
            texts = self.policy.texts(batch)
            labels = [items[i][1].label for i in active for _ in range(self.samples)]
            p_def = scorer.predict_proba(texts, [items[i][1].id for i in active for _ in range(self.samples)])
            parts = reward.parts(prompts, texts, labels, p_def=p_def)
            for j, i in enumerate(active):
                rows = slice(j * self.samples, (j + 1) * self.samples)
                k = j * self.samples + int(np.argmax(parts["reward"][rows]))
                best[i] = (
                    texts[k],
                    p_def[k],
                    {key: float(parts[key][k]) for key in ("reward", "sim", "p_judge")}
                    | {"judge_keeps": bool(parts["judge_keeps"][k]), "added_tokens": self.tokens},
                )
        if self.eval_judge is not None and best:
            chosen = sorted(best)
            verdicts = self.eval_judge.predict_proba([best[i][0] for i in chosen])
            for i, row in zip(chosen, verdicts):
                y = items[i][1].label
                best[i][2]["eval_judge_keeps"] = bool(row[y] >= row.max())
        per_example = (time.perf_counter() - clock) / len(items)
        for i, (idx, ex) in enumerate(items):
            words = len(WordView.of(ex.text))
            if i not in best:
                yield ExampleResult(
                    idx=idx,
                    example_id=ex.id,
                    label=ex.label,
                    original_text=ex.text,
                    status=SKIPPED,
                    original_pred=int(clean[i].argmax()),
                    original_proba=[round(float(x), 6) for x in clean[i]],
                    queries=scorer.queries(ex.id),
                    words_total=words,
                    seconds=per_example,
                )
            else:
                text, proba, extra = best[i]
                fooled = int(proba.argmax()) != ex.label
                yield ExampleResult(
                    idx=idx,
                    example_id=ex.id,
                    label=ex.label,
                    original_text=ex.text,
                    status=SUCCEEDED if fooled else FAILED,
                    original_pred=int(clean[i].argmax()),
                    original_proba=[round(float(x), 6) for x in clean[i]],
                    perturbed_text=text,
                    perturbed_pred=int(proba.argmax()),
                    perturbed_proba=[round(float(x), 6) for x in proba],
                    queries=scorer.queries(ex.id),
                    words_changed=max(0, len(WordView.of(text)) - words),
                    words_total=words,
                    similarity=extra.pop("sim"),
                    seconds=per_example,
                    extra=extra,
                )
            scorer.forget(ex.id)


class RLPolicyGenerator:
    """``gen:DIR``: a generator policy (``arena train policy --task generator``) in a match.

    For each example, the policy continues the first 2-8 words of its text (seeded cut) with
    ``tokens`` tokens. The defender (through the Scorer) and the judge score the generated text
    for the policy's target class. ``succeeded`` = a reward hack: the defender says target and
    the judge does not; ``extra`` holds both probabilities and their gap, which ``arena match``
    summarises as ``reward_hacking_gap`` (defender P(target) - judge P(target)).
    """

    def __init__(
        self,
        policy_dir: str,
        *,
        judge: str | None = None,
        tokens: int | None = None,
        chunk_size: int = 32,
        seed: int = 0,
        device: str | None = None,
    ):
        from arena.classifier import load_classifier
        from policies.lm import PolicyLM, read_policy

        task = read_policy(policy_dir, "generator")
        self.policy = PolicyLM.load(task.folder, device=device)
        self.judge = load_classifier(judge or task.judge)
        self.target = task.target
        self.tokens = tokens or task.max_tokens
        self.chunk_size = chunk_size
        self.seed = seed
        self.name = f"gen:{policy_dir}"

    def attack(self, items: Sequence[tuple[int, Example]], scorer: Scorer) -> Iterator[ExampleResult]:
        """Generate from every example's prompt; one policy batch and one defender call per chunk."""
        from policies.tasks import label_map, prompts_from_texts

        labels = [str(label).lower() for label in scorer.labels]
        if self.target.lower() not in labels:
            raise ValueError(
                f"the policy's target class {self.target!r} is not one of the defender's labels {list(scorer.labels)}"
            )
        target = labels.index(self.target.lower())
        judge_target = int(label_map(scorer.labels, self.judge.labels)[target])
        rng = np.random.default_rng(self.seed)
        generator = torch.Generator().manual_seed(self.seed)
        for start in range(0, len(items), self.chunk_size):
            chunk = items[start : start + self.chunk_size]
            clock = time.perf_counter()
            prompts = prompts_from_texts([ex.text for _, ex in chunk], rng)
            if len(prompts) != len(chunk):
                raise ValueError("gen: every example needs a non-empty text to cut a prompt from")
            texts = self.policy.texts(self.policy.sample(prompts, self.tokens, generator=generator))
            p_def = scorer.predict_proba(texts, [ex.id for _, ex in chunk])
            p_judge = self.judge.predict_proba(texts)
            per_example = (time.perf_counter() - clock) / len(chunk)
            for (idx, ex), prompt, text, pd, pj in zip(chunk, prompts, texts, p_def, p_judge):
                hack = int(pd.argmax()) == target and int(pj.argmax()) != judge_target
                yield ExampleResult(
                    idx=idx,
                    example_id=ex.id,
                    label=ex.label,
                    original_text=prompt,
                    status=SUCCEEDED if hack else FAILED,
                    original_pred=int(pd.argmax()),
                    original_proba=[round(float(x), 6) for x in pd],
                    perturbed_text=text,
                    perturbed_pred=int(pd.argmax()),
                    perturbed_proba=[round(float(x), 6) for x in pd],
                    queries=scorer.queries(ex.id),
                    words_changed=max(0, len(WordView.of(text)) - len(WordView.of(prompt))),
                    words_total=len(WordView.of(prompt)),
                    seconds=per_example,
                    extra={
                        "defender_p": float(pd[target]),
                        "judge_p": float(pj[judge_target]),
                        "gap": float(pd[target] - pj[judge_target]),
                        "added_tokens": self.tokens,
                    },
                )
                scorer.forget(ex.id)
