"""TextAttack inside the arena, offline: model wrapper, local replacements, recipes, Attacker.

- :func:`prepare_textattack_offline` makes ``import textattack`` work with no network (cache
  folder with TextAttack's post-install marker, NLTK's English stop-word list); this module
  calls it before importing TextAttack.
- :class:`ArenaModelWrapper` / :func:`to_textattack`: any arena classifier (or a Scorer) as a
  TextAttack ``ModelWrapper``: dynamic padding, arena's cache, (premise, hypothesis) pairs.
- Local pieces for those of TextAttack's that download: :class:`SynonymWordSwap` (arena synonym
  sources, WordNet included), :class:`SynonymDistance`, :class:`ArenaPartOfSpeech` and
  :func:`local_sbert` (TextAttack's own ``SBERT`` on the packaged MiniLM).
- :func:`build_recipe`: ``textfooler`` composed from TextAttack's structure with the local
  pieces; any other recipe built by TextAttack's own class with the downloading pieces swapped
  for local ones, or :class:`~arena.resources.ResourceMissing` naming the piece that cannot be.
- :class:`TextAttackRecipe`: a TextAttack recipe as an arena :class:`~arena.attack.Attacker`.
"""

from __future__ import annotations

import difflib
import logging
import os
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from importlib import import_module
from pathlib import Path

from arena.resources import ResourceMissing, cache_dir, minilm_path
from attackers.recipes import (
    NOT_FOR_ARENA,
    OFFLINE_RECIPES,
    RUN_ONLINE,
    UNREPLACEABLE,
    recipe_names,
    write_nltk_stopwords,
)

logger = logging.getLogger(__name__)

# What TextAttack repoints at TA_CACHE_DIR when that variable is set as it is imported.
_TA_REDIRECTED_ENV = ("TFHUB_CACHE_DIR", "PYTORCH_TRANSFORMERS_CACHE", "HF_HOME", "XDG_CACHE_HOME")


def prepare_textattack_offline() -> None:
    """Make ``import textattack`` offline-safe (idempotent; call it before the first import).

    Sets ``TA_CACHE_DIR`` (``<cache_dir>/textattack`` unless already set) holding the
    ``post_install_check_3`` marker that stops TextAttack's first-import ``nltk.download``,
    and puts NLTK's English stop words under ``<cache_dir>/nltk_data`` (on ``nltk.data.path``
    and ``NLTK_DATA``). When the folder is ours, the Hugging Face / XDG cache variables TextAttack
    repoints at it on import are restored, so hub caches stay where they were.
    """
    import nltk

    ours = "TA_CACHE_DIR" not in os.environ
    ta_dir = Path(os.environ.setdefault("TA_CACHE_DIR", str(cache_dir() / "textattack")))
    ta_dir.mkdir(parents=True, exist_ok=True)
    (ta_dir / "post_install_check_3").touch()
    nltk_root = cache_dir() / "nltk_data"
    write_nltk_stopwords(nltk_root)
    if str(nltk_root) not in nltk.data.path:
        nltk.data.path.insert(0, str(nltk_root))
    paths = os.environ.get("NLTK_DATA", "").split(os.pathsep)
    if str(nltk_root) not in paths:
        os.environ["NLTK_DATA"] = os.pathsep.join([str(nltk_root), *filter(None, paths)])
    if "textattack" in sys.modules:
        return
    saved = {key: os.environ.get(key) for key in _TA_REDIRECTED_ENV}
    import datasets  # noqa: F401  (these read HF_HOME at import: import them before TextAttack repoints it)
    import huggingface_hub  # noqa: F401
    import textattack  # noqa: F401
    import transformers  # noqa: F401

    if ours:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


prepare_textattack_offline()

