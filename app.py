"""FireArena's Gradio app: attack a classifier, perturb a text by hand, compare defenses, browse results.

    python app.py [--classifier default] [--fact PATH] [--rl-attacker DIR] [--generator DIR] [--db arena.db]
                  [--host 127.0.0.1] [--port 7860]
    arena demo ...                                   (same options)

Tabs: **Attack** (a defender against an attacker on the text, changed or appended words
highlighted, probabilities before/after, queries, time; the RL policy attacker with
``--rl-attacker``), **Perturb by hand** (swap one word at a time for a synonym ranked by how much
it moves the prediction; undo), **Defend** (the text through every defender with their members'
votes), **Generate** (only with ``--generator``: prompts through a trained policy, each sample's
defender and judge scores), **Leaderboard** (the newest tournament's leaderboard and heatmap when
the store holds one; match runs as a table and a defender x attacker heatmap of accuracy under attack).

Safe by default: binds 127.0.0.1 unless ``--host`` says otherwise; caps the text (characters
and words) and the attack time with a clear message; every model-using event shares one
queue slot (one at a time, at most ``MAX_QUEUE`` waiting); models, the store and the synonym
source are chosen when the server starts, never from what a visitor sends (choices are names
looked up in fixed tables), and nothing a visitor sends is written to disk.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import html
import logging
import os
import sys
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from arena.attack import SKIPPED, SUCCEEDED, Attacker  # noqa: E402
from arena.classifier import Classifier, ClassifierError, HFClassifier  # noqa: E402
from arena.data import Example  # noqa: E402
from arena.match import mark_changes  # noqa: E402
from arena.metrics import attack_summary  # noqa: E402
from arena.resources import FACT_CLASSIFIER_DIR, ResourceMissing  # noqa: E402
from arena.scorer import QueryBudgetExceeded, Scorer  # noqa: E402
from arena.store import ExampleResult, Store  # noqa: E402
from arena.synonyms import SynonymSource  # noqa: E402
from arena.time_limit import TimeLimitReached, time_limit  # noqa: E402
from arena.words import WordView, match_case  # noqa: E402
from arena.zoo import DEFAULT_SYNONYMS  # noqa: E402
from policies.lm import PolicyTask, read_policy  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from arena.pos import PosTagger
    from policies.lm import PolicyLM
    from policies.tasks import ClassifierReward

logger = logging.getLogger("firearena.app")

MAX_QUEUE = 16  # visitors waiting for a model at once; more get "queue full"
INPUT_ID = "input"  # the one example an attack in the app works on
# Attackers the app offers: fast offline ones (TextAttack recipes tested offline, README "TextAttack both ways").
ATTACKER_CHOICES = {
    "textfooler": "TextFooler (native, batched)",
    "textattack:pwws": "TextAttack: PWWS",
    "textattack:textfooler": "TextAttack: TextFooler",
    "textattack:deepwordbug": "TextAttack: DeepWordBug (characters)",
    "rl": "RL policy (appends a continuation)",
}
EXAMPLES = [  # 20 words each
    "Warm, funny and beautifully acted, this film never loses its charm; the cast is superb and the story is moving.",
    "The plot is thin, the jokes fall flat and the two leads share no chemistry at all; a forgettable film.",
]
CANDIDATE_COLUMNS = ["synonym", "moves prediction by", "prediction"]
COLORS = {"swapped": "#fca5a5", "appended": "#fdba74", "replaced": "#d1d5db", "selected": "#93c5fd", "word": "#f3f4f6"}


class AppError(ValueError):
    """A problem shown to the visitor as one clear message."""


# -- limits ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """What one request may ask for."""

    max_chars: int = 1500
    max_words: int = 200
    attack_seconds: float = 60.0
    max_prompt_chars: int = 300  # Generate: one prompt
    max_samples: int = 32  # Generate: prompts x samples per click
    max_new_tokens: int = 48  # Generate: tokens per sample


def check_text(text: str | None, limits: Limits) -> str:
    """The stripped text, or :class:`AppError` when it is empty or over the character/word caps."""
    text = (text or "").strip()
    if not text:
        raise AppError("Type or paste a text first.")
    if len(text) > limits.max_chars:
        raise AppError(f"The text has {len(text)} characters; this app takes at most {limits.max_chars}.")
    words = len(WordView.of(text))
    if words == 0:
        raise AppError("The text has no words to work on.")
    if words > limits.max_words:
        raise AppError(f"The text has {words} words; this app takes at most {limits.max_words}.")
    return text


# -- policies --------------------------------------------------------------------------------------


GENERATE_COLUMNS = ["prompt", "text", "defender P", "judge P", "gap"]  # P columns get the target class appended


class PolicyGenerator:
    """A generator policy with its judge: samples continuations of prompts and scores them for the
    target class by a defender and by the judge (the policy is loaded on first use)."""

    def __init__(self, task: PolicyTask, judge: Classifier, *, device: str | None = None):
        from policies.tasks import ClassifierReward

        self.task = task
        self.judge_name = task.judge
        self.judge = ClassifierReward(judge, task.target, "prob")  # checks the target is one of the judge's classes
        self.device = device
        self._policy: PolicyLM | None = None

    @property
    def policy(self) -> PolicyLM:
        """The frozen policy (loaded on first use)."""
        if self._policy is None:
            from policies.lm import PolicyLM

            self._policy = PolicyLM.load(self.task.folder, device=self.device)
        return self._policy

    def reward(self, defender: Classifier) -> ClassifierReward:
        """The defender's P(target) scorer, or :class:`AppError` when the target is not one of its classes."""
        from policies.tasks import ClassifierReward

        try:
            return ClassifierReward(defender, self.task.target, "prob")
        except ValueError as exc:
            raise AppError(f"generator policy: {exc}") from exc

    def generate(
        self, prompts: Sequence[str], samples: int, tokens: int, defender: Classifier, *, seed: int = 0
    ) -> pd.DataFrame:
        """``samples`` continuations of ``tokens`` tokens per prompt (one batch, seeded), each with the
        defender's and the judge's P(target) and their gap (defender - judge: what the judge does not confirm)."""
        import torch

        reward = self.reward(defender)
        repeated = [p for p in prompts for _ in range(samples)]
        texts = self.policy.texts(self.policy.sample(repeated, tokens, generator=torch.Generator().manual_seed(seed)))
        return generation_frame(
            repeated, texts, reward.probability(texts), self.judge.probability(texts), self.task.target
        )


