"""Names -> constructors for attackers (the one place ``arena`` reaches into ``attackers``)."""

from __future__ import annotations

import difflib
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from arena.attack_options import DEFAULT_SYNONYMS, AttackOptions, canonical_synonyms
from arena.data import DEFAULT_SAMPLE
from arena.names import DEFENSE_NAMES, DEFENSES, defense_name
from arena.resources import hub_cached, model_source_problem, require_extra
from attackers.recipes import check_recipe, recipe_names

if TYPE_CHECKING:  # imported lazily at run time: loading a name must not load torch and transformers
    from arena.attack import Attacker
    from arena.classifier import Classifier
    from arena.scorer import Scorer


def match_config(attacker: str, options: AttackOptions, max_length: int, stochastic: bool = False) -> dict:
    """What defines a match run besides defender and data (the store's run key); for a policy
    attacker, its weights' fingerprint; against a randomized defender, the adaptive attack's
    ``eot`` and ``verify`` unless both are 1 (the non-adaptive attack, as runs were before them),
    and for a TextAttack recipe that its successes are confirmed on fresh draws."""
    config = {"attack": options.identity(), "max_length": max_length}
    eot, verify = options.adaptive(stochastic)
    if (eot, verify) != (1, 1):
        config.update(eot=eot, verify=verify)
        if attacker.startswith("textattack:") and eot > 1:  # searched as its first adaptive runs were not
            config["adaptive_search"] = "paired draws, steps rebased on their parent, successes confirmed"
    if attacker.startswith("rl:"):
        config["rl_samples"] = options.rl_samples
        if options.eval_judge:
            config["eval_judge"] = options.eval_judge
    if attacker.startswith(("rl:", "gen:")):
        from policies.lm import policy_fingerprint

        config["policy"] = policy_fingerprint(attacker.split(":", 1)[1])  # a retrained policy is a new run
    return config


ATTACKERS = ("textfooler", "textattack:RECIPE", "rl:DIR", "gen:DIR")
# What each name is (`arena list`).
ATTACKER_HELP = {
    "textfooler": "TextFooler (Jin et al. 2020), batched across examples: word importance, synonym swaps under POS and "
    "similarity constraints",
    "textattack:RECIPE": "a TextAttack recipe, offline where its pieces have local stand-ins (`arena list recipes`)",
    "rl:DIR": "a causal-LM policy trained by RL to append words that flip the classifier "
    "(`arena train policy --task attacker`)",
    "gen:DIR": "a generator policy: the gap between the classifier's and an independent judge's view of its texts",
}
DEFENSE_HELP = {
    "plain": "the --base classifier as it is",
    "fuse": "FuSE: vote over synonym-swapped copies of the input (FireBERT), wrapping --base",
    "five": "FIVE: vote over copies with noise in the word embeddings (FireBERT), wrapping --base",
    "fact[:PATH]": "FACT: a classifier co-tuned on SWITCH copies (packaged one without PATH, for --base default)",
    "fuse+fact[:PATH]": "FuSE around the FACT model",
    "five+fact[:PATH]": "FIVE around the FACT model",
    "noise": "a canary with no robustness: --base answering a random label on a share p of queries (noise?p=0.3)",
}
CLASSIFIER_HELP = {
    "default": "the offline sentiment classifier: "
    "the packaged MiniLM encoder plus a LoRA adapter shipped in the package",
    "vader": "the VADER sentiment lexicon (negative/positive)",
    "ngram[:DIR]": "a TF-IDF + logistic-regression judge (the packaged one, or one fitted with `arena train judge`)",
    "FOLDER": "a folder from `arena train classifier`, or any transformers classification model folder",
    "HF_ID": "a Hugging Face hub id (needs internet, or a cached copy)",
    "module:function": "a Python callable: list of texts -> probabilities or labels (file.py:function works too)",
    "http://host:port/path": 'an HTTP endpoint taking {"texts": [...]} and answering probabilities',
    "DEFENSE": "any defense (`arena list defenses`)",
}
ON_BASE = ("plain", "fuse", "five", "noise")  # the defenses that wrap --base (no :PATH)
STOCHASTIC = ("fuse", "five", "fuse+fact", "five+fact", "noise")  # the defenses that draw from --defense-seed