import numpy as np  # noqa: E402  (TextAttack only after the offline preparation above)
import textattack  # noqa: E402
import torch  # noqa: E402
from textattack.attack_args import ATTACK_RECIPE_NAMES  # noqa: E402
from textattack.attack_results import (  # noqa: E402
    AttackResult,
    FailedAttackResult,
    MaximizedAttackResult,
    SkippedAttackResult,
    SuccessfulAttackResult,
)
from textattack.constraints import Constraint  # noqa: E402
from textattack.constraints.pre_transformation import (  # noqa: E402
    InputColumnModification,
    RepeatModification,
    StopwordModification,
)
from textattack.constraints.semantics.sentence_encoders import SBERT  # noqa: E402
from textattack.goal_functions import UntargetedClassification  # noqa: E402
from textattack.models.wrappers import ModelWrapper  # noqa: E402
from textattack.search_methods import GreedyWordSwapWIR  # noqa: E402
from textattack.shared import AttackedText  # noqa: E402
from textattack.shared.validators import transformation_consists_of_word_swaps  # noqa: E402
from textattack.transformations import WordSwap  # noqa: E402
from textattack.transformations.word_swaps.word_swap_embedding import recover_word_case  # noqa: E402

from arena.attack import FAILED, SKIPPED, SUCCEEDED  # noqa: E402
from arena.attack_options import AttackOptions  # noqa: E402
from arena.classifier import Classifier, TextInput  # noqa: E402
from arena.data import Example  # noqa: E402
from arena.pos import PosTagger, same_pos  # noqa: E402
from arena.results import ExampleResult  # noqa: E402
from arena.scorer import Scorer  # noqa: E402
from arena.similarity import SentenceSimilarity  # noqa: E402
from arena.synonyms import SynonymSource, WordNetSynonyms, load_synonyms  # noqa: E402
from arena.words import STOPWORDS, WordView  # noqa: E402
from attackers.textfooler import DEFAULT_SIM_THRESHOLD  # noqa: E402

WORDNET_MAX_CANDIDATES = 1000  # TextAttack's WordSwapWordNet returns every single-word lemma


# -- the model --------------------------------------------------------------------------------


class ArenaModelWrapper(ModelWrapper):
    """An arena classifier as a TextAttack ``ModelWrapper``: probabilities through an arena Scorer.

    Inputs are strings, or tuples ``(premise, hypothesis)`` for TextAttack's two-column data;
    the Scorer batches them by length (padded to the longest of each batch, never to the
    maximum) and caches them. Query budgets are TextAttack's (on its goal function).
    """

    def __init__(self, target: Classifier | Scorer):
        self.scorer = target if isinstance(target, Scorer) else Scorer(target)
        self.model = self.scorer.classifier
        self.owner: Hashable | None = None  # the example attacked, when its queries are to share draws

    def __call__(self, text_input_list: list) -> np.ndarray:
        """Class probabilities, one row per input."""
        items: list[TextInput] = [t if isinstance(t, str) else tuple(t) for t in text_input_list]
        return self.scorer.predict_proba(items, self.owner)


def to_textattack(classifier_or_scorer: Classifier | Scorer) -> ArenaModelWrapper:
    """Wrap an arena classifier (or a Scorer over one) for TextAttack's ``Attack`` / ``Attacker``."""
    return ArenaModelWrapper(classifier_or_scorer)


# -- local pieces -----------------------------------------------------------------------------


class SynonymWordSwap(WordSwap):
    """Word swaps drawn from an arena synonym source (top ``max_candidates``, cosine >= ``min_cos``)."""

    def __init__(self, synonyms: SynonymSource, max_candidates: int = 50, min_cos: float = 0.5):
        super().__init__()
        self.synonyms = synonyms
        self.source = synonyms.name
        self.max_candidates = max_candidates
        self.min_cos = min_cos

    def _get_replacement_words(self, word: str) -> list[str]:
        return [
            recover_word_case(n, word)
            for n in self.synonyms.neighbours(word.lower(), self.max_candidates, self.min_cos)
        ]

    def extra_repr_keys(self) -> list[str]:
        """The fields TextAttack prints for this piece."""
        return ["source", "max_candidates", "min_cos"]