def generation_frame(
    prompts: Sequence[str], texts: Sequence[str], p_defender: Sequence[float], p_judge: Sequence[float], target: str
) -> pd.DataFrame:
    """One row per sample: prompt, text, defender's and judge's P(target), gap (rounded to 3 places)."""
    rows = [
        [p, t, round(float(d), 3), round(float(j), 3), round(float(d) - float(j), 3)]
        for p, t, d, j in zip(prompts, texts, p_defender, p_judge)
    ]
    columns = [f"{c} ({target})" if c.endswith(" P") else c for c in GENERATE_COLUMNS]
    return pd.DataFrame(rows, columns=columns)


def check_generation(prompts: str | None, samples: float, tokens: float, limits: Limits) -> tuple[list[str], int, int]:
    """Prompts (one per non-empty line), samples and tokens, or :class:`AppError` when a prompt is too
    long or the request is over the caps (``max_samples`` prompts x samples, ``max_new_tokens``)."""
    lines = [line.strip() for line in (prompts or "").splitlines() if line.strip()]
    if not lines:
        raise AppError("Type at least one prompt (one per line).")
    for i, line in enumerate(lines, 1):
        if len(line) > limits.max_prompt_chars:
            raise AppError(
                f"Prompt {i} has {len(line)} characters; this app takes at most {limits.max_prompt_chars} per prompt."
            )
    samples, tokens = int(samples or 0), int(tokens or 0)
    if samples < 1 or tokens < 1:
        raise AppError("Samples per prompt and tokens must be at least 1.")
    if tokens > limits.max_new_tokens:
        raise AppError(f"{tokens} tokens per sample; this app generates at most {limits.max_new_tokens}.")
    if len(lines) * samples > limits.max_samples:
        raise AppError(
            f"{len(lines)} prompt(s) x {samples} sample(s) = {len(lines) * samples} samples; "
            f"this app generates at most {limits.max_samples} per click: fewer prompts or samples."
        )
    return lines, samples, tokens


def describe_generation(table: pd.DataFrame, defender: str, judge: str, target: str) -> str:
    """One Markdown line: how many samples and the mean defender and judge P(target) and gap."""
    d, j, g = (table[c].mean() for c in table.columns[2:5])
    return (
        f"{len(table)} sample(s). Mean P({target}): defender **{defender}** {d:.3f}, judge **{judge}** {j:.3f}, "
        f"gap {g:+.3f} (a large gap: the defender sees {target} where the judge does not, a sign of reward hacking)."
    )


# -- models ----------------------------------------------------------------------------------------


@dataclass
class Models:
    """Everything the app serves, loaded once when the server starts.

    ``defenders`` maps the names shown to classifiers (``plain`` is the base classifier);
    ``attackers`` maps attacker names to builders, called once on first use; ``generator``, when
    given, adds the Generate tab.
    """

    defenders: dict[str, Classifier]
    attackers: dict[str, Callable[[], Attacker]]
    synonyms: SynonymSource
    generator: PolicyGenerator | None = None  # the Generate tab's policy (``--generator``)
    _built: dict[str, Attacker] = field(default_factory=dict, repr=False)
    _scorers: dict[str, Scorer] = field(default_factory=dict, repr=False)

    @property
    def base(self) -> Classifier:
        """The undefended classifier."""
        return self.defenders["plain"]

    @property
    def probes(self) -> list[str]:
        """Deterministic defenders (plain, FACT): the ones a word-by-word probe can rank against."""
        return [name for name, clf in self.defenders.items() if not getattr(clf, "stochastic", False)]

    def defender(self, name: str) -> Classifier:
        """A defender by its shown name."""
        if name not in self.defenders:
            raise AppError(f"Unknown defender {name!r}; this server has {', '.join(self.defenders)}.")
        return self.defenders[name]

    def attacker(self, name: str) -> Attacker:
        """An attacker by name, built on first use."""
        if name not in self.attackers:
            raise AppError(f"Unknown attacker {name!r}; this server has {', '.join(self.attackers)}.")
        if name not in self._built:
            self._built[name] = self.attackers[name]()
        return self._built[name]

    def scorer(self, name: str) -> Scorer:
        """A cached Scorer over a deterministic defender (for the probes of the Perturb tab)."""
        if name not in self.probes:
            raise AppError(f"{name!r} cannot be probed word by word; pick one of {', '.join(self.probes)}.")
        if name not in self._scorers:
            self._scorers[name] = Scorer(self.defenders[name], cache_size=20_000)
        return self._scorers[name]


def hardened_defenders(
    base: Classifier, fact: Classifier | None, synonyms: SynonymSource, pos: PosTagger | None
) -> dict[str, Classifier]:
    """The defenders the app shows: ``plain`` (``base``) with ``FuSE`` and ``FIVE`` around it and, given a
    FACT-tuned classifier, ``FACT`` with ``FuSE(FACT)`` and ``FIVE(FACT)`` around that (the registry's
    ``plain, fuse, five, fact, fuse+fact, five+fact``). FuSE and FIVE need an HF model: a black-box one
    gets no wrappers (a warning says so). FuSE runs at its defaults, without the similarity check."""
    from defenses.five import FIVE
    from defenses.fuse import FuSE

    defenders: dict[str, Classifier] = {}
    for name, model in (("plain", base), ("FACT", fact)):
        if model is None:
            continue
        defenders[name] = model
        suffix = "" if name == "plain" else f"({name})"
        if isinstance(model, HFClassifier):
            defenders[f"FuSE{suffix}"] = FuSE(model, synonyms, None, pos)
            defenders[f"FIVE{suffix}"] = FIVE(model)
        else:
            logger.warning(
                "FuSE and FIVE need an HF model; %s (%r) is a black box: no FuSE/FIVE around it",
                name,
                getattr(model, "name", model),
            )
    return defenders