def defender_name(spec: str, base: str = "default", synonyms: str = DEFAULT_SYNONYMS, seed: int = 0) -> str:
    """The name a defender's runs are stored under: defenses of a base carry it (``fuse[default]``),
    FuSE its synonym source, stochastic defenses their seed, tuned ones their ``?settings``. A
    classifier that is no defense is ``plain`` on it, so ``default`` and ``plain`` are one run."""
    spec, _, settings = spec.partition("?")
    if spec in ON_BASE:
        spec = f"{spec}[{base}]"
    elif not settings and spec.partition(":")[0] not in DEFENSE_NAMES:
        spec = f"plain[{spec}]"
    kind = spec.split(":")[0].split("[")[0]
    spec += f"?{settings}" if settings else ""
    if kind in ("fuse", "fuse+fact"):
        spec += f"@{canonical_synonyms(synonyms)}"  # FuSE's alternatives depend on the synonym source
    return spec + (f"#seed{seed}" if kind in STOCHASTIC else "")


def parse_settings(text: str, defaults: dict[str, object], what: str) -> dict[str, object]:
    """``key=value&key=value`` as typed settings (each type is that of its default in ``defaults``)."""
    out: dict[str, object] = {}
    for item in filter(None, text.split("&")):
        key, eq, value = item.partition("=")
        if not eq or key not in defaults:
            raise ValueError(
                f"{what}: unknown setting {item!r}; known: {', '.join(f'{k}={v}' for k, v in defaults.items())}"
            )
        kind = type(defaults[key])
        if kind is bool and value.lower() not in ("true", "false"):
            raise ValueError(f"{what}: {key}={value!r} must be true or false")
        try:
            out[key] = value.lower() == "true" if kind is bool else kind(value)
        except ValueError:
            kind_name = {int: "whole number", float: "number"}.get(kind, kind.__name__)
            raise ValueError(f"{what}: {key}={value!r} is not a {kind_name}") from None
    return out


def data_name(data: str, n: int | None = None, seed: int | None = None, sample: str = DEFAULT_SAMPLE) -> str:
    """How a data selection is named in the store (a ``first`` sample keeps the name it had before
    ``balanced`` samples existed, so stored runs resume)."""
    return (
        data
        + (f"?n={n}" if n else "")
        + (f"&seed={seed}" if seed is not None else "")
        + (f"&sample={sample}" if n and sample != "first" else "")
    )


def match_key(
    defender: str,
    attacker: str,
    options: AttackOptions,
    data: str,
    *,
    n: int | None = None,
    data_seed: int | None = None,
    sample: str = DEFAULT_SAMPLE,
    base: str = "default",
    defense_seed: int = 0,
    max_length: int = 256,
    stochastic: bool | None = None,
) -> dict:
    """How a match run is stored: ``run_match``'s ``defender_name``, ``attacker_name``, ``data_name``
    and ``config``. One scheme for ``arena match``, tournaments and the benches, so a run that one
    of them started is resumed, not repeated, by another given the same settings, typed the same
    way (a data path or synonym source is named as given). ``stochastic``: whether the defender is
    randomized (None: as its name says, :data:`STOCHASTIC`)."""
    stochastic = is_stochastic(defender) if stochastic is None else stochastic
    return {
        "defender_name": defender_name(defender, base, options.synonyms, defense_seed),
        "attacker_name": attacker,
        "data_name": data_name(data, n, data_seed, sample),
        "config": match_config(attacker, options, max_length, stochastic),
    }


def is_stochastic(spec: str) -> bool:
    """Whether a defender spec names a randomized defense."""
    return defense_name(spec) in STOCHASTIC


