"""Shared fixtures: offline environment and tiny models built in the test session (no downloads)."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="arena-config-")  # the secret that seals recorded commands

import pytest
import torch

from arena.classifier import HFClassifier
from arena.resources import minilm_path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> str:
    """A randomly initialised 2-layer BERT classifier (3 labels) with the packaged MiniLM tokenizer, saved as
    safetensors."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=3,
        id2label={0: "contradiction", 1: "entailment", 2: "neutral"},
        label2id={"contradiction": 0, "entailment": 1, "neutral": 2},
    )
    model = BertForSequenceClassification(config).eval()
    folder = tmp_path_factory.mktemp("tiny_bert")
    model.save_pretrained(folder, safe_serialization=True)
    AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_classifier(tiny_model_dir) -> HFClassifier:
    """The tiny model loaded through the HF adapter (small token budget so batching really splits)."""
    return HFClassifier.from_pretrained(tiny_model_dir, token_budget=256, max_batch=8, device="cpu")


TINY_WORDS = [
    "the",
    "film",
    "movie",
    "was",
    "is",
    "good",
    "bad",
    "great",
    "awful",
    "and",
    "but",
    "very",
    "plot",
    "acting",
    "fun",
    "dull",
]


def build_tiny_lm(folder) -> str:
    """A randomly initialised 2-layer GPT-2 over a 20-token word-level vocabulary (tokenizer built with
    the `tokenizers` package), saved as safetensors."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(["<pad>", "<eos>", "<unk>", "<bos>"] + TINY_WORDS)}
    raw = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>", bos_token="<bos>"
    )
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(vocab), n_positions=64, n_embd=32, n_layer=2, n_head=2, bos_token_id=3, eos_token_id=1
    )
    GPT2LMHeadModel(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory) -> str:
    """Folder of the tiny GPT-2 policy model."""
    return build_tiny_lm(tmp_path_factory.mktemp("tiny_gpt2"))


def tiny_gpt2_classifier(lm_dir: str, *, tokenizer_pad: bool = True, config_pad: int | None = None) -> HFClassifier:
    """A 2-label GPT-2 classifier (last-token pooling) on the tiny LM, its head seeded; the pad
    token as a hub model may have it: in the tokenizer or not, in the config or not."""
    from transformers import AutoTokenizer, GPT2ForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(lm_dir)
    if not tokenizer_pad:
        tokenizer.pad_token = None
    torch.manual_seed(0)
    model = GPT2ForSequenceClassification.from_pretrained(lm_dir, num_labels=2)
    model.config.pad_token_id = config_pad
    return HFClassifier(model, tokenizer, device="cpu")


def tiny_attacker_run(**fields):
    """Settings of an RL attacker run on the tiny GPT-2 (a few short responses, VADER judging);
    ``fields`` give the run's folder, policy, reward, data and anything else."""
    from policies.config import PolicyRunConfig

    tiny = {
        "task": "attacker",
        "judge": "vader",
        "heldout": 2,
        "batch": 4,
        "lora_r": 0,
        "min_tokens": 2,
        "max_tokens": 3,
        "eval_length": 3,
        "device": "cpu",
        "ppo": {"mini_batch_size": 2, "ppo_epochs": 1},
    }
    return PolicyRunConfig(**{**tiny, **fields})
