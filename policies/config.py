"""The settings of policy training, in one light module: PPO's hyper-parameters, a training run
(``arena train policy``) and supervised fine-tuning (``arena train sft``). Their fields are the
commands' options (:func:`arena.options.option`): each default is defined here once."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from arena.checks import require_at_least
from arena.options import option

MODES = ("ppo++", "aggrevated", "d2lols")  # RLGF's modes
IMDB_TEMPLATE = 'I can make this sentence "{sentence}" more positive: {query}'  # CORY's observer prompt (paper)
KL_ESTIMATORS = ("kl", "abs", "mse", "full")
SCORE_NORMS = ("none", "scale", "normalize")


@dataclass
class PPOConfig:
    """PPO hyper-parameters; defaults follow TRL/CORY except a LoRA-sized learning rate, a smaller
    KL coefficient and running score normalisation (the settings of the measured tables)."""

    learning_rate: float = option(2e-4, "learning rate (Adam)", flag="--lr")
    weight_decay: float = 0.0
    adam_eps: float = 1e-8
    mini_batch_size: int = option(8, "PPO minibatch size", flag="--mini-batch")
    gradient_accumulation_steps: int = option(
        1, "gradient-accumulation micro-batches per minibatch", flag="--grad-accum"
    )
    ppo_epochs: int = option(4, "passes over each batch per iteration")
    gamma: float = 1.0
    lam: float = 0.95
    cliprange: float = 0.2
    cliprange_value: float = 0.2
    vf_coef: float = 0.1
    init_kl_coef: float = option(0.05, "(initial) KL coefficient", flag="--kl-coef")
    adaptive_kl: bool = option(False, "Ziegler et al.'s adaptive KL controller (target 6)")
    target_kl: float = 6.0
    kl_horizon: int = 10_000
    kl_estimator: str = option(
        "kl",
        "per-token KL penalty to the reference: log-ratio, its absolute value, half its square, "
        "or the full distribution's KL",
        choices=KL_ESTIMATORS,
    )
    score_norm: str = option("normalize", "running score scaling/normalisation", choices=SCORE_NORMS)
    score_clip: float | None = None
    whiten_advantages: bool = True
    max_grad_norm: float | None = 1.0

    def __post_init__(self):
        if self.kl_estimator not in KL_ESTIMATORS:
            raise ValueError(f"kl_estimator must be one of {', '.join(KL_ESTIMATORS)}")
        if self.score_norm not in SCORE_NORMS:
            raise ValueError(f"score_norm must be one of {', '.join(SCORE_NORMS)}")
        if not self.learning_rate > 0:
            raise ValueError(f"PPO needs learning_rate > 0 (got {self.learning_rate})")
        require_at_least(
            "PPO",
            {
                "mini_batch_size": (self.mini_batch_size, 1),
                "ppo_epochs": (self.ppo_epochs, 1),
                "gradient_accumulation_steps": (self.gradient_accumulation_steps, 1),
            },
        )
        if self.mini_batch_size % self.gradient_accumulation_steps:
            raise ValueError("mini_batch_size must be a multiple of gradient_accumulation_steps")


ALGOS = ("ppo", "cory") + MODES
TASKS = ("generator", "attacker")
HELDOUT = 64  # texts held out for evaluation prompts by default
ATTACKER_TEMPLATE = 'Another way to end "{sentence}": {query}'


@dataclass
class PolicyRunConfig:
    """Everything ``arena train policy`` sets."""

    out: str
    algo: str = option(
        "ppo",
        "PPO; CORY (pioneer/observer, role exchange); RLGF with a guide LM: ppo++, aggrevated, d2lols",
        choices=("ppo", "cory", *MODES),
    )
    task: str = option(
        "generator",
        "generator: continue review prompts towards --target; attacker: append to correctly classified texts of "
        "--data so the --reward classifier (the defender) errs while the --judge keeps the label",
        choices=("generator", "attacker"),
    )
    policy: str = option("smollm2", "smollm2 (offline, SmolLM2-135M-Instruct) | gpt2 | HF id | folder")
    reward: str = option(
        "default",
        "generator: classifier whose --target score is the reward; attacker: the defender to fool (e.g. plain, five)",
    )
    judge: str | None = option(
        None,
        "independent classifier scoring the same texts (default: ngram, the packaged TF-IDF model, for attackers; "
        "vader, the VADER lexicon, for generators)",
    )
    target: str = option("positive", "target class name (or index)")
    reward_kind: str = option("logit", "log-odds of the target class, or its probability", choices=("logit", "prob"))
    data: str = option("builtin", "texts to cut prompts from (first 2-8 words): builtin | file | hf:...")
    data_n: int | None = option(None, "use N texts of --data (seeded shuffle)", type=int)
    heldout: int | None = option(
        None,
        f"texts held out for evaluation prompts (default: {HELDOUT}, or half of --data's texts when it has fewer "
        f"than {2 * HELDOUT})",
        type=int,
    )
    split_seed: int | None = option(
        None,
        "seed of the train / held-out split (default: --seed); fix it to compare seeds on one held-out set",
        type=int,
    )
    iterations: int = option(60, "RL iterations (a batch of prompts each)")
    batch: int = option(16, "prompts per iteration")
    seed: int = option(0, "seed of the prompts' split, sampling and initialisation")
    lora_r: int = option(16, "LoRA rank (0: full fine-tune)")
    min_tokens: int = option(4, "shortest continuation sampled (tokens)")
    max_tokens: int = option(12, "longest continuation sampled (tokens)")
    eval_every: int = option(10, "iterations between evaluations on the held-out prompts")
    eval_length: int = 8  # tokens of each held-out response
    eval_prompts: int | None = None  # held-out prompts of the evaluations during training (None: all held out)
    checkpoint_every: int = option(5, "iterations between checkpoints (a crash resumes from the last)")
    beta: float | None = option(None, "RLGF mixing probability (default: ppo++ 0.6, aggrevated/d2lols 0.8)", type=float)
    tau: int = option(20, "D2LOLS: AggreVaTeD iterations before switching to PPO++")
    exchange_every: int = option(5, "CORY: role exchange period")
    template: str | None = option(
        None, "CORY observer prompt with {sentence} and {query} (default: the paper's IMDB one)"
    )
    guide: str | None = option(None, "RLGF guide LM (same tokenizer; default: the frozen starting policy)")
    novelty: float = option(
        0.0,
        "attacker: reward x (1 + W x the added text's embedding distance from earlier successful attacks), "
        "a curiosity bonus for diverse attacks (0: off)",
    )
    device: str | None = option(None, "cpu | cuda | cuda:N (default: cuda when present)")
    ppo: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.algo not in ALGOS:
            raise ValueError(f"--algo must be one of {', '.join(ALGOS)}")
        if self.task not in TASKS:
            raise ValueError(f"--task must be one of {', '.join(TASKS)}")
        counts = {
            "--batch": (self.batch, 1),
            "--iterations": (self.iterations, 0),
            "--eval-every": (self.eval_every, 1),
            "--checkpoint-every": (self.checkpoint_every, 1),
            "--exchange-every": (self.exchange_every, 1),
            "--tau": (self.tau, 0),
            "--min-tokens": (self.min_tokens, 1),
            "eval_length": (self.eval_length, 1),
        }
        for name, value in (("--heldout", self.heldout), ("--data-n", self.data_n)):
            if value is not None:
                counts[name] = (value, 1)
        if self.eval_prompts is not None:
            counts["eval_prompts"] = (self.eval_prompts, 1)
        require_at_least("policy training", counts)
        if self.min_tokens > self.max_tokens:
            raise ValueError(
                f"policy training needs --min-tokens <= --max-tokens (got {self.min_tokens} > {self.max_tokens})"
            )
        if self.novelty < 0 or self.novelty and self.task != "attacker":
            raise ValueError(
                f"--novelty is a weight >= 0 of the attacker task's reward (got {self.novelty} with --task {self.task})"
            )
        if self.judge is None:
            self.judge = "ngram" if self.task == "attacker" else "vader"

    def identity(self) -> dict:
        """Settings that must match to resume (``iterations`` may grow, ``device`` may change)."""
        out = asdict(self)
        for key in ("iterations", "device", "out", "eval_every", "checkpoint_every", "eval_prompts"):
            out.pop(key)
        for key, default in (("split_seed", None), ("novelty", 0.0)):
            if out[key] == default:
                out.pop(key)  # runs made before the field existed keep their identity
        out["template"] = self.observer_template()
        return out

    def split(self) -> int:
        """The seed of the train / held-out split."""
        return self.seed if self.split_seed is None else self.split_seed

    def observer_template(self) -> str:
        """CORY's observer prompt: ``template``, else the task's default."""
        return self.template or (ATTACKER_TEMPLATE if self.task == "attacker" else IMDB_TEMPLATE)


@dataclass
class SFTConfig:
    """What ``arena train sft`` trains with."""

    policy: str = option("smollm2", "smollm2 (offline, SmolLM2-135M-Instruct) | gpt2 | HF id | folder")
    epochs: float = option(1.0, "passes over the texts (fractions allowed)")
    lr: float = option(2e-4, "learning rate (AdamW)")
    batch_size: int = option(8, "texts per step")
    max_tokens: int = option(48, "texts are cut to this many tokens")
    lora_r: int = option(16, "LoRA rank (0: full fine-tune)")
    checkpoint_every: int = option(50, "steps between checkpoints (a crash resumes from the last)")
    seed: int = option(0, "seed of the sample, the data order and the initialisation")

    def __post_init__(self):
        if not self.epochs > 0 or not self.lr > 0:
            raise ValueError(f"sft needs --epochs > 0 and --lr > 0 (got {self.epochs}, {self.lr})")
        counts = {"--batch-size": (self.batch_size, 1), "--max-tokens": (self.max_tokens, 1)}
        require_at_least(
            "sft", counts | {"--checkpoint-every": (self.checkpoint_every, 1), "--lora-r": (self.lora_r, 0)}
        )