def eval_key(
    classifier: str,
    data: str,
    *,
    n: int | None = None,
    data_seed: int | None = None,
    sample: str = DEFAULT_SAMPLE,
    base: str = "default",
    synonyms: str = DEFAULT_SYNONYMS,
    defense_seed: int = 0,
) -> dict:
    """How a clean evaluation is stored: ``evaluate``'s ``classifier_name`` and ``data_name``. One
    scheme for ``arena eval``, tournaments and the benches (as :func:`match_key` is for attacks)."""
    return {
        "classifier_name": defender_name(classifier, base, synonyms, defense_seed),
        "data_name": data_name(data, n, data_seed, sample),
    }


def packaged_fact(spec: str, base: str) -> str:
    """Folder of the packaged FACT model, which hardens the default classifier (a clear error for another base)."""
    from arena.resources import FACT_CLASSIFIER_DIR

    if base != "default":
        raise ValueError(
            f"{spec!r}: the packaged FACT model is co-tuned from the default classifier's encoder, not for "
            f"--base {base!r}; train one (`arena train defense fact --base ENCODER --judge {base} ...`) and "
            f"pass {spec.partition('?')[0]}:FOLDER"
        )
    return str(FACT_CLASSIFIER_DIR)


def _defender_plan(spec: str, base: str) -> tuple[str, str | None, dict]:
    """What a defender spec asks for, checked without loading a model: the classifier spec to
    load, the wrapper (``fuse``, ``five`` or None) and the wrapper's settings, parsed and checked
    (FuSE: ``{"config": SwitchConfig, "combination": ...}``; FIVE and noise: their keyword arguments)."""
    core, _, settings = spec.partition("?")
    name, _, path = core.partition(":")
    if name in ("fact", "fuse+fact", "five+fact"):
        model_spec, wrapper = path or packaged_fact(spec, base), (name.split("+")[0] if "+" in name else None)
    elif name in ON_BASE:
        if path:
            role = "is the --base classifier as it is" if name == "plain" else "defends the --base classifier"
            raise ValueError(f"{spec!r}: {name} {role} and takes no :PATH; pass --base {path}")
        model_spec, wrapper = base, (None if name == "plain" else name)
    elif "+" in core and "://" not in spec and not Path(core).expanduser().exists():  # no hub id or module has a '+'
        raise ValueError(f"{spec!r}: no such defense; the defenses are {', '.join(DEFENSES)}")
    else:
        return spec, None, {}
    if settings and wrapper is None:
        raise ValueError(f"{spec!r}: only fuse, five and noise take ?settings")
    if wrapper == "fuse":
        from defenses.ensemble import check_combination
        from defenses.fuse import FUSE_DEFAULTS
        from defenses.switch import SwitchConfig

        defaults = {**asdict(FUSE_DEFAULTS), "combination": "logits"}
        chosen = {**defaults, **parse_settings(settings, defaults, spec)}
        combination = check_combination(str(chosen.pop("combination")))
        return model_spec, wrapper, {"config": SwitchConfig(**chosen), "combination": combination}
    if wrapper == "five":
        from defenses.five import FIVE_DEFAULTS

        return model_spec, wrapper, parse_settings(settings, FIVE_DEFAULTS, spec)
    if wrapper == "noise":
        from defenses.noise import NOISE_DEFAULTS

        return model_spec, wrapper, parse_settings(settings, NOISE_DEFAULTS, spec)
    return model_spec, None, {}


CLASSIFIER_NAMES = ("default", "vader", "ngram")  # classifiers known by name (more: `arena list classifiers`)