def load_models(
    classifier: str = "default",
    *,
    fact: str | None = None,
    synonyms: str = DEFAULT_SYNONYMS,
    device: str | None = None,
    rl_attacker: str | None = None,
    generator: str | None = None,
) -> Models:
    """Load the base classifier, the defenses that apply to it, the synonym source and the attackers.

    The defenders are :func:`hardened_defenders` of the base and, when ``fact`` names a folder, of
    the FACT-tuned classifier there.
    POS tagger and synonyms are shared by FuSE and the attackers; the similarity model serves the attackers.
    ``rl_attacker`` (an attacker policy folder) adds the RL policy attacker (built on first use),
    ``generator`` (a generator policy folder) the Generate tab with the judge its task names;
    both folders are checked before anything loads.
    """
    from arena.classifier import load_classifier
    from arena.pos import PosTagger
    from arena.similarity import SentenceSimilarity
    from arena.synonyms import load_synonyms
    from arena.zoo import AttackOptions
    from attackers.textfooler import TextFooler

    rl_task = read_policy(rl_attacker, "attacker") if rl_attacker else None
    generator_task = read_policy(generator, "generator") if generator else None
    base = load_classifier(classifier, device=device)
    source = load_synonyms(synonyms)
    similarity = SentenceSimilarity(device=device)
    pos = PosTagger()
    defenders = hardened_defenders(base, load_classifier(fact, device=device) if fact else None, source, pos)

    def textattack(recipe: str) -> Callable[[], Attacker]:
        def build() -> Attacker:
            from attackers.textattack_adapter import TextAttackRecipe

            return TextAttackRecipe(recipe, AttackOptions(synonyms=synonyms, device=device))

        return build

    attackers: dict[str, Callable[[], Attacker]] = {"textfooler": lambda: TextFooler(source, similarity, pos)}
    attackers.update(
        {name: textattack(name.split(":", 1)[1]) for name in ATTACKER_CHOICES if name.startswith("textattack:")}
    )
    if rl_task:

        def rl() -> Attacker:
            from policies.players import RLPolicyAttacker

            return RLPolicyAttacker(rl_task.folder, device=device)

        attackers["rl"] = rl
    policy = None
    if generator_task:
        policy = PolicyGenerator(generator_task, load_classifier(generator_task.judge, device=device), device=device)
        policy.reward(
            base
        )  # the target must be one of the base classifier's classes: fail at start, not on every click
    return Models(defenders, attackers, source, policy)


# -- attack ----------------------------------------------------------------------------------------


class AttackTimeout(AppError):
    """An attack ran past the app's time limit."""


class CountingScorer(Scorer):
    """A Scorer that reports how many texts it has scored so far (for the progress line)."""

    def __init__(self, classifier: Classifier, *, on_scored: Callable[[int], None] | None = None, **kwargs):
        super().__init__(classifier, **kwargs)
        self.on_scored = on_scored

    def predict_proba(self, texts: Sequence, example_ids: Hashable | list[Hashable] | None = None) -> np.ndarray:
        """As :meth:`Scorer.predict_proba`, then the count reported."""
        out = super().predict_proba(texts, example_ids)
        if self.on_scored is not None:
            self.on_scored(self.stats.requests)
        return out


def run_attack(
    text: str,
    defender: Classifier,
    attacker: Attacker,
    *,
    seconds: float,
    on_scored: Callable[[int], None] | None = None,
) -> ExampleResult:
    """Attack ``text`` against ``defender``; the label to flip is the defender's own prediction on
    it. Every model call of attacker and defender checks the time limit
    (:mod:`arena.time_limit`), so the attack stops at most one model call after ``seconds``."""
    scorer = CountingScorer(defender, on_scored=on_scored)
    try:
        with time_limit(seconds):
            label = int(scorer.predict_proba([text])[0].argmax())  # not charged to the example's queries
            (result,) = list(attacker.attack([(0, Example(text, label, None, INPUT_ID))], scorer))
    except TimeLimitReached:
        raise AttackTimeout(
            f"The attack stopped at its {seconds:g} s limit after {scorer.stats.requests} scored texts. "
            "Try a shorter text, the plain defender or TextFooler."
        ) from None
    return result


Segments = list[tuple[str, str | None]]


def changed_positions(original: str, perturbed: str) -> tuple[set[int], set[int]]:
    """Word positions that differ: in ``original`` and in ``perturbed`` (position by position when the
    word counts agree, else by aligning the two word lists)."""
    old, new = WordView.of(original).words, WordView.of(perturbed).words
    if len(old) == len(new):
        differ = {i for i, (a, b) in enumerate(zip(old, new)) if a != b}
        return differ, set(differ)
    ops = difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes()
    return (
        {i for tag, i1, i2, _, _ in ops if tag != "equal" for i in range(i1, i2)},
        {j for tag, _, _, j1, j2 in ops if tag != "equal" for j in range(j1, j2)},
    )


