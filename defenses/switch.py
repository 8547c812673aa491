"""SWITCH: FireBERT's word-substitution generator (shared by FuSE, FIVE and FACT).

For one input and a *judge* (an HF-backed classifier whose internals we can read):

1. importance by gradient: run the classifier with its word-piece embeddings (the lookup's
   output, what ``inputs_embeds`` would pass) as the gradient leaf, back-propagate the logits
   themselves (the gradient of ½‖logits‖²); a piece's importance is the L2 norm of its
   embedding's gradient. Pieces outside the perturbable segment (the premise of a pair, special
   tokens) score 0. A word's importance is that of its most important piece;
2. filter: drop TextFooler's stop words and words without neighbours in the synonym table (the
   spec's table gives every vocabulary word 100; the counter-fitted table we ship lists 24,384 of
   its 49,975 words with none, and such a word would take a slot and change nothing;
   ``empty_slots=true`` keeps them, as earlier versions did), skip the top
   ``leave_alone`` words, keep the top ``perturb_words``;
3. candidates: the first ``candidates_per_word`` neighbours (optionally only those whose POS tag,
   out of context, equals the word's: Penn Treebank tags as the authors' NLTK call gives them, so
   "films" is no candidate for "movie"; ``pos_tags=universal`` compares TextFooler's coarse tags
   instead), plus the original word;
4. sampling: ``total_alternatives * multiplier`` texts, each chosen word replaced independently by
   a uniformly random entry of its list (seeded);
5. similarity: ``1 - arccos(cos)`` of MiniLM embeddings (original vs candidate), as the spec's
   USE form; ``filter`` keeps candidates with similarity > 0 in sampled order, ``rank`` sorts
   them best first; a first candidate equal to the original is dropped; truncate to
   ``total_alternatives`` (no de-duplication, as in the authors' code). ``use_similarity=False``
   (the authors' ``use_USE``) skips the check: on long texts it rarely rejects anything
   (``bench/defense_cost.py``, FuSE's defaults: none of the 388 candidates checked on 32 IMDB
   reviews, 2.9 % of 1,262 on 100 MR sentences), and embedding a candidate costs about as much as
   classifying it. ``similarity_window=N`` (our option; 0, the default, compares whole texts as
   the authors' code does) compares instead the N-word windows around each changed word, as
   TextFooler's check does, and keeps the lowest: on a long text a check that can still see a
   word's local meaning change, at a fraction of the cost (a window is a few dozen word pieces,
   and windows repeat across candidates, so each is embedded once).

In ``filter`` mode only as many candidates are embedded as the truncation needs (same output,
less work): that is what keeps FuSE's cost per example bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from arena.batching import length_bucketed_batches
from arena.checks import require_at_least
from arena.classifier import ClassifierError, Encoded, HFClassifier, TextInput
from arena.pos import PosTagger, same_pos
from arena.similarity import SentenceSimilarity, angular, cosines, window_texts
from arena.synonyms import SynonymSource
from arena.words import STOPWORDS, WordView, match_case


@dataclass
class SwitchConfig:
    """SWITCH settings (defaults: the authors' code defaults)."""

    perturb_words: int = 2
    candidates_per_word: int = 10
    total_alternatives: int = 5
    multiplier: int = 3
    method: str = "filter"
    match_pos: bool = True
    pos_tags: str = "penn"  # the authors' NLTK Penn tags (NN != NNS); "universal": noun/verb/adj/... as TextFooler
    leave_alone: int = 0
    neighbours: int = 100
    use_similarity: bool = True  # the authors' use_USE: False skips step 5's check (sampled order, truncated)
    similarity_window: int = 0  # 0: whole texts (the authors' code); N: N-word windows around each changed word
    empty_slots: bool = (
        False  # True: a word the synonym table lists without neighbours still takes a slot (as earlier versions did)
    )

    def __post_init__(self) -> None:
        least = {
            "perturb_words": 1,
            "candidates_per_word": 1,
            "total_alternatives": 1,
            "multiplier": 1,
            "neighbours": 1,
            "leave_alone": 0,
        }
        require_at_least(
            "SWITCH", {key: (getattr(self, key), bound) for key, bound in least.items()}
        )  # a zero: the defense is plain
        if self.pos_tags not in ("penn", "universal"):
            raise ValueError("SWITCH pos_tags must be 'penn' (the authors') or 'universal'")
        if self.method not in ("filter", "rank"):
            raise ValueError("SWITCH method must be 'filter' or 'rank'")
        if self.similarity_window < 0:
            raise ValueError("SWITCH similarity_window must be 0 (whole texts) or a number of words")
        if not self.use_similarity and (self.similarity_window or self.method == "rank"):
            setting = f"similarity_window={self.similarity_window}" if self.similarity_window else "method=rank"
            raise ValueError(
                f"SWITCH {setting} acts through the similarity check, which is off: add use_similarity=true"
            )


def require_hf(classifier, what: str) -> HFClassifier:
    """The classifier as an :class:`HFClassifier` with a fast tokenizer, or a clear error."""
    if not isinstance(classifier, HFClassifier):
        name = getattr(classifier, "name", type(classifier).__name__)
        raise ClassifierError(
            f"{what} needs the model's input embeddings and gradients; {name!r} is a black box "
            "(callable/HTTP). Use an HF model id/folder or a trained classifier folder as the base."
        )
    if not getattr(classifier.tokenizer, "is_fast", False):
        raise ClassifierError(
            f"{what} maps word pieces back to words through the tokenizer's character offsets, which only "
            f"a fast (Rust) tokenizer gives; {classifier.name!r} loaded a Python one. Save the model with "
            "its fast tokenizer (tokenizer.json) or use another base."
        )
    return classifier


def segment_of(item: TextInput) -> str:
    """The perturbable segment: the text, or the hypothesis of a pair."""
    return item if isinstance(item, str) else item[1]


def with_segment(item: TextInput, segment: str) -> TextInput:
    """``item`` with its perturbable segment replaced."""
    return segment if isinstance(item, str) else (item[0], segment)


class Switch:
    """The SWITCH generator around one judge classifier."""

    def __init__(
        self,
        judge,
        synonyms: SynonymSource,
        similarity: SentenceSimilarity | None,
        pos: PosTagger | None,
        config: SwitchConfig | None = None,
    ):
        self.judge = require_hf(judge, "SWITCH")
        self.synonyms = synonyms
        self.config = config or SwitchConfig()
        self.similarity = similarity if self.config.use_similarity else None
        self.pos = pos

    def ranked_words(self, items: Sequence[TextInput], importance: PieceImportance | None = None) -> list[list[int]]:
        """Per input: word positions of the perturbable segment by gradient importance, filtered
        (``importance``: the judge's :func:`gradient_importance` of ``items`` when already computed)."""
        ranked = []
        importance = importance or gradient_importance(self.judge, items)
        for item, scores, words in zip(items, importance.scores, importance.words):
            view_words = WordView.of(segment_of(item)).words
            best: dict[int, float] = {}
            for score, word in zip(scores, words):
                if word is not None:
                    best[word] = max(best.get(word, 0.0), float(score))
            keep, wanted = [], self.config.leave_alone + self.config.perturb_words
            for w in sorted(
                best, key=best.__getitem__, reverse=True
            ):  # lazily: a vector source computes neighbours per word
                if len(keep) == wanted:
                    break
                word = view_words[w].lower()
                if word not in STOPWORDS and self.perturbable(word):
                    keep.append(w)
            ranked.append(keep[self.config.leave_alone :])
        return ranked

    def perturbable(self, word: str) -> bool:
        """Whether a lower-case word may take a perturb slot: in the synonym table, with neighbours
        unless ``empty_slots``."""
        if self.config.empty_slots:
            return word in self.synonyms
        return bool(self.synonyms.neighbours(word, self.config.neighbours, 0.0))

    def candidates(self, word: str) -> list[str]:
        """Neighbour list of one word (POS-matched out of context when configured), original appended."""
        lower = word.lower()
        pool = [n for n in self.synonyms.neighbours(lower, self.config.neighbours, 0.0) if n != lower]
        if self.config.match_pos and self.pos is not None and pool:
            tags = self.pos.penn_tags if self.config.pos_tags == "penn" else self.pos.tags
            pool = [n for n, ok in zip(pool, same_pos(tags, [lower], 0, pool, verb_noun_swap=False)) if ok]
        return [match_case(word, n) for n in pool[: self.config.candidates_per_word]] + [word]

    def alternatives(
        self,
        items: Sequence[TextInput],
        rngs: Sequence[np.random.Generator],
        importance: PieceImportance | None = None,
    ) -> list[list[TextInput]]:
        """Per input: up to ``total_alternatives`` perturbed copies (SWITCH steps 1-5), sampled
        with that input's entry of ``rngs`` (the same generator for all: one stream in order)."""
        originals, sampled = [], []
        for item, positions, rng in zip(items, self.ranked_words(items, importance), rngs, strict=True):
            view = WordView.of(segment_of(item))
            lists = {p: self.candidates(view.words[p]) for p in positions}
            variants = []
            for _ in range(self.config.total_alternatives * self.config.multiplier if lists else 0):
                variant = view
                for position, options in lists.items():
                    variant = variant.replace(position, options[rng.integers(len(options))])
                variants.append(variant)
            originals.append(view)
            sampled.append(variants)
        return [
            [with_segment(item, variant.text) for variant in kept]
            for item, kept in zip(items, self._select(originals, sampled))
        ]

    def _select(self, originals: list[WordView], sampled: list[list[WordView]]) -> list[list[WordView]]:
        """Step 5 for a chunk: per input, the sampled variants that pass the similarity check."""
        limit = self.config.total_alternatives
        if self.similarity is None:
            kept = [list(variants) for variants in sampled]
        elif self.config.method == "rank":
            kept = [
                [variants[i] for i in np.argsort(-sims, kind="stable") if sims[i] > 0]
                for variants, sims in zip(sampled, self._similarities(list(zip(originals, sampled))))
            ]
        else:  # filter: embed only as many as needed, in sampled order; each round's blocks in one call
            kept, starts = [[] for _ in sampled], [0] * len(sampled)
            while True:
                blocks = {}
                for i, (original, variants) in enumerate(zip(originals, sampled)):
                    # a first kept variant equal to the original is dropped below: then one more is needed
                    first_is_original = (
                        kept[i][0] == original if kept[i] else original in variants[starts[i] : starts[i] + limit]
                    )
                    needed = limit + first_is_original - len(kept[i])
                    if needed > 0 and starts[i] < len(variants):
                        blocks[i] = variants[starts[i] : starts[i] + needed]
                if not blocks:
                    break
                for (i, block), sims in zip(
                    blocks.items(), self._similarities([(originals[i], b) for i, b in blocks.items()])
                ):
                    kept[i].extend(v for v, s in zip(block, sims) if s > 0)
                    starts[i] += len(block)
        return [
            (variants[1:] if variants and variants[0] == original else variants)[:limit]
            for original, variants in zip(originals, kept)
        ]

    def _similarities(self, groups: list[tuple[WordView, list[WordView]]]) -> list[np.ndarray]:
        """Per (original, variants): ``1 - arccos(cos)`` of each variant to the original (the spec's
        USE form, not divided by pi), all groups in one encoder call. Whole texts by default; with
        ``similarity_window`` N, the N-word windows around each changed word, the lowest of them
        (a variant with no changed word: 1)."""
        window = self.config.similarity_window
        windowed, whole, owner = [], [], []  # (original, variant, position) or (original, variant) texts; owners
        for g, (original, variants) in enumerate(groups):
            words = original.words if window else None  # once per group, not per variant
            for v, variant in enumerate(variants):
                if window:
                    changed = [p for p, (a, b) in enumerate(zip(words, variant.words)) if a != b]
                    windowed += [(original, variant, p) for p in changed]
                    owner += [(g, v)] * len(changed)
                else:
                    whole.append((original.text, variant.text))
                    owner.append((g, v))
        out = [np.ones(len(variants)) for _, variants in groups]
        before, after = window_texts(windowed, window) if windowed else ([a for a, _ in whole], [b for _, b in whole])
        sims = angular(cosines(self.similarity, before, after), scale=1.0) if before else []
        for (g, v), sim in zip(owner, sims):
            out[g][v] = min(out[g][v], sim)
        return out


@dataclass
class PieceImportance:
    """Gradient importance of a batch, per input: its encoding (unpadded), the judge's logits
    (float32, from the same forward), piece scores and piece -> word."""

    encoded: list[Encoded]
    logits: np.ndarray
    scores: list[np.ndarray]
    words: list[list[int | None]]


def gradient_importance(judge: HFClassifier, items: Sequence[TextInput]) -> PieceImportance:
    """Per input: gradient importance of each word piece (L2 norm of d(½‖logits‖²)/d(embedding))
    and the word of the perturbable segment each piece belongs to (None outside it, score 0).
    Inputs go through the judge in length-bucketed batches under its token budget."""
    firsts = [segment_of(i) if isinstance(i, str) else i[0] for i in items]
    seconds = [i[1] for i in items if not isinstance(i, str)] or None
    enc = judge.tokenizer(firsts, seconds, truncation=True, max_length=judge.max_length, return_offsets_mapping=True)
    keys = [k for k in ("input_ids", "token_type_ids") if k in enc]
    encoded = [{k: enc[k][row] for k in keys} for row in range(len(items))]
    logits = np.zeros((len(items), len(judge.labels)), dtype=np.float32)
    norms: list[np.ndarray] = [np.zeros(0)] * len(items)
    for batch in length_bucketed_batches([len(e["input_ids"]) for e in encoded], judge.token_budget, judge.max_batch):
        as_leaf = first_lookup(
            judge.model, lambda embeds: embeds.detach().requires_grad_(True)
        )  # the word-piece embeddings
        with torch.enable_grad(), judge.autocast_context(), as_leaf as leaves:
            # input_ids, not inputs_embeds: a last-token-pooling head (GPT-2 style) finds each padded
            # row's end only from them; the autocast is the one the rest of a FuSE/FIVE group is scored in
            out = judge.model(**judge.collate([encoded[row] for row in batch])).logits
            # only d/d(embeds): no weight gradients computed (a backward's other half) or left on the judge
            (embeds,) = leaves
            (grad,) = torch.autograd.grad(out, embeds, grad_outputs=out.detach())
        logits[batch] = out.detach().float().cpu().numpy()
        grads = grad.norm(dim=-1).float().cpu().numpy()
        for slot, row in enumerate(batch):
            norms[row] = grads[slot, : len(encoded[row]["input_ids"])]
    result = PieceImportance(encoded, logits, [], [])
    target_sequence = 0 if seconds is None else 1
    for row, item in enumerate(items):
        spans = _word_spans(segment_of(item))
        words = [
            _word_at(spans, start) if sequence == target_sequence and end > start else None
            for sequence, (start, end) in zip(enc.sequence_ids(row), enc["offset_mapping"][row])
        ]
        result.scores.append(np.where([w is not None for w in words], norms[row], 0.0))
        result.words.append(words)
    return result


@contextmanager
def first_lookup(
    model: torch.nn.Module, replace: Callable[[torch.Tensor], torch.Tensor]
) -> Iterator[list[torch.Tensor]]:
    """While open, the output of the model's first input-embedding lookup (that of ``input_ids``:
    the word-piece embeddings as ``inputs_embeds`` would pass them; GPT-2 looks its token types up
    in the same table after it, and that lookup stays as it is) is replaced by ``replace(output)``,
    which is put in the yielded list. Models are run on ``input_ids`` this way, so a
    last-token-pooling head (GPT-2 style) still finds each padded row's end."""
    replaced: list[torch.Tensor] = []

    def hook(module, args, output: torch.Tensor) -> torch.Tensor | None:
        if replaced:
            return None
        replaced.append(replace(output))
        return replaced[0]

    handle = model.get_input_embeddings().register_forward_hook(hook)
    try:
        yield replaced
    finally:
        handle.remove()


def _word_spans(text: str) -> list[tuple[int, int]]:
    spans, offset = [], 0
    view = WordView.of(text)
    for index, piece in enumerate(view.pieces):
        if index % 2 == 1:
            spans.append((offset, offset + len(piece)))
        offset += len(piece)
    return spans


def _word_at(spans: list[tuple[int, int]], char: int) -> int | None:
    for index, (start, end) in enumerate(spans):
        if start <= char < end:
            return index
    return None