def did_you_mean(name: str, known: Sequence[str]) -> str:
    """`` did you mean 'x'?`` for the known names closest to a mistyped one ('' when none is close)."""
    close = difflib.get_close_matches(name, known, n=2, cutoff=0.7)
    return f" did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def check_model(spec: str, what: str = "classifier", names: Sequence[str] = CLASSIFIER_NAMES) -> None:
    """Raise for a classifier spec (not a defense) that cannot load here, without loading it: a
    folder, module or file that is not there, a hub id while offline and not cached, and a name
    that is none of these (with the closest known names)."""
    if spec in names or spec.startswith(("http://", "https://")) or Path(spec).expanduser().exists():
        return
    if spec.startswith("ngram:"):
        if not Path(spec[6:]).expanduser().is_dir():
            raise ValueError(
                f"{spec!r}: no n-gram judge folder {spec[6:]!r} (fit one with `arena train judge --out DIR`)"
            )
        return
    if ":" in spec:  # module:function or file.py:function
        module, _, function = spec.rpartition(":")
        if not module or not function:
            raise ValueError(f"{spec!r}: expected module:function")
        if module.endswith(".py") and not Path(module).expanduser().is_file():
            raise ValueError(f"{spec!r}: no such file {module}")
        if not module.endswith(".py") and importlib.util.find_spec(module.split(".")[0]) is None:
            raise ValueError(f"{spec!r}: no module {module!r} importable from here")
        return
    hint = did_you_mean(spec, [*names, *DEFENSE_NAMES])
    if hint and "/" not in spec and not hub_cached(spec):
        raise ValueError(
            f"unknown {what} {spec!r};{hint} (known: {', '.join(names)}, a defense, a folder, module:function, "
            "a URL or a hub id; `arena list classifiers`)"
        )
    problem = model_source_problem(spec, what)
    if problem:
        raise ValueError(problem + (f";{hint}" if hint else ""))


def classifier_folder(spec: str, base: str = "default") -> Path | None:
    """The trained folder (with ``arena_classifier.json``) behind a classifier or defense spec, if any."""
    from arena.resources import DEFAULT_CLASSIFIER_DIR

    model_spec, _, _ = _defender_plan(spec, base)
    folder = DEFAULT_CLASSIFIER_DIR if model_spec == "default" else Path(model_spec).expanduser()
    return folder if (folder / "arena_classifier.json").is_file() else None


def callable_origin(spec: str) -> Path | None:
    """The file a ``module:function`` or ``file.py:function`` classifier spec would run code from
    (for a package, its ``__init__.py``), found as :meth:`arena.classifier.CallableClassifier.from_spec`
    imports it, without importing anything; ``Path()`` when the module is built in or not found;
    None for a spec that is no Python callable."""
    if ":" not in spec or spec.startswith(("http://", "https://", "ngram:")) or Path(spec).expanduser().exists():
        return None
    module, _, function = spec.rpartition(":")
    if not module or not function:
        return None
    if module.endswith(".py"):
        return Path(module).expanduser().resolve()
    found = importlib.machinery.PathFinder.find_spec(module.split(".")[0], [*sys.path, os.getcwd()])
    return Path(found.origin).resolve() if found is not None and found.origin else Path()


def defended_model(spec: str, base: str = "default") -> str:
    """The classifier spec under a defender spec (``fuse`` on ``base`` -> ``base``; a classifier -> itself)."""
    return _defender_plan(spec, base)[0]


def check_defender(spec: str, base: str = "default") -> None:
    """Raise the error :func:`build_defender` would raise for a bad name or setting, or a model
    that cannot load here (:func:`check_model`), without loading anything (commands check every
    spec before their first model loads)."""
    check_model(defended_model(spec, base))