def word_segments(text: str, marked: dict[int, str]) -> Segments:
    """``text`` as HighlightedText segments: word ``i`` labelled ``marked[i]``, unmarked stretches merged."""
    out: Segments = []
    for i, piece in enumerate(WordView.of(text).pieces):
        label = marked.get(i // 2) if i % 2 else None
        if not piece:
            continue
        if label is None and out and out[-1][1] is None:
            out[-1] = (out[-1][0] + piece, None)
        else:
            out.append((piece, label))
    return out


def diff_segments(original: str, perturbed: str) -> tuple[Segments, Segments]:
    """Original and adversarial text as segments, the words that differ labelled ``replaced`` / ``swapped``."""
    old, new = changed_positions(original, perturbed)
    return (
        word_segments(original, dict.fromkeys(old, "replaced")),
        word_segments(perturbed, dict.fromkeys(new, "swapped")),
    )


def is_continuation(result: ExampleResult) -> bool:
    """Whether the attack appended a continuation to the text (the RL attacker) instead of swapping words."""
    return "added_tokens" in result.extra


def attack_segments(result: ExampleResult) -> tuple[Segments, Segments]:
    """Original and adversarial text of an attack as segments. Swapped words as in :func:`diff_segments`;
    a continuation (adversarial = original + continuation) labels the words reaching past the original
    ``appended`` (a word the continuation glued onto the last one included)."""
    original, perturbed = result.original_text, result.perturbed_text or result.original_text
    if not (is_continuation(result) and perturbed.startswith(original)):  # a tokenizer may not round-trip the original
        return diff_segments(original, perturbed)
    marks, end = {}, 0
    for i, piece in enumerate(WordView.of(perturbed).pieces):
        end += len(piece)
        if i % 2 and end > len(original):
            marks[i // 2] = "appended"
    return word_segments(original, {}), word_segments(perturbed, marks)


def probability_frame(labels: Sequence[str], before: Sequence[float], after: Sequence[float]) -> pd.DataFrame:
    """Long-form class probabilities of the original and the adversarial text (for a stacked bar chart)."""
    rows = [
        (which, label, float(p))
        for which, probs in (("original", before), ("adversarial", after))
        for label, p in zip(labels, probs)
    ]
    return pd.DataFrame(rows, columns=["text", "class", "probability"])


def describe_attack(result: ExampleResult, labels: Sequence[str], seconds: float, judge: str = "judge") -> str:
    """One Markdown paragraph: outcome, prediction before -> after, words changed (or appended, with
    what the ``judge`` reads, for a continuation), queries, time."""
    before, after = np.asarray(result.original_proba), np.asarray(result.perturbed_proba)
    b, a = int(before.argmax()), int(after.argmax())
    head = {SUCCEEDED: "**Attack succeeded**", SKIPPED: "**Skipped**"}.get(result.status, "**Attack failed**")
    note = (
        f" ({result.extra['note']})"
        if result.extra.get("note")
        else (": no flip found" if result.status != SUCCEEDED else "")
    )
    changed = (
        f"{result.words_changed} word(s) appended ({result.extra['added_tokens']} tokens) to {result.words_total}"
        if is_continuation(result)
        else f"{result.words_changed} of {result.words_total} words changed"
    )
    parts = [
        f"{head}{note}.",
        f"Prediction **{labels[b]}** ({before[b]:.0%}) -> **{labels[a]}** ({after[a]:.0%}).",
        f"{changed}, {result.queries} queries, {seconds:.1f} s.",
    ]
    if result.similarity is not None:
        parts.append(f"Similarity {result.similarity:.2f}.")
    if "judge_keeps" in result.extra:
        reads = "still reads" if result.extra["judge_keeps"] else "no longer reads"
        parts.append(f"The judge ({judge}) {reads} **{labels[result.label]}** (P {result.extra['p_judge']:.2f}).")
    return " ".join(parts)


# -- perturb by hand -------------------------------------------------------------------------------


@dataclass
class Candidate:
    """A synonym put in place of one word, and what the classifier makes of the result."""

    word: str
    text: str
    proba: np.ndarray
    drop: float  # fall of the currently predicted class's probability (negative: it rises)


def word_choices(text: str, synonyms: SynonymSource) -> list[tuple[str, int]]:
    """Dropdown choices ``("i: word", i)`` for the words of ``text`` that have synonym candidates."""
    return [
        (f"{i}: {word}", i) for i, word in enumerate(WordView.of(text).words) if synonyms.neighbours(word.lower(), 1)
    ]


def rank_candidates(scorer: Scorer, synonyms: SynonymSource, text: str, position: int, k: int = 50) -> list[Candidate]:
    """Each synonym of word ``position`` substituted into ``text`` (case kept), scored in one call and
    ranked by how far it moves the prediction: the biggest fall of the predicted class's probability first."""
    view = WordView.of(text)
    if not 0 <= position < len(view):
        raise AppError(f"No word at position {position}; the text has {len(view)} words.")
    old = view.words[position]
    words = [w for w in synonyms.neighbours(old.lower(), k) if w != old.lower()]
    if not words:
        return []
    texts = [view.replace(position, match_case(old, w)).text for w in words]
    probs = scorer.predict_proba([text, *texts])
    predicted = int(probs[0].argmax())
    ranked = [Candidate(w, t, p, float(probs[0, predicted] - p[predicted])) for w, t, p in zip(words, texts, probs[1:])]
    return sorted(ranked, key=lambda c: -c.drop)


def token_segments(original: str, current: str, selected: int | None = None) -> Segments:
    """``current`` word by word (one segment per word, separators apart; every word labelled, so
    every word is clickable): ``swapped`` since ``original``, ``selected``, or ``word``."""
    _, swapped = changed_positions(original, current)
    marks = dict.fromkeys(swapped, "swapped")
    if selected is not None:
        marks[selected] = "selected"
    view = WordView.of(current)
    return [(piece, marks.get(i // 2, "word") if i % 2 else None) for i, piece in enumerate(view.pieces) if piece]


def segment_position(text: str, index: int) -> int | None:
    """The word position of segment ``index`` of :func:`token_segments` (None for a separator)."""
    kept = [i for i, piece in enumerate(WordView.of(text).pieces) if piece]
    if not 0 <= index < len(kept):
        return None
    piece = kept[index]
    return piece // 2 if piece % 2 else None


# -- defend ----------------------------------------------------------------------------------------


@dataclass
class DefenseView:
    """One defender's answer on a text and the members it combined (one member for plain/FACT)."""

    name: str
    proba: np.ndarray
    members: list[tuple[str, np.ndarray]]  # (what the member is, its class probabilities)


def defend(text: str, defenders: dict[str, Classifier]) -> list[DefenseView]:
    """``text`` through every defender; FuSE's members are its SWITCH alternatives (scored by the model
    it wraps, swapped words ``[[marked]]``), FIVE's its embedding-noise samples (``last_groups``)."""
    views = []
    for name, clf in defenders.items():
        proba = Scorer(clf, cache_size=0).predict_proba([text])[0]
        groups = getattr(clf, "last_groups", None)
        if groups and isinstance(groups[0], np.ndarray):  # FIVE: member probabilities, the original first
            members = [("original", groups[0][0])] + [(f"noise sample {i}", p) for i, p in enumerate(groups[0][1:], 1)]
        elif groups:  # FuSE: alternatives as texts
            alternatives = [a for a in groups[0] if isinstance(a, str)]
            probs = Scorer(clf.base, cache_size=0).predict_proba([text, *alternatives])
            members = [("original: " + text, probs[0])] + [
                (marked_swaps(text, alt), p) for alt, p in zip(alternatives, probs[1:])
            ]
        else:
            members = [("the text", proba)]
        views.append(DefenseView(name, proba, members))
    return views


def marked_swaps(original: str, perturbed: str) -> str:
    """``perturbed`` with the words that differ from ``original`` ``[[marked]]``."""
    words = WordView.of(perturbed).words
    return mark_changes(
        perturbed, [[i, "", words[i]] for i in sorted(changed_positions(original, perturbed)[1])], "perturbed"
    )


def votes(view: DefenseView, labels: Sequence[str]) -> dict[str, int]:
    """How many members vote for each class (argmax)."""
    counts = {label: 0 for label in labels}
    for _, proba in view.members:
        counts[labels[int(np.argmax(proba))]] += 1
    return counts


def members_frame(view: DefenseView, labels: Sequence[str]) -> pd.DataFrame:
    """A defender's members with their vote and class probabilities."""
    rows = [[what, labels[int(np.argmax(p))], *(round(float(x), 3) for x in p)] for what, p in view.members]
    return pd.DataFrame(rows, columns=["member", "vote", *labels])


# -- leaderboard -----------------------------------------------------------------------------------

LEADERBOARD_COLUMNS = [
    "defender",
    "attacker",
    "data",
    "n",
    "clean accuracy",
    "accuracy under attack",
    "attack success rate",
    "avg queries",
    "perturbed words %",
    "status",
    "run",
]


def leaderboard_rows(db: str | Path) -> list[dict]:
    """Match runs of the results store, newest first, with their summaries (computed from the stored
    results for runs that have not finished). An absent store gives no rows and is not created."""
    if not Path(db).exists():
        return []
    rows = []
    with Store(db) as store:
        for run in store.runs("match"):
            summary, status = run["summary"], "finished"
            if summary is None:
                summary = attack_summary(store.results(run["run_id"]))
                status = f"partial ({summary['n']}/{run['config'].get('n', '?')})"
            if not summary.get("n"):
                continue
            rows.append(
                {
                    "defender": run["defender"],
                    "attacker": run["attacker"],
                    "data": run["data"],
                    "n": summary["n"],
                    "clean accuracy": summary["clean_accuracy"],
                    "accuracy under attack": summary["accuracy_under_attack"],
                    "attack success rate": summary["attack_success_rate"],
                    "avg queries": summary["avg_queries"],
                    "perturbed words %": summary["avg_perturbed_words_pct"],
                    "status": status,
                    "run": run["run_id"],
                }
            )
    return rows


def data_sets(rows: list[dict]) -> list[str]:
    """Data sets of the rows, the one with most runs first."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["data"]] = counts.get(row["data"], 0) + 1
    return sorted(counts, key=lambda d: (-counts[d], d))


def heatmap(rows: list[dict], data: str) -> tuple[list[str], list[str], dict[tuple[str, str], dict]]:
    """Defenders, attackers and the newest run's row for each (defender, attacker) on ``data``."""
    cells: dict[tuple[str, str], dict] = {}
    for row in rows:  # newest first: the first row of a pair wins
        if row["data"] == data:
            cells.setdefault((row["defender"], row["attacker"]), row)
    return sorted({d for d, _ in cells}), sorted({a for _, a in cells}), cells


def heatmap_html(rows: list[dict], data: str) -> str:
    """An HTML table, defenders x attackers, each cell the accuracy under attack coloured red (0) to green (1)."""
    defenders, attackers, cells = heatmap(rows, data)
    if not cells:
        return "<p>No match runs on this data set.</p>"
    esc = html.escape
    head = "".join(f"<th>{esc(a)}</th>" for a in attackers)
    body = []
    for d in defenders:
        tds = []
        for a in attackers:
            row = cells.get((d, a))
            value = None if row is None else row["accuracy under attack"]
            if value is None:
                tds.append('<td style="background:#f3f4f6">-</td>')
                continue
            tip = esc(f"n={row['n']}, clean accuracy {row['clean accuracy']}, run {row['run']} ({row['status']})")
            tds.append(
                f'<td title="{tip}" style="background:hsl({120 * value:.0f},70%,80%);color:#111">{value:.3f}</td>'
            )
        body.append(f"<tr><th>{esc(d)}</th>{''.join(tds)}</tr>")
    return (
        f'<table class="heatmap"><caption>Accuracy under attack on {esc(data)} '
        f"(rows: defenders, columns: attackers; newest run of each pair)</caption>"
        f"<tr><th></th>{head}</tr>{''.join(body)}</table>"
    )


def tournament_view(db: str | Path) -> tuple[str, Figure] | None:
    """The newest tournament in the store as Markdown (:func:`arena.tournament.render_leaderboard`) and a
    heatmap figure (:func:`arena.tournament.heatmap_figure`); None when the store holds no tournament
    (an absent store is not created)."""
    from arena.tournament import heatmap_figure, leaderboard, render_leaderboard

    if not Path(db).exists():
        return None
    with Store(db) as store:
        count = len(store.runs("tournament"))
        if not count:
            return None
        board = leaderboard(store)
    return f"{count} tournament(s) in `{db}`; the newest:\n\n" + render_leaderboard(board), heatmap_figure(board)


# -- the app ---------------------------------------------------------------------------------------

CSS = """
.heatmap { border-collapse: collapse; margin: 0.5em 0; }
.heatmap th, .heatmap td { border: 1px solid #e5e7eb; padding: 0.4em 0.8em; text-align: center; }
.heatmap caption { caption-side: top; text-align: left; padding-bottom: 0.4em; }
"""


def shown_errors(fn: Callable) -> Callable:
    """Turn the errors a visitor can cause or fix into a ``gr.Error`` message (anything else stays a bug)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (AppError, ClassifierError, ResourceMissing, QueryBudgetExceeded) as exc:
            raise gr.Error(str(exc)) from exc

    return wrapper


def build_app(models: Models, limits: Limits = Limits(), db: str | Path = "arena.db") -> gr.Blocks:
    """The Blocks app over loaded ``models``; ``db`` is the results store the Leaderboard reads."""
    labels = list(models.base.labels)
    heavy = {"concurrency_id": "models", "concurrency_limit": 1}  # one model-using event at a time, server-wide

    @shown_errors
    def on_attack(text: str, defender_name: str, attacker_name: str, progress=gr.Progress()):
        text = check_text(text, limits)
        defender, attacker = models.defender(defender_name), models.attacker(attacker_name)
        progress(0, desc="attacking")
        began = time.perf_counter()
        result = run_attack(
            text,
            defender,
            attacker,
            seconds=limits.attack_seconds,
            on_scored=lambda n: progress((n, None), desc="attacking: texts scored", unit="texts"),
        )
        seconds = time.perf_counter() - began
        original, adversarial = attack_segments(result)
        clf_labels = list(defender.labels)
        chart = probability_frame(clf_labels, result.original_proba, result.perturbed_proba)
        judge = getattr(attacker, "judge_spec", "judge")
        return describe_attack(result, clf_labels, seconds, judge), original, adversarial, chart

    def perturb_view(session: dict, probe: str, selected: int | None = None):
        current = session["history"][-1]
        proba = models.scorer(probe).predict_proba([current])[0]
        swaps = len(changed_positions(session["original"], current)[1])
        status = f"{swaps} word(s) swapped; {len(session['history']) - 1} step(s) to undo."
        return (
            token_segments(session["original"], current, selected),
            dict(zip(models.defender(probe).labels, map(float, proba))),
            status,
        )

    @shown_errors
    def on_perturb_start(text: str, probe: str):
        text = check_text(text, limits)
        session = {"original": text, "history": [text]}
        tokens, prediction, status = perturb_view(session, probe)
        words = gr.update(choices=word_choices(text, models.synonyms), value=None)
        return session, tokens, prediction, status, words

    @shown_errors
    def on_word(session: dict | None, position: int | None, probe: str):
        if not session or position is None:
            return gr.update(), None, gr.update(choices=[], value=None)
        current = session["history"][-1]
        candidates = rank_candidates(models.scorer(probe), models.synonyms, current, int(position))
        clf_labels = list(models.defender(probe).labels)
        table = pd.DataFrame(
            [
                [c.word, round(c.drop, 3), clf_labels[int(c.proba.argmax())], *(round(float(x), 3) for x in c.proba)]
                for c in candidates
            ],
            columns=[*CANDIDATE_COLUMNS, *clf_labels],
        )
        choices = [(f"{c.word} ({c.drop:+.3f})", c.word) for c in candidates]
        tokens = token_segments(session["original"], current, int(position))
        return tokens, table, gr.update(choices=choices, value=choices[0][1] if choices else None)

    def on_token(session: dict | None, evt: gr.SelectData):
        if not session:
            return gr.update()
        current = session["history"][-1]
        position = segment_position(current, evt.index)
        if position is None:
            return gr.update()
        if position not in {i for _, i in word_choices(current, models.synonyms)}:
            gr.Warning(f"{WordView.of(current).words[position]!r} has no synonym candidates.")
            return gr.update()
        return gr.update(value=position)

    @shown_errors
    def on_apply(session: dict | None, position: int | None, word: str | None, probe: str):
        if not session or position is None or not word:
            raise AppError("Pick a word and one of its synonyms first.")
        view = WordView.of(session["history"][-1])
        session = {
            **session,
            "history": [
                *session["history"],
                view.replace(int(position), match_case(view.words[int(position)], word)).text,
            ],
        }
        return (
            session,
            *perturb_view(session, probe),
            gr.update(choices=word_choices(session["history"][-1], models.synonyms), value=None),
        )

    @shown_errors
    def on_undo(session: dict | None, probe: str):
        if not session:
            raise AppError("Nothing to undo yet.")
        if len(session["history"]) > 1:
            session = {**session, "history": session["history"][:-1]}
        return (
            session,
            *perturb_view(session, probe),
            gr.update(choices=word_choices(session["history"][-1], models.synonyms), value=None),
        )

    @shown_errors
    def on_probe(session: dict | None, probe: str):
        if not session:
            return gr.update(), gr.update(), gr.update()
        return perturb_view(session, probe)

    @shown_errors
    def on_defend(text: str):
        text = check_text(text, limits)
        out = []
        for view in defend(text, models.defenders):
            clf_labels = list(models.defender(view.name).labels)
            tally = ", ".join(f"{n} {label}" for label, n in votes(view, clf_labels).items())
            out += [
                f"**{view.name}**: votes {tally}",
                dict(zip(clf_labels, map(float, view.proba))),
                members_frame(view, clf_labels),
            ]
        return out

    @shown_errors
    def on_generate(
        prompts: str, samples: float, tokens: float, defender_name: str, seed: float, progress=gr.Progress()
    ):
        generator = models.generator  # this event exists only when the server has one
        lines, samples, tokens = check_generation(prompts, samples, tokens, limits)
        progress(0, desc=f"sampling {len(lines) * samples} continuation(s)")
        began = time.perf_counter()
        table = generator.generate(lines, samples, tokens, models.defender(defender_name), seed=int(seed or 0))
        summary = describe_generation(table, defender_name, generator.judge_name, generator.task.target)
        return f"{summary} {time.perf_counter() - began:.1f} s.", table

    def on_leaderboard(data: str | None = None):
        tournament = tournament_view(db)
        shown = (
            [gr.update(value=tournament[0], visible=True), gr.update(value=tournament[1], visible=True)]
            if tournament
            else [gr.update(visible=False), gr.update(visible=False)]
        )
        rows = leaderboard_rows(db)
        if not rows:
            message = (
                f"No match runs in `{db}` yet: run `arena match --db {db} ...` (or `--db PATH` when starting the app)."
            )
            return message, gr.update(choices=[], value=None), pd.DataFrame(columns=LEADERBOARD_COLUMNS), "", *shown
        names = data_sets(rows)
        data = data if data in names else names[0]
        table = pd.DataFrame(rows, columns=LEADERBOARD_COLUMNS)
        return (
            f"{len(rows)} match run(s) in `{db}`.",
            gr.update(choices=names, value=data),
            table,
            heatmap_html(rows, data),
            *shown,
        )

    with gr.Blocks(title="FireArena") as demo:
        gr.Markdown(
            "# FireArena\nAttack, perturb and defend a text classifier. "
            f"Classes: **{', '.join(labels)}**. Defenders: {', '.join(models.defenders)}. "
            f"Limits: {limits.max_words} words, {limits.max_chars} characters, "
            f"{limits.attack_seconds:g} s per attack."
        )
        text = gr.Textbox(
            label="Text",
            lines=3,
            max_length=limits.max_chars,
            elem_id="text",
            placeholder="Paste a review, e.g. " + EXAMPLES[0],
        )
        gr.Examples(EXAMPLES, inputs=text)

        with gr.Tab("Attack", id="attack"):
            with gr.Row():
                defender = gr.Dropdown(list(models.defenders), value="plain", label="Defender", elem_id="defender")
                attacker = gr.Dropdown(
                    [(ATTACKER_CHOICES.get(name, name), name) for name in models.attackers],
                    value="textfooler",
                    label="Attacker",
                    elem_id="attacker",
                )
            attack_button = gr.Button("Attack", variant="primary", elem_id="attack-button")
            summary = gr.Markdown(elem_id="attack-summary")
            with gr.Row():
                original = gr.HighlightedText(
                    label="Original",
                    color_map=COLORS,
                    show_legend=False,
                    show_inline_category=False,
                    elem_id="attack-original",
                )
                adversarial = gr.HighlightedText(
                    label="Adversarial",
                    color_map=COLORS,
                    show_legend=False,
                    show_inline_category=False,
                    elem_id="attack-adversarial",
                )
            # sort="-x": "original" before "adversarial" (a list of values here renders no chart in gradio 6.17)
            chart = gr.BarPlot(
                x="text",
                y="probability",
                color="class",
                y_lim=[0, 1],
                sort="-x",
                label="Class probabilities before / after",
                elem_id="attack-chart",
            )
            attack_button.click(on_attack, [text, defender, attacker], [summary, original, adversarial, chart], **heavy)

        with gr.Tab("Perturb by hand", id="perturb"):
            gr.Markdown(
                "Swap one word at a time for a synonym; candidates are ranked by how far they move the prediction "
                "(fall of the predicted class's probability). Click a word or pick it below."
            )
            session = gr.State(None)
            with gr.Row():
                probe = gr.Dropdown(models.probes, value="plain", label="Classifier", elem_id="probe")
                start = gr.Button("Start from the text above", elem_id="perturb-start")
                undo = gr.Button("Undo", elem_id="perturb-undo")
            tokens = gr.HighlightedText(
                label="Words (click one)",
                color_map=COLORS,
                show_legend=False,
                show_inline_category=False,
                elem_id="perturb-tokens",
            )
            with gr.Row():
                prediction = gr.Label(label="Prediction now", elem_id="perturb-prediction")
                perturb_status = gr.Markdown(elem_id="perturb-status")
            with gr.Row():
                word = gr.Dropdown([], value=None, label="Word", elem_id="perturb-word")
                replacement = gr.Dropdown([], value=None, label="Synonym", elem_id="perturb-synonym")
                apply = gr.Button("Apply", variant="primary", elem_id="perturb-apply")
            candidates = gr.Dataframe(
                headers=CANDIDATE_COLUMNS,
                label="Synonym candidates, biggest move first",
                interactive=False,
                elem_id="perturb-candidates",
            )
            view_outputs = [tokens, prediction, perturb_status]
            start.click(on_perturb_start, [text, probe], [session, *view_outputs, word], **heavy)
            word.change(on_word, [session, word, probe], [tokens, candidates, replacement], **heavy)
            tokens.select(on_token, session, word)
            apply.click(on_apply, [session, word, replacement, probe], [session, *view_outputs, word], **heavy)
            undo.click(on_undo, [session, probe], [session, *view_outputs, word], **heavy)
            probe.change(on_probe, [session, probe], view_outputs, **heavy)

        with gr.Tab("Defend", id="defend"):
            gr.Markdown(
                "The text through every defender. FuSE votes over SWITCH alternatives (swapped words `[[marked]]`), "
                "FIVE over copies with noise on the most important word's embedding; both combine members by "
                "averaging logits, so the combined answer can differ from the vote count."
            )
            defend_button = gr.Button("Run every defender", variant="primary", elem_id="defend-button")
            defend_outputs = []
            with gr.Row(elem_id="defend-outputs"):
                for name in models.defenders:
                    with gr.Column():
                        defend_outputs += [
                            gr.Markdown(f"**{name}**"),
                            gr.Label(label=f"{name}: combined"),
                            gr.Dataframe(label=f"{name}: members", interactive=False, wrap=True),
                        ]
            defend_button.click(on_defend, text, defend_outputs, **heavy)

        if models.generator is not None:
            task = models.generator.task
            with gr.Tab("Generate", id="generate"):
                gr.Markdown(
                    f"Prompts through the trained policy `{task.folder}`; "
                    f"each sample scored for **{task.target}** by a defender "
                    f"and by the judge **{models.generator.judge_name}** (gap = defender - judge). At most "
                    f"{limits.max_samples} samples per click, {limits.max_prompt_chars} characters per prompt."
                )
                prompts = gr.Textbox(
                    label="Prompts (one per line)",
                    lines=3,
                    max_length=limits.max_chars,
                    elem_id="generate-prompts",
                    value="The movie was\nI watched this film and",
                )
                with gr.Row():
                    samples = gr.Slider(
                        1,
                        min(8, limits.max_samples),
                        value=min(4, limits.max_samples),
                        step=1,
                        label="Samples per prompt",
                    )
                    new_tokens = gr.Slider(
                        1,
                        limits.max_new_tokens,
                        value=min(task.max_tokens, limits.max_new_tokens),
                        step=1,
                        label="Tokens per sample",
                    )
                    generate_defender = gr.Dropdown(list(models.defenders), value="plain", label="Defender")
                    seed = gr.Number(0, precision=0, label="Seed")
                generate_button = gr.Button("Generate", variant="primary", elem_id="generate-button")
                generate_summary = gr.Markdown(elem_id="generate-summary")
                samples_table = gr.Dataframe(interactive=False, wrap=True, label="Samples", elem_id="generate-table")
                generate_button.click(
                    on_generate,
                    [prompts, samples, new_tokens, generate_defender, seed],
                    [generate_summary, samples_table],
                    **heavy,
                )

        with gr.Tab("Leaderboard", id="leaderboard"):
            tournament_board = gr.Markdown(visible=False, elem_id="tournament-board")
            tournament_heat = gr.Plot(
                visible=False, label="Newest tournament: accuracy (clean, under attack)", elem_id="tournament-heatmap"
            )
            board_status = gr.Markdown()
            with gr.Row():
                board_data = gr.Dropdown([], value=None, label="Data set (heatmap)", elem_id="board-data")
                refresh = gr.Button("Refresh")
            heat = gr.HTML()
            board = gr.Dataframe(interactive=False, label="Match runs (newest first)", elem_id="board-table")
            board_outputs = [board_status, board_data, board, heat, tournament_board, tournament_heat]
            refresh.click(on_leaderboard, board_data, board_outputs)
            board_data.input(on_leaderboard, board_data, board_outputs)
            demo.load(on_leaderboard, None, board_outputs)
    demo.queue(default_concurrency_limit=1, max_size=MAX_QUEUE)
    return demo


def launch(
    demo: gr.Blocks,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    block: bool = True,
    auth: tuple[str, str] | None = None,
) -> None:
    """Serve the app on ``host:port``: no share link, no file uploads (gradio's upload route takes any file
    otherwise; the app has no file input), fonts from the system so the page loads offline; with
    ``auth`` (user, password), a login first."""
    theme = gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    )
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        prevent_thread_lock=not block,
        theme=theme,
        css=CSS,
        max_file_size=0,
        quiet=not block,
        auth=auth,
    )


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def access(host: str, auth: str | None, no_auth: bool) -> tuple[str, str] | None:
    """The login the app requires on ``host``: ``--auth USER:PASS`` parsed; bound beyond this machine,
    a login is required unless ``--no-auth`` says otherwise (a warning either way)."""
    login = None
    if auth is not None:
        user, colon, password = auth.partition(":")
        if not (user and colon and password):
            raise ValueError(f"--auth {auth!r}: expected USER:PASSWORD")
        login = (user, password)
    if host not in LOOPBACK:
        if login is None and not no_auth:
            raise ValueError(
                f"--host {host} serves the app beyond this machine: give --auth USER:PASSWORD (a login), "
                "or --no-auth to serve it to anyone who can reach the port"
            )
        print(
            f"warning: --host {host}: the app (and the models behind it) can be reached from other machines"
            + ("" if login else ", with no login"),
            file=sys.stderr,
        )
    return login


def add_options(parser: argparse.ArgumentParser) -> None:
    """The app's command-line options (shared by ``python app.py`` and ``arena demo``)."""
    parser.add_argument("--classifier", default="default", help="base classifier (plain) that FuSE and FIVE wrap")
    parser.add_argument(
        "--fact",
        metavar="PATH",
        default="auto",
        help="a FACT-tuned classifier folder (`arena train defense fact`) "
        "for the FACT, FuSE(FACT) and FIVE(FACT) defenders; "
        "auto (default): the packaged FACT model when --classifier is default; none: no FACT defenders",
    )
    parser.add_argument(
        "--rl-attacker",
        metavar="DIR",
        help="a policy from `arena train policy --task attacker` (DIR or DIR/policy): adds the RL policy attacker",
    )
    parser.add_argument(
        "--generator",
        metavar="DIR",
        help="a policy from `arena train policy` (generator task): "
        "adds the Generate tab (judge and target from its arena_task.json)",
    )
    parser.add_argument(
        "--synonyms",
        default=DEFAULT_SYNONYMS,
        help="synonym source of attacks, FuSE and the Perturb tab (see `arena match --help`)",
    )
    parser.add_argument(
        "--db", default="arena.db", help="results store the Leaderboard reads (not created when absent)"
    )
    parser.add_argument("--device", help="cpu | cuda | cuda:N (default: cuda when present)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: localhost only; 0.0.0.0 exposes the app)"
    )
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument(
        "--auth", metavar="USER:PASSWORD", help="require this login (needed with a --host other than localhost)"
    )
    parser.add_argument("--no-auth", action="store_true", help="serve a --host other than localhost without a login")
    parser.add_argument("--max-chars", type=int, default=Limits.max_chars, help="longest text accepted, in characters")
    parser.add_argument("--max-words", type=int, default=Limits.max_words, help="longest text accepted, in words")
    parser.add_argument("--attack-seconds", type=float, default=Limits.attack_seconds, help="time limit of one attack")


def fact_folder(option: str, classifier: str) -> str | None:
    """The FACT folder that ``--fact`` names: ``auto`` is the packaged model for the default classifier
    (a FACT model hardens one classifier, so none for another), ``none`` is none."""
    if option == "none":
        return None
    if option == "auto":
        return str(FACT_CLASSIFIER_DIR) if classifier == "default" else None
    return option


def run(args: argparse.Namespace) -> None:
    """Load the models named by ``args`` and serve the app until interrupted."""
    login = access(args.host, args.auth, args.no_auth)  # before the models load
    began = time.perf_counter()
    models = load_models(
        args.classifier,
        fact=fact_folder(args.fact, args.classifier),
        synonyms=args.synonyms,
        device=args.device,
        rl_attacker=args.rl_attacker,
        generator=args.generator,
    )
    demo = build_app(models, Limits(args.max_chars, args.max_words, args.attack_seconds), args.db)
    print(
        f"FireArena app: models loaded in {time.perf_counter() - began:.1f} s; serving http://{args.host}:{args.port}",
        flush=True,
    )
    launch(demo, args.host, args.port, auth=login)


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    """Parse options and serve the app; a missing resource or a classifier that cannot load is one line and exit 2."""
    parser = argparse.ArgumentParser(
        prog=prog, description="FireArena's Gradio app: attack, perturb by hand, defend, generate, leaderboard."
    )
    add_options(parser)
    args = parser.parse_args(argv)
    try:
        run(args)
    except (ClassifierError, ResourceMissing, FileNotFoundError, ValueError) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")


if __name__ == "__main__":
    main()