class SynonymDistance(Constraint):
    """A swap passes when the new word is among the old word's neighbours in an arena synonym source.

    Stands in for ``WordEmbeddingDistance``: a vector source checks cosine >= ``min_cos`` itself;
    a neighbour table was filtered when it was built.
    """

    def __init__(
        self,
        synonyms: SynonymSource,
        max_candidates: int = 50,
        min_cos: float = 0.5,
        compare_against_original: bool = True,
    ):
        super().__init__(compare_against_original)
        self.synonyms = synonyms
        self.max_candidates = max_candidates
        self.min_cos = min_cos

    def _check_constraint(self, transformed_text: AttackedText, reference_text: AttackedText) -> bool:
        for i in transformed_text.attack_attrs["newly_modified_indices"]:
            old, new = reference_text.words[i].lower(), transformed_text.words[i].lower()
            if new != old and new not in self.synonyms.neighbours(old, self.max_candidates, self.min_cos):
                return False
        return True

    def check_compatibility(self, transformation) -> bool:
        """Only word swaps have an old and a new word."""
        return transformation_consists_of_word_swaps(transformation)

    def extra_repr_keys(self) -> list[str]:
        """The fields TextAttack prints for this piece."""
        return ["max_candidates", "min_cos"] + super().extra_repr_keys()


class ArenaPartOfSpeech(Constraint):
    """TextFooler's POS rule with arena's tagger: tags equal, or both NOUN/VERB when allowed.

    The word is tagged in a ±``window`` word context when the text has more than 10 words,
    else in the whole text (as :class:`attackers.textfooler.TextFooler` does).
    """

    def __init__(
        self,
        tagger: PosTagger,
        allow_verb_noun_swap: bool = True,
        compare_against_original: bool = True,
        window: int = 4,
    ):
        super().__init__(compare_against_original)
        self.tagger = tagger
        self.backend = tagger.backend
        self.allow_verb_noun_swap = allow_verb_noun_swap
        self.window = window

    def _check_constraint(self, transformed_text: AttackedText, reference_text: AttackedText) -> bool:
        words = reference_text.words
        return all(
            same_pos(self.tagger.tags, words, i, [transformed_text.words[i]], self.window, self.allow_verb_noun_swap)[0]
            for i in transformed_text.attack_attrs["newly_modified_indices"]
        )

    def check_compatibility(self, transformation) -> bool:
        """Only word swaps keep word positions."""
        return transformation_consists_of_word_swaps(transformation)

    def extra_repr_keys(self) -> list[str]:
        """The fields TextAttack prints for this piece."""
        return ["backend", "allow_verb_noun_swap", "window"] + super().extra_repr_keys()


def local_sbert(threshold: float, metric: str = "cosine", **kwargs) -> SBERT:
    """TextAttack's own ``SBERT`` sentence-encoder constraint on the packaged MiniLM folder.

    ``kwargs`` are ``SentenceEncoder``'s (``window_size``, ``compare_against_original``,
    ``skip_text_shorter_than_window``), with its defaults.
    """
    return SBERT(threshold=threshold, metric=metric, model_name=minilm_path(), **kwargs)


# -- recipes ----------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _synonyms(spec: str) -> SynonymSource:
    return load_synonyms(spec)


def _pos_tagger(options: AttackOptions) -> PosTagger:
    return PosTagger("auto" if options.pos == "none" else options.pos)


def build_textfooler(model_wrapper: ModelWrapper, options: AttackOptions) -> textattack.Attack:
    """TextAttack's TextFooler recipe (its search, goal function and constraints) with local pieces.

    Synonyms from ``options.synonyms`` instead of the downloaded paragramcf embedding (whose
    ``WordEmbeddingDistance`` the source's own cosine filter replaces), arena's POS tagger
    instead of NLTK's, ``SBERT`` on the packaged MiniLM instead of USE (threshold
    ``options.sim_threshold`` or 0.80, MiniLM's calibration of USE's 0.8408).
    """
    transformation = SynonymWordSwap(_synonyms(options.synonyms), options.max_candidates, options.min_cos)
    constraints = [
        RepeatModification(),
        StopwordModification(stopwords=STOPWORDS),
        InputColumnModification(["premise", "hypothesis"], {"premise"}),
    ]
    if options.pos != "none":
        constraints.append(ArenaPartOfSpeech(_pos_tagger(options), allow_verb_noun_swap=True))
    threshold = DEFAULT_SIM_THRESHOLD if options.sim_threshold is None else options.sim_threshold
    constraints.append(
        local_sbert(
            threshold, "angular", window_size=15, compare_against_original=False, skip_text_shorter_than_window=True
        )
    )
    goal_function = UntargetedClassification(model_wrapper)
    return textattack.Attack(goal_function, constraints, transformation, GreedyWordSwapWIR(wir_method="delete"))


