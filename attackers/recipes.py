"""TextAttack's recipes as the arena sees them, known without importing TextAttack (which takes
seconds), so a recipe name is checked before any model loads.

The tables describe the pinned ``textattack==0.3.11``; ``tests/test_textattack_adapter.py``
checks them against TextAttack itself.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

from arena.resources import ResourceMissing, hub_cached, hub_offline, wordnet_available

# TextAttack's ``--recipe`` names and their classes (``textattack.attack_args.ATTACK_RECIPE_NAMES``).
RECIPE_CLASSES = {
    "a2t": "A2TYoo2021",
    "alzantot": "GeneticAlgorithmAlzantot2018",
    "bad-characters": "BadCharacters2021",
    "bae": "BAEGarg2019",
    "bert-attack": "BERTAttackLi2020",
    "checklist": "CheckList2020",
    "clare": "CLARE2020",
    "deepwordbug": "DeepWordBugGao2018",
    "faster-alzantot": "FasterGeneticAlgorithmJia2019",
    "hotflip": "HotFlipEbrahimi2017",
    "iga": "IGAWang2019",
    "input-reduction": "InputReductionFeng2018",
    "kuleshov": "Kuleshov2017",
    "leap": "LEAP2023",
    "morpheus": "MorpheusTan2020",
    "pruthi": "Pruthi2019",
    "pso": "PSOZang2020",
    "pwws": "PWWSRen2019",
    "seq2sick": "Seq2SickCheng2018BlackBox",
    "textbugger": "TextBuggerLi2018",
    "textfooler": "TextFoolerJin2019",
}
# Pieces of stock recipes that download and have no local stand-in, and what each needs.
UNREPLACEABLE = {
    "WordSwapMaskedLM": "a masked language model from the Hugging Face hub",
    "WordInsertionMaskedLM": "a masked language model from the Hugging Face hub",
    "WordMergeMaskedLM": "a masked language model from the Hugging Face hub",
    "GPT2": "GPT-2 from the Hugging Face hub",
    "Google1BillionWordsLanguageModel": "the Google 1-billion-words language model (TextAttack's S3, TensorFlow)",
    "LearningToWriteLanguageModel": "the learning-to-write language model (TextAttack's S3)",
    "ThoughtVector": "the counter-fitted paragramcf embedding (TextAttack's S3)",
    "WordSwapHowNet": "the HowNet candidate bank (TextAttack's S3)",
    "WordSwapChangeName": "a flair NER model",
    "WordSwapChangeLocation": "a flair NER model",
}
# The unreplaceable pieces each recipe's module names (recipes with none are absent).
RECIPE_PIECES = {
    "a2t": ("WordSwapMaskedLM",),
    "alzantot": ("Google1BillionWordsLanguageModel",),
    "bae": ("WordSwapMaskedLM",),
    "bert-attack": ("WordSwapMaskedLM",),
    "checklist": ("WordSwapChangeName", "WordSwapChangeLocation"),
    "clare": ("WordSwapMaskedLM", "WordInsertionMaskedLM", "WordMergeMaskedLM"),
    "faster-alzantot": ("LearningToWriteLanguageModel",),
    "kuleshov": ("GPT2", "ThoughtVector"),
    "pso": ("WordSwapHowNet",),
}
# Hub models those pieces load in these recipes: with all of them cached, the recipe runs offline.
RECIPE_HUB_MODELS = {
    "bae": ("bert-base-uncased",),
    "bert-attack": ("bert-base-uncased",),
    "clare": ("distilroberta-base",),
}
NEEDS_WORDNET = ("leap", "pwws")  # their word swaps are WordNet's (nltk's corpus or Debian's files)
# Recipes an arena classifier cannot run, and why.
NOT_FOR_ARENA = {
    "a2t": "its word ranking uses gradients (GreedyWordSwapWIR('gradient')) and arena's wrapper is black-box",
    "hotflip": "its word swaps use gradients (WordSwapGradientBased) and arena's wrapper is black-box",
    "input-reduction": "it removes words while keeping the prediction (InputReduction); it is not an attack",
    "bad-characters": "its build() needs a goal_function_type (targeted attacks), which a recipe name does not give",
    "morpheus": "it attacks sequence-to-sequence models (MinimizeBleu), not classifiers",
    "seq2sick": "it attacks sequence-to-sequence models (NonOverlappingOutput), not classifiers",
}
OFFLINE_RECIPES = (
    "textfooler",
    "pwws",
    "deepwordbug",
    "iga",
    "pruthi",
    "leap",
)  # run offline with the local pieces (tested)
RUN_ONLINE = "run this recipe once online so TextAttack caches it"


def recipe_names() -> list[str]:
    """Recipe names the arena knows (TextAttack's ``--recipe`` names)."""
    return sorted(RECIPE_CLASSES)


def recipe_status(name: str) -> str:
    """One line on whether ``name`` runs here: offline, online only (naming the piece), or not at all."""
    if name in NOT_FOR_ARENA:
        return f"cannot attack an arena classifier: {NOT_FOR_ARENA[name]}"
    if name in NEEDS_WORDNET:
        return "offline with WordNet" + ("" if wordnet_available() else " (WordNet is missing here: see `arena info`)")
    if name in RECIPE_PIECES:
        pieces = ", ".join(f"{piece} ({UNREPLACEABLE[piece]})" for piece in RECIPE_PIECES[name])
        return f"online only: {pieces}"
    return "offline"


def check_recipe(name: str) -> None:
    """Raise at once, before any model loads, for a recipe that is unknown (with the closest names),
    cannot attack a classifier, or needs a piece this machine cannot get (offline)."""
    if name not in RECIPE_CLASSES:
        close = difflib.get_close_matches(name, RECIPE_CLASSES, n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        raise ValueError(
            f"unknown TextAttack recipe {name!r}; {hint}known: {', '.join(recipe_names())} (`arena list recipes`)"
        )
    if name in NOT_FOR_ARENA:
        raise ValueError(f"textattack:{name} cannot attack an arena classifier: {NOT_FOR_ARENA[name]}")
    if name in NEEDS_WORDNET and not wordnet_available():
        raise ResourceMissing(
            f"textattack:{name}: WordSwapWordNet needs WordNet, which is not installed (nltk's wordnet corpus, "
            "or Debian's `apt-get install wordnet-base wordnet-sense-index`); offline without it: "
            f"{', '.join(r for r in OFFLINE_RECIPES if r not in NEEDS_WORDNET)}"
        )
    if name in RECIPE_PIECES and hub_offline():
        cached = name in RECIPE_HUB_MODELS and all(hub_cached(model) for model in RECIPE_HUB_MODELS[name])
        if not cached:
            piece = RECIPE_PIECES[name][0]
            raise ResourceMissing(
                f"textattack:{name}: {piece} needs {UNREPLACEABLE[piece]} and has no offline replacement, and "
                f"this machine is offline; {RUN_ONLINE}, "
                f"or pick a recipe that runs offline: {', '.join(OFFLINE_RECIPES)}"
            )


# NLTK's English stop-word list (nltk_data corpora/stopwords/english, the 179-word version).
NLTK_ENGLISH_STOPWORDS = (
    "i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he him his "
    "himself she she's her hers herself it it's its itself they them their theirs themselves what which who whom this "
    "that that'll these those am is are was were be been being have has had having do does did doing a an the and but "
    "if or because as until while of at by for with about against between into through during before after above below "
    "to from up down in out on off over under again further then once here there when where why how all any both each "
    "few more most other some such no nor not only own same so than too very s t can will just don don't should "
    "should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't "
    "haven haven't isn isn't ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't "
    "weren weren't won won't wouldn wouldn't"
).split()


def write_nltk_stopwords(root: str | Path) -> None:
    """NLTK's English stop words under ``root`` (an NLTK data folder), which TextAttack reads when
    imported; ``setup.sh`` puts them in the venv (``sys.prefix/nltk_data``), so ``import textattack``
    works offline in any order."""
    path = Path(root) / "corpora" / "stopwords" / "english"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(NLTK_ENGLISH_STOPWORDS) + "\n", encoding="utf-8")


if __name__ == "__main__":  # python -m attackers.recipes: the stop words into this environment (setup.sh)
    write_nltk_stopwords(Path(sys.prefix) / "nltk_data")
