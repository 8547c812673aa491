"""TextFooler (Jin et al., AAAI 2020), batched across examples.

Black-box: the attack sees only class probabilities, through the Scorer. Per example:

1. skip it if the defender is already wrong;
2. word importance by deletion: I_i = p_y - p'_y, plus p'_yhat - p_yhat when deleting word i
   flips the prediction to yhat; "deleting" substitutes ``<oov>`` as the released code does
   (``importance="delete"`` removes the word, as the paper words it and TextAttack does);
3. rank words by importance, drop stop words (TextFooler's list) and words without synonyms;
4. for each ranked word: one candidate per synonym (top 50, cosine >= 0.5) substituted into the
   current text; a candidate passes when its POS tag equals the original's (or both are
   NOUN/VERB) and the angular similarity of the 15-word windows around the word, previous
   text vs candidate, is >= ``sim_threshold`` (texts shorter than the window skip the check);
   if any passing candidate flips the prediction, take the most similar one: success. Otherwise
   take the candidate minimising p_y + [sim fails] + [POS fails] if that is below p_y of the
   original text (``commit="current"``: below p_y of the current text, as TextAttack's greedy
   search does), and go on to the next word. (Only passing candidates are sent to the model:
   the others can never be chosen, so results equal the released code's, with fewer queries.)

Batched across examples: a chunk of examples advances in lockstep, so each model call carries
the candidates of every example of the chunk, and each similarity call encodes every window of
the step (cached across steps). Deterministic: batched results equal one-at-a-time results.

As in the released code, the final label is the defender's prediction on the final text. For a
stochastic defender (FuSE, FIVE: the Scorer does not cache) that is a fresh query, so a flip seen
on one draw that does not hold on the next is a failed attack (and a final text that a fresh draw
gets wrong is a success); for a deterministic defender it is the cached answer and changes nothing.
The adaptive attack (the Scorer's ``eot`` > 1: every answer a mean over draws) scores the text a
swap must beat (the original, or the current text with ``commit="current"``) in the same call as the
candidates, so both share the defense's draws (the Scorer's common random numbers); takes a flip
only when most of ``eot`` fresh draws of it are wrong; and skips the one-draw recheck:
``arena.match.verified`` checks the final text on fresh draws instead (``--verify``).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from arena.attack import FAILED, SKIPPED, SUCCEEDED
from arena.attack_options import DEFAULT_SIM_THRESHOLD, PAPER_SIM_THRESHOLD  # noqa: F401 (re-exported)
from arena.data import Example
from arena.pos import PosTagger, same_pos
from arena.results import ExampleResult
from arena.scorer import Scorer
from arena.similarity import SentenceSimilarity, window_texts
from arena.synonyms import SynonymSource
from arena.words import STOPWORDS, WordView, match_case

# The ranking scores one reduced copy of a text per candidate word; copies go to the scorer in calls
# of about this many words in all, so its memory grows with the text's length, not with its square.
RANK_WORDS_PER_CALL = 1_000_000


@dataclass
class _State:
    """One example's progress through the attack."""

    idx: int
    example: Example
    y: int
    original: WordView
    current: WordView
    p_original: float = 0.0
    original_proba: np.ndarray | None = None
    proba: np.ndarray | None = None
    queue: list[tuple[int, list[str]]] = field(default_factory=list)  # (position, candidates) in rank order
    changed: dict[int, str] = field(default_factory=dict)
    status: str | None = None
    note: str | None = None

    @property
    def owner(self) -> str:
        """The example's id: whose query count and random stream a query is."""
        return self.example.id

    def model_input(self, segment: str):
        """The classifier input with ``segment`` as the attacked (last) segment."""
        return segment if self.example.text_pair is None else (self.example.text, segment)


@dataclass
class _Plan:
    """One example's step: the word position, its candidate texts and what the checks found."""

    state: _State
    position: int
    variants: list[WordView]
    pos_ok: np.ndarray
    sim: np.ndarray = field(init=False)
    keep: np.ndarray = field(init=False)
    probs: np.ndarray = field(init=False)
    flips: np.ndarray = field(init=False)
    bar: float | None = None  # the adaptive attack: p_y of the reference text, scored in the candidates' call

    def __post_init__(self):
        self.sim = np.ones(len(self.variants))  # 1.0 = not computed (texts shorter than the window: no constraint)

    def windowed(self, window: int) -> bool:
        """Whether the similarity constraint applies (the text is at least a window long)."""
        return len(self.state.current) >= window