def build_defender(
    spec: str,
    base: str = "default",
    *,
    synonyms: str = DEFAULT_SYNONYMS,
    seed: int = 0,
    labels=None,
    **classifier_options,
) -> Classifier:
    """A defender by name: ``plain | fuse | five`` wrap ``base``; ``fact:PATH``, ``fuse+fact:PATH``,
    ``five+fact:PATH`` wrap the FACT-tuned classifier at PATH, and without ``:PATH`` the packaged one
    (the default classifier's FACT counterpart, so only with ``base`` ``default``); anything else is
    a classifier spec, except ``plain|fuse|five:PATH`` and unknown ``a+b`` names (clear errors).
    FuSE and FIVE take settings after ``?``: ``five?std=8.14&samples=8``,
    ``fuse+fact:runs/fact?perturb_words=2&combination=vote``. Settings are checked before
    anything loads, so a bad one fails fast."""
    from arena.classifier import load_classifier

    model_spec, wrapper, settings = _defender_plan(spec, base)
    model = load_classifier(model_spec, labels=labels, **classifier_options)
    if wrapper == "fuse":
        from arena.pos import PosTagger
        from arena.similarity import SentenceSimilarity
        from arena.synonyms import load_synonyms
        from defenses.fuse import FuSE

        config = settings["config"]
        similarity = SentenceSimilarity(device=classifier_options.get("device")) if config.use_similarity else None
        return FuSE(
            model,
            load_synonyms(synonyms),
            similarity,
            PosTagger(),
            config,
            combination=settings["combination"],
            seed=seed,
        )
    if wrapper == "five":
        from defenses.five import FIVE

        return FIVE(model, seed=seed, **settings)
    if wrapper == "noise":
        from defenses.noise import Noise

        return Noise(model, seed=seed, **settings)
    return model


def check_attacker(spec: str) -> None:
    """Raise the error :func:`build_attacker` would raise for an unknown name, recipe or missing
    policy folder, or a TextAttack recipe that cannot run here, without loading anything."""
    kind, colon, rest = spec.partition(":")
    if spec != "textfooler" and not (colon and kind in ("textattack", "rl", "gen") and rest):
        names = ["textfooler", *(f"textattack:{r}" for r in recipe_names())]
        raise ValueError(
            f"unknown attacker {spec!r};{did_you_mean(spec, names)} "
            f"known: {', '.join(ATTACKERS)} (`arena list attacks`)"
        )
    if kind == "textattack":
        require_extra("textattack", "textattack", f"attacker {spec!r}")
        check_recipe(rest)
    if kind in ("rl", "gen") and not Path(rest).expanduser().is_dir():
        raise ValueError(
            f"attacker {spec!r}: no policy folder {rest!r} (train one with `arena train policy ... --out {rest}`)"
        )


def build_attacker(spec: str, options: AttackOptions) -> Attacker:
    """``textfooler``, ``textattack:RECIPE``, ``rl:DIR`` (a policy trained with ``--task attacker``) or
    ``gen:DIR`` (a generator policy, scored for reward hacking)."""
    if spec == "textfooler":
        from arena.pos import PosTagger
        from arena.similarity import SentenceSimilarity
        from arena.synonyms import load_synonyms
        from attackers.textfooler import DEFAULT_SIM_THRESHOLD, TextFooler

        return TextFooler(
            load_synonyms(options.synonyms),
            SentenceSimilarity(device=options.device),
            None if options.pos == "none" else PosTagger(options.pos),
            max_candidates=options.max_candidates,
            min_cos=options.min_cos,
            sim_threshold=DEFAULT_SIM_THRESHOLD if options.sim_threshold is None else options.sim_threshold,
            importance=options.importance,
            commit=options.commit,
            chunk_size=options.chunk_size,
        )
    if spec.startswith("textattack:"):
        from attackers.textattack_adapter import TextAttackRecipe

        return TextAttackRecipe(spec.split(":", 1)[1], options)
    if spec.startswith("rl:"):
        from policies.players import RLPolicyAttacker

        return RLPolicyAttacker(
            spec.split(":", 1)[1], samples=options.rl_samples, eval_judge=options.eval_judge, device=options.device
        )
    if spec.startswith("gen:"):
        from policies.players import RLPolicyGenerator

        return RLPolicyGenerator(spec.split(":", 1)[1], device=options.device)
    raise ValueError(f"unknown attacker {spec!r}; known: {', '.join(ATTACKERS)}")


def to_textattack(classifier_or_scorer: Classifier | Scorer):
    """A TextAttack ``ModelWrapper`` over an arena classifier or Scorer (dynamic padding, cache)."""
    from attackers.textattack_adapter import to_textattack as wrap

    return wrap(classifier_or_scorer)