def _local_pieces(options: AttackOptions) -> dict[str, tuple[Callable, str]]:
    """Recipe-module name -> (factory taking the stock class's arguments, why it is replaced)."""

    def word_swap_embedding(max_candidates: int = 15, embedding=None, **kwargs) -> SynonymWordSwap:
        return SynonymWordSwap(_synonyms(options.synonyms), max_candidates, options.min_cos)

    def word_embedding_distance(
        embedding=None,
        include_unknown_words=True,
        min_cos_sim=None,
        max_mse_dist=None,
        cased=False,
        compare_against_original=True,
    ) -> SynonymDistance:
        return SynonymDistance(
            _synonyms(options.synonyms),
            options.max_candidates,
            min_cos_sim or options.min_cos,
            compare_against_original,
        )

    def word_swap_wordnet(language: str = "eng") -> SynonymWordSwap:
        if language != "eng":
            raise ResourceMissing(
                f"WordSwapWordNet(language={language!r}) needs the omw-1.4 download; only English WordNet is local"
            )
        return SynonymWordSwap(WordNetSynonyms(), WORDNET_MAX_CANDIDATES, 0.0)

    def universal_sentence_encoder(
        threshold: float = 0.8, large: bool = False, metric: str = "angular", **kwargs
    ) -> SBERT:
        return local_sbert(threshold if options.sim_threshold is None else options.sim_threshold, metric, **kwargs)

    def sbert(threshold: float = 0.7, metric: str = "cosine", model_name=None, **kwargs) -> SBERT:
        return local_sbert(threshold if options.sim_threshold is None else options.sim_threshold, metric, **kwargs)

    def part_of_speech(
        tagger_type="nltk",
        tagset="universal",
        allow_verb_noun_swap=True,
        compare_against_original=True,
        language_nltk="eng",
        language_stanza="en",
    ) -> ArenaPartOfSpeech:
        return ArenaPartOfSpeech(_pos_tagger(options), allow_verb_noun_swap, compare_against_original)

    return {
        "WordSwapEmbedding": (
            word_swap_embedding,
            f"needs the counter-fitted paragramcf download; using --synonyms {options.synonyms}",
        ),
        "WordEmbeddingDistance": (
            word_embedding_distance,
            f"needs the paragramcf download; using the neighbours of --synonyms {options.synonyms}",
        ),
        "WordSwapWordNet": (word_swap_wordnet, "needs the omw-1.4 download; using local WordNet"),
        "UniversalSentenceEncoder": (universal_sentence_encoder, "needs TF-Hub; using SBERT on the packaged MiniLM"),
        "SBERT": (sbert, "needs a hub model; using SBERT on the packaged MiniLM"),
        "PartOfSpeech": (part_of_speech, "needs NLTK/flair tagger data; using arena's POS tagger"),
    }