class TextFooler:
    """The TextFooler attack; see the module docstring. Options default to the released code."""

    name = "textfooler"
    independent_examples = True  # an example's result does not depend on the others attacked with it
    replayable_swaps = True  # the perturbed text is the original with extra["changed"]'s swaps made

    def __init__(
        self,
        synonyms: SynonymSource,
        similarity: SentenceSimilarity,
        pos: PosTagger | None,
        *,
        max_candidates: int = 50,
        min_cos: float = 0.5,
        sim_threshold: float = DEFAULT_SIM_THRESHOLD,
        window: int = 15,
        pos_window: int = 4,
        importance: str = "oov",
        stopwords: frozenset[str] = STOPWORDS,
        chunk_size: int = 32,
        max_perturb_ratio: float | None = None,
        commit: str = "original",
    ):
        if commit not in ("original", "current"):
            raise ValueError("commit must be 'original' (released code) or 'current' (TextAttack's greedy search)")
        if min(max_candidates, window, chunk_size) < 1 or not 0.0 <= sim_threshold <= 1.0 or not -1.0 <= min_cos <= 1.0:
            raise ValueError(
                f"TextFooler needs max_candidates, window and chunk_size >= 1, sim_threshold in [0, 1] and min_cos "
                f"in [-1, 1] (got {max_candidates}, {window}, {chunk_size}, {sim_threshold}, {min_cos})"
            )
        self.commit = commit
        if importance not in ("delete", "oov"):
            raise ValueError("importance must be 'oov' (released code) or 'delete' (paper, TextAttack)")
        self.synonyms = synonyms
        self.similarity = similarity
        self.pos = pos
        self.max_candidates = max_candidates
        self.min_cos = min_cos
        self.sim_threshold = sim_threshold
        self.window = window
        self.pos_window = pos_window
        self.importance = importance
        self.stopwords = stopwords
        self.chunk_size = chunk_size
        self.max_perturb_ratio = max_perturb_ratio

    # -- steps -----------------------------------------------------------------------------------

    def _start(self, items: Sequence[tuple[int, Example]], scorer: Scorer) -> list[_State]:
        states = []
        for idx, ex in items:
            view = WordView.of(ex.segment)
            states.append(_State(idx, ex, ex.label, view, view))
        probs = scorer.predict_proba([s.model_input(s.original.text) for s in states], [s.owner for s in states])
        for state, row in zip(states, probs):
            state.original_proba = state.proba = row
            state.p_original = float(row[state.y])
            if int(row.argmax()) != state.y:
                state.status, state.note = SKIPPED, "defender already wrong"
            elif len(state.original) == 0:
                state.status, state.note = FAILED, "no words to perturb"
        return states

    def _rank(self, states: list[_State], scorer: Scorer) -> None:
        """Deletion importance of every candidate word of every active example, in one scorer call.

        A word's importance depends on that word alone, so words that would be dropped anyway
        (stop words, no synonyms) are not queried: the ranking of the kept words is the released
        code's, with fewer queries.
        """
        texts, owners, plans, calls, words = [], [], [], [], 0
        for state in states:
            kept = []
            for position, word in enumerate(state.original.words):
                if word.lower() in self.stopwords:
                    continue
                candidates = [
                    c
                    for c in self.synonyms.neighbours(word.lower(), self.max_candidates, self.min_cos)
                    if c != word.lower()
                ]
                if candidates:
                    kept.append((position, candidates))
            for position, _ in kept:
                reduced = (
                    state.original.delete(position)
                    if self.importance == "delete"
                    else state.original.replace(position, "<oov>").text
                )
                texts.append(state.model_input(reduced))
                owners.append(state.owner)
                words += len(state.original.words)
                if words >= RANK_WORDS_PER_CALL:  # memory bounded: a text of n words makes n reduced copies
                    calls.append(scorer.predict_proba(texts, owners))
                    texts, owners, words = [], [], 0
            plans.append(kept)
        if texts or not calls:
            calls.append(scorer.predict_proba(texts, owners))
        probs = np.concatenate(calls)
        offset = 0
        for state, kept in zip(states, plans):
            deleted = probs[offset : offset + len(kept)]
            offset += len(kept)
            if not kept:
                state.status, state.note = FAILED, "no word has synonyms"
                continue
            p = state.original_proba
            preds = deleted.argmax(axis=1)
            importance = p[state.y] - deleted[:, state.y]
            flipped = preds != state.y
            importance[flipped] += deleted[flipped, preds[flipped]] - p[preds[flipped]]
            state.queue = [kept[i] for i in np.argsort(-importance, kind="stable")]

    def _pos_ok(self, state: _State, position: int, candidates: list[str]) -> np.ndarray:
        if self.pos is None:
            return np.ones(len(candidates), dtype=bool)
        return same_pos(self.pos.tags, state.current.words, position, candidates, self.pos_window)

    def _step(self, states: list[_State], scorer: Scorer) -> None:
        """Try the next ranked word of every active example: at most two similarity calls, one model call.

        Constraints are checked before the model is queried (as TextAttack does), the cheap POS
        check first, so only POS-passing candidates are encoded. The outcome is the released
        code's query-then-check order: a candidate failing a check scores p_y + 1 >= 1 there, so
        it can never be chosen; only the query count is lower. For texts shorter than the window
        the similarity is no constraint and only breaks ties between flips, so it is computed
        after the model call and only when more than one candidate flips.
        """
        plans = []
        for state in states:
            position, synonyms = state.queue.pop(0)
            original_word = state.current.words[position]
            variants = [state.current.replace(position, match_case(original_word, s)) for s in synonyms]
            plans.append(_Plan(state, position, variants, self._pos_ok(state, position, synonyms)))
        self._similarities([(plan, np.flatnonzero(plan.pos_ok)) for plan in plans if plan.windowed(self.window)])
        for plan in plans:
            plan.keep = (
                np.flatnonzero(plan.pos_ok & (plan.sim >= self.sim_threshold))
                if plan.windowed(self.window)
                else np.flatnonzero(plan.pos_ok)
            )
        texts = [plan.state.model_input(plan.variants[i].text) for plan in plans for i in plan.keep]
        owners = [plan.state.owner for plan in plans for _ in plan.keep]
        references = [plan for plan in plans if len(plan.keep)] if scorer.eot > 1 else []
        texts += [
            plan.state.model_input((plan.state.original if self.commit == "original" else plan.state.current).text)
            for plan in references
        ]
        owners += [plan.state.owner for plan in references]
        probs = scorer.predict_proba(texts, owners)
        for plan, row in zip(references, probs[len(probs) - len(references) :]):
            plan.bar = float(row[plan.state.y])
        offset = 0
        for plan in plans:
            plan.probs = probs[offset : offset + len(plan.keep)]
            offset += len(plan.keep)
            plan.flips = plan.probs.argmax(axis=1) != plan.state.y if len(plan.keep) else np.zeros(0, dtype=bool)
        if scorer.eot > 1:
            self._confirm(plans, scorer)
        self._similarities(
            [(plan, plan.keep[plan.flips]) for plan in plans if not plan.windowed(self.window) and plan.flips.sum() > 1]
        )
        for plan in plans:
            self._choose(plan)

    @staticmethod
    def _confirm(plans: list[_Plan], scorer: Scorer) -> None:
        """The adaptive attack's flips: a candidate whose mean over draws flips is drawn again
        ``eot`` times (one call for the step) and flips only if most of those fresh draws are
        wrong, the test its final text must pass too (``arena.match.verified``); its probabilities
        become the mean of all its draws. Searching hundreds of noisy means would otherwise stop at
        the first that flips by chance (the maximum of many noisy estimates)."""
        wanted = [(plan, np.flatnonzero(plan.flips)) for plan in plans if plan.flips.any()]
        texts = [plan.state.model_input(plan.variants[plan.keep[i]].text) for plan, idx in wanted for i in idx]
        if not texts:
            return
        fresh = scorer.draws(texts, [plan.state.owner for plan, idx in wanted for _ in idx], scorer.eot)
        offset = 0
        for plan, idx in wanted:
            rows = fresh[offset : offset + len(idx)]
            offset += len(idx)
            plan.probs[idx] = (plan.probs[idx] + rows.mean(axis=1)) / 2
            plan.flips[idx] = 2 * (rows.argmax(axis=2) != plan.state.y).sum(axis=1) > rows.shape[1]

    def _similarities(self, wanted: list[tuple[_Plan, np.ndarray]]) -> None:
        """Fill ``plan.sim[i]`` for the wanted candidates: windows of the current text vs each candidate, one call."""
        before, after = window_texts(
            [(plan.state.current, plan.variants[i], plan.position) for plan, idx in wanted for i in idx], self.window
        )
        sims = self.similarity.similarity(before, after) if before else np.zeros(0)
        offset = 0
        for plan, idx in wanted:
            plan.sim[idx] = sims[offset : offset + len(idx)]
            offset += len(idx)

    def _choose(self, plan: _Plan) -> None:
        """The two selection branches: the most similar flip (success), else the swap that lowers p_y most."""
        state, keep, p = plan.state, plan.keep, plan.probs
        if len(keep):
            if plan.flips.any():
                best = int(np.argmax(np.where(plan.flips, plan.sim[keep], -np.inf)))
                self._commit(state, plan.position, plan.variants[keep[best]], p[best])
                state.status = SUCCEEDED
                return
            best = int(np.argmin(p[:, state.y]))
            bar = (
                plan.bar
                if plan.bar is not None
                else state.p_original
                if self.commit == "original"
                else float(state.proba[state.y])
            )
            if p[best, state.y] < bar:
                self._commit(state, plan.position, plan.variants[keep[best]], p[best])
        if self.max_perturb_ratio is not None and len(state.changed) >= self.max_perturb_ratio * len(state.original):
            state.queue.clear()
        if not state.queue:
            state.status = FAILED

    @staticmethod
    def _recheck(states: list[_State], scorer: Scorer) -> None:
        """The released code's final label: a fresh prediction on each final text decides the status."""
        fresh = scorer.predict_proba([s.model_input(s.current.text) for s in states], [s.owner for s in states])
        for state, row in zip(states, fresh):
            held = int(row.argmax()) != state.y
            if held != (state.status == SUCCEEDED):
                state.note = (
                    "flip did not hold on a fresh draw"
                    if state.status == SUCCEEDED
                    else "a fresh draw got the final text wrong"
                )
                state.status = SUCCEEDED if held else FAILED
            state.proba = row

    @staticmethod
    def _commit(state: _State, position: int, variant: WordView, proba: np.ndarray) -> None:
        state.current = variant
        state.proba = proba
        state.changed[position] = variant.words[position]

    def _result(self, state: _State, scorer: Scorer, seconds: float, similarity: float | None) -> ExampleResult:
        original_words = state.original.words
        return ExampleResult(
            idx=state.idx,
            example_id=state.owner,
            label=state.y,
            original_text=state.example.text,
            text_pair=state.example.text_pair,
            status=state.status,
            original_pred=int(state.original_proba.argmax()),
            original_proba=[round(float(x), 6) for x in state.original_proba],
            perturbed_text=state.current.text if state.status != SKIPPED else None,
            perturbed_pred=int(state.proba.argmax()),
            perturbed_proba=[round(float(x), 6) for x in state.proba],
            queries=scorer.queries(state.owner),
            words_changed=len(state.changed),
            words_total=len(original_words),
            similarity=similarity,
            seconds=seconds,
            extra={
                "changed": [[p, original_words[p], w] for p, w in sorted(state.changed.items())],
                **({"note": state.note} if state.note else {}),
            },
        )

    # -- driver ----------------------------------------------------------------------------------

    def attack(self, items: Sequence[tuple[int, Example]], scorer: Scorer) -> Iterator[ExampleResult]:
        """Attack in chunks of ``chunk_size``; yields each result when its example is final."""
        for start in range(0, len(items), self.chunk_size):
            yield from self._attack_chunk(items[start : start + self.chunk_size], scorer)

    def _attack_chunk(self, items: Sequence[tuple[int, Example]], scorer: Scorer) -> Iterator[ExampleResult]:
        clock = time.perf_counter()
        states = self._start(items, scorer)
        # examples settled by the first prediction (already wrong, no words) are stored before the ranking
        clock = yield from self._finish([s for s in states if s.status is not None], scorer, clock)
        pending = [s for s in states if s.status is None]
        if pending:
            self._rank(pending, scorer)
        while pending:
            clock = yield from self._finish([s for s in pending if s.status is not None], scorer, clock)
            pending = [s for s in pending if s.status is None]
            if pending:
                self._step(pending, scorer)

    def _finish(self, done: list[_State], scorer: Scorer, clock: float) -> Generator[ExampleResult, None, float]:
        """Results of the examples just settled, sharing the time since ``clock`` (returned anew)."""
        if not done:
            return clock
        attacked = [s for s in done if s.status != SKIPPED]
        if attacked and not scorer.caching and scorer.eot == 1:
            self._recheck(attacked, scorer)
        sims = self.similarity.similarity([s.original.text for s in attacked], [s.current.text for s in attacked])
        sim_of = {id(s): float(v) for s, v in zip(attacked, sims)}
        now = time.perf_counter()
        per_example = (now - clock) / len(done)
        for state in done:
            yield self._result(state, scorer, per_example, sim_of.get(id(state)))
            scorer.forget(state.owner)
        return now