@contextmanager
def _patched(module, names: dict[str, Callable]) -> Iterator[None]:
    """Temporarily rebind ``names`` in ``module``."""
    saved = {name: getattr(module, name) for name in names}
    try:
        for name, value in names.items():
            setattr(module, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


def _announce(recipe: str, piece: str, factory: Callable, why: str) -> Callable:
    """``factory``, logging one line the first time it is called."""
    said = False

    def make(*args, **kwargs):
        nonlocal said
        if not said:
            logger.warning("textattack:%s: %s %s", recipe, piece, why)
            said = True
        return factory(*args, **kwargs)

    return make


def _guarded(recipe: str, piece: str, original: Callable, needs: str) -> Callable:
    """``original``, with any failure to build it turned into :class:`ResourceMissing`."""

    def make(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        except Exception as exc:
            raise ResourceMissing(
                f"textattack:{recipe}: {piece} needs {needs} and has no offline replacement "
                f"({type(exc).__name__}: {str(exc)[:200]}); {RUN_ONLINE}, "
                f"or pick a recipe that runs offline: {', '.join(OFFLINE_RECIPES)}"
            ) from exc

    return make


def build_recipe(name: str, model_wrapper: ModelWrapper, options: AttackOptions | None = None) -> textattack.Attack:
    """A TextAttack ``Attack`` for recipe ``name`` (TextAttack's ``--recipe`` names), runnable offline.

    ``textfooler`` is :func:`build_textfooler`. Any other recipe is built by TextAttack's own
    recipe class with the downloading pieces its module names replaced by local ones (one log
    line each); a piece with no local stand-in that fails to load raises ``ResourceMissing``;
    recipes that need gradients, extra arguments or a sequence-to-sequence model raise ``ValueError``.
    """
    options = options or AttackOptions()
    if name not in ATTACK_RECIPE_NAMES:
        raise ValueError(f"unknown TextAttack recipe {name!r}; known: {', '.join(recipe_names())}")
    if name in NOT_FOR_ARENA:
        raise ValueError(f"textattack:{name} cannot attack an arena classifier: {NOT_FOR_ARENA[name]}")
    if name == "textfooler":
        return build_textfooler(model_wrapper, options)
    module_name, _, class_name = ATTACK_RECIPE_NAMES[name].rpartition(".")
    recipe_class = getattr(import_module(module_name), class_name)
    module = sys.modules[recipe_class.__module__]
    names = {
        piece: _announce(name, piece, factory, why)
        for piece, (factory, why) in _local_pieces(options).items()
        if hasattr(module, piece)
    }
    names.update(
        {
            piece: _guarded(name, piece, getattr(module, piece), needs)
            for piece, needs in UNREPLACEABLE.items()
            if hasattr(module, piece)
        }
    )
    with _patched(module, names):
        try:
            return recipe_class.build(model_wrapper)
        except OSError as exc:  # a model or data file the recipe loads itself (hub model, packaged file)
            raise ResourceMissing(
                f"textattack:{name}: the recipe could not load a model or file it needs ({str(exc)[:300]}); "
                f"{RUN_ONLINE}, or pick a recipe that runs offline: {', '.join(OFFLINE_RECIPES)}"
            ) from exc


# -- the arena Attacker -----------------------------------------------------------------------


def word_changes(original: str, perturbed: str) -> list[list]:
    """``[position, old, new]`` for each changed word (positions index ``WordView.of(original).words``).

    Same word count: position by position. Otherwise the word lists are aligned and each
    changed run is one entry at its first position, with the run's old and new words joined.
    """
    old, new = WordView.of(original).words, WordView.of(perturbed).words
    if len(old) == len(new):
        return [[i, a, b] for i, (a, b) in enumerate(zip(old, new)) if a != b]
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    return [
        [i1, " ".join(old[i1:i2]), " ".join(new[j1:j2])]
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def _status(result: AttackResult, label: int) -> str:
    if isinstance(result, SuccessfulAttackResult):
        return SUCCEEDED
    if isinstance(result, SkippedAttackResult):
        return SKIPPED
    if isinstance(result, MaximizedAttackResult):  # a maximising goal: count it by the prediction it reached
        return SUCCEEDED if int(np.argmax(result.perturbed_result.raw_output)) != label else FAILED
    if isinstance(result, FailedAttackResult):
        return FAILED
    raise TypeError(f"unexpected TextAttack result {type(result).__name__}")


def _segment(attacked_text: AttackedText) -> str:
    """The attacked segment: the text, or the last column (hypothesis) of a pair."""
    value = attacked_text.tokenizer_input
    return value if isinstance(value, str) else value[-1]


RECIPE_SEED = 765  # TextAttack's default AttackArgs.random_seed


class ConfirmedGoal:
    """The adaptive attack's test of a success, as TextFooler's: a text whose mean over draws
    reaches the goal is drawn again ``scorer.eot`` times and reaches it only if most of those
    fresh draws do (the test its final text must pass too, ``arena.match.verified``). A search
    over many noisy means otherwise stops at the first that crosses by chance. Installed on the
    goal function; ``queries`` counts the fresh draws of the current example."""

    def __init__(self, goal_function, scorer: Scorer):
        self.reached, self.scorer, self.queries = goal_function._is_goal_complete, scorer, 0
        goal_function._is_goal_complete = self

    def __call__(self, model_output, attacked_text: AttackedText) -> bool:
        if not self.reached(model_output, attacked_text):
            return False
        value = attacked_text.tokenizer_input
        fresh = self.scorer.draws([value if isinstance(value, str) else tuple(value)], None, self.scorer.eot)[0]
        self.queries += len(fresh)
        return 2 * sum(bool(self.reached(torch.as_tensor(row), attacked_text)) for row in fresh) > len(fresh)


class RebasedSearch:
    """Against a randomized defender, a TextAttack search step compares a candidate's score, from
    this call's draws, with the score the current text got in an earlier call. That score is the
    luckiest of the draws that made the text current, so later, truly better candidates rarely beat
    it and noise shields the defender. Installed on the search (with TextAttack's output cache off,
    so every call draws afresh), each call scores the candidates' parent text with them, under the
    same draws, and moves the candidates' scores by the parent's change: a candidate then beats the
    current text when it beats it within the call. ``held`` maps each text to the score the search
    holds for it (cleared per example)."""

    def __init__(self, search_method, goal_function):
        self.get, self.held = search_method.get_goal_results, {}
        goal_function.use_cache, goal_function._call_model_cache = False, None
        search_method.get_goal_results = self
        start = goal_function.init_attack_example

        def init_attack_example(attacked_text, ground_truth_output):
            self.held.clear()
            result, skip = start(attacked_text, ground_truth_output)
            self.held[attacked_text.text] = result.score
            return result, skip

        goal_function.init_attack_example = init_attack_example

    def __call__(self, candidates: list) -> tuple[list, bool]:
        parents = {
            id(c.attack_attrs.get("previous_attacked_text")): c.attack_attrs.get("previous_attacked_text")
            for c in candidates
        }
        parent = (
            next(iter(parents.values())) if len(parents) == 1 else None
        )  # a beam's candidates of several parents: as they are
        if parent is None or parent.text not in self.held:
            results, over = self.get(candidates)
        else:
            results, over = self.get([*candidates, parent])
            if len(results) == len(candidates) + 1:  # a query budget may cut the call short: then no parent score
                shift = self.held[parent.text] - results.pop().score
                for result in results:
                    result.score += shift
        for result in results:  # the score the search holds for a text it takes is the one it got last
            self.held[result.attacked_text.text] = result.score
        return results, over


class TextAttackRecipe:
    """A TextAttack recipe as an arena attacker (examples attacked one at a time, as TextAttack does)."""

    def __init__(self, recipe_name: str, options: AttackOptions | None = None):
        if recipe_name not in ATTACK_RECIPE_NAMES:
            raise ValueError(f"unknown TextAttack recipe {recipe_name!r}; known: {', '.join(recipe_names())}")
        self.recipe = recipe_name
        self.options = options or AttackOptions()
        self.name = f"textattack:{recipe_name}"
        self._similarity: SentenceSimilarity | None = None

    @property
    def similarity(self) -> SentenceSimilarity:
        """Whole-text similarity of original and perturbed segments (loaded on first use)."""
        if self._similarity is None:
            self._similarity = SentenceSimilarity(device=self.options.device)
        return self._similarity

    def attack(self, items: Sequence[tuple[int, Example]], scorer: Scorer) -> Iterator[ExampleResult]:
        """Build the recipe against ``scorer`` and attack each example; yields each result when done.
        Against a randomized defender (``scorer.eot`` K > 1) each TextAttack query is the mean of K
        draws and costs K queries, the texts of one call share those draws (common random numbers;
        not under a query budget, which TextAttack then counts), each search step compares its
        candidates with their parent scored in the same call (:class:`RebasedSearch`), and a success
        is confirmed on K fresh draws (:class:`ConfirmedGoal`)."""
        attack = build_recipe(self.recipe, to_textattack(scorer), self.options)
        if scorer.query_budget is not None:
            attack.goal_function.query_budget = scorer.query_budget
        confirmed = None
        if scorer.eot > 1:
            RebasedSearch(attack.search_method, attack.goal_function)
            confirmed = ConfirmedGoal(attack.goal_function, scorer)
        yield from self.run(attack, items, confirmed)

    def run(
        self, attack: textattack.Attack, items: Sequence[tuple[int, Example]], confirmed: ConfirmedGoal | None = None
    ) -> Iterator[ExampleResult]:
        """Attack each example with a built ``Attack`` (over any model wrapper); yields each result when done."""
        wrapper = attack.goal_function.model
        paired = (
            confirmed is not None and isinstance(wrapper, ArenaModelWrapper) and wrapper.scorer.query_budget is None
        )
        for idx, example in items:
            if confirmed is not None:
                confirmed.queries = 0
            if paired:  # one call's texts share the defense's draws (common random numbers), so their scores compare
                wrapper.owner = example.id
            start = time.perf_counter()
            # recipes that draw at random (DeepWordBug's character edits...) repeat per example, and a
            # resumed run matches an uninterrupted one: seeded by TextAttack's default seed + position
            textattack.shared.utils.set_seed(RECIPE_SEED + idx)
            text_input = (
                example.text
                if example.text_pair is None
                else OrderedDict([("premise", example.text), ("hypothesis", example.text_pair)])
            )
            try:
                result = attack.attack(text_input, example.label)
            except OSError as exc:  # a model TextAttack loads lazily (e.g. checklist's flair NER tagger)
                raise ResourceMissing(
                    f"{self.name}: a model or file the recipe loads during the attack is missing ({str(exc)[:300]}); "
                    f"{RUN_ONLINE}, or pick a recipe that runs offline: {', '.join(OFFLINE_RECIPES)}"
                ) from exc
            queries = (
                int(result.num_queries)
                if confirmed is None
                else int(result.num_queries) * confirmed.scorer.eot + confirmed.queries
            )
            yield self._result(idx, example, result, start, queries)

    def _result(self, idx: int, example: Example, result: AttackResult, start: float, queries: int) -> ExampleResult:
        status = _status(result, example.label)
        original = _segment(result.original_result.attacked_text)
        original_proba = np.asarray(result.original_result.raw_output, dtype=np.float64)
        if status == SKIPPED:
            perturbed, perturbed_proba, changed, similarity = None, original_proba, [], None
        else:
            perturbed = _segment(result.perturbed_result.attacked_text)
            perturbed_proba = np.asarray(result.perturbed_result.raw_output, dtype=np.float64)
            changed = word_changes(original, perturbed)
            similarity = float(self.similarity.similarity([original], [perturbed])[0])
        extra: dict = {"changed": changed}
        if status == SKIPPED:
            extra["note"] = "defender already wrong"
        return ExampleResult(
            idx=idx,
            example_id=example.id,
            label=example.label,
            original_text=example.text,
            text_pair=example.text_pair,
            status=status,
            original_pred=int(original_proba.argmax()),
            original_proba=[round(float(x), 6) for x in original_proba],
            perturbed_text=perturbed,
            perturbed_pred=int(perturbed_proba.argmax()),
            perturbed_proba=[round(float(x), 6) for x in perturbed_proba],
            queries=queries,
            words_changed=sum(max(1, len(old.split()), len(new.split())) for _, old, new in changed),
            words_total=len(WordView.of(original)),
            similarity=similarity,
            seconds=time.perf_counter() - start,
            extra=extra,
        )
