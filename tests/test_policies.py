"""RL library: PPO pieces, CORY, RLGF masks, the sampler, the runner (tiny GPT-2, toy rewards)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from arena.metrics import distinct_n
from policies.cory import CORY
from policies.lm import PolicyLM
from policies.ppo import PPO, AdaptiveKLController, PPOConfig, PPOTrainer, gae, kl_per_token, token_rewards, whiten
from policies.rlgf import RLGF, loss_masks, switch_points
from policies.tasks import ClassifierReward, prompts_from_texts
from policies.train import HELDOUT, PolicyRunConfig, hold_out, train_policy

TOY_REWARD = '''
import numpy as np
def predict(texts):
    """P(positive) grows with the number of 'good' tokens."""
    p = np.array([min(0.99, 0.05 + t.split().count("good") / 4) for t in texts])
    return np.stack([1 - p, p], 1)
predict.labels = ["negative", "positive"]
'''
TEXTS = [
    "the film was good",
    "the movie is bad",
    "the plot and the acting",
    "very dull movie",
    "the acting was great",
    "the film is awful but fun",
    "the plot was very fun",
    "the movie and the plot",
]


def count_good(texts, prompts=None):
    """Reward = number of 'good' words; P(target) = the same, capped."""
    counts = np.array([t.split().count("good") for t in texts], dtype=np.float32)
    return counts, np.minimum(counts / 4, 1.0)


@pytest.fixture()
def policy(tiny_lm_dir):
    torch.manual_seed(0)
    return PolicyLM.from_pretrained(tiny_lm_dir, lora_r=0, device="cpu")


def test_gae_matches_hand_computed_case():
    values = torch.tensor([[0.5, 0.2]])
    rewards = torch.tensor([[0.0, 1.0]])
    adv, ret = gae(values, rewards, gamma=1.0, lam=0.95)
    # delta_1 = 1 - 0.2 = 0.8; delta_0 = 0 + 0.2 - 0.5 = -0.3; A_0 = -0.3 + 0.95 * 0.8
    assert torch.allclose(adv, torch.tensor([[0.46, 0.8]]))
    assert torch.allclose(ret, torch.tensor([[0.96, 1.0]]))
    adv, _ = gae(values, rewards, gamma=0.5, lam=1.0)
    assert torch.allclose(adv, torch.tensor([[-0.5 + 0.5 * 1.0, 0.8]]))


def test_kl_estimators_and_token_rewards():
    logits, ref_logits = torch.randn(2, 3, 5), torch.randn(2, 3, 5)
    taken = torch.zeros(2, 3, 1, dtype=torch.long)
    lp = logits.log_softmax(-1).gather(2, taken).squeeze(-1)
    rlp = ref_logits.log_softmax(-1).gather(2, taken).squeeze(-1)
    assert torch.allclose(kl_per_token(lp, rlp, "kl"), lp - rlp)
    assert torch.allclose(kl_per_token(lp, rlp, "abs"), (lp - rlp).abs())
    assert torch.allclose(kl_per_token(lp, rlp, "mse"), 0.5 * (lp - rlp) ** 2)
    full = torch.nn.functional.kl_div(
        ref_logits.log_softmax(-1), logits.log_softmax(-1), log_target=True, reduction="none"
    ).sum(-1)
    assert torch.allclose(kl_per_token(lp, rlp, "full", logits, ref_logits), full, atol=1e-6)
    with pytest.raises(ValueError, match="logits"):
        kl_per_token(lp, rlp, "full")
    rewards = token_rewards(torch.tensor([1.0, 2.0]), torch.ones(2, 3), 0.1)
    assert torch.allclose(rewards, torch.tensor([[-0.1, -0.1, 0.9], [-0.1, -0.1, 1.9]]))


def test_adaptive_kl_moves_towards_target_and_whiten():
    ctl = AdaptiveKLController(0.2, target=6.0, horizon=100)
    ctl.update(12.0, 10)  # too much KL: coefficient grows (error clipped to 20 %)
    assert ctl.value == pytest.approx(0.2 * 1.02)
    ctl.update(0.0, 10)
    assert ctl.value < 0.2 * 1.02
    x = whiten(torch.tensor([[1.0, 2.0, 3.0, 100.0]]), torch.tensor([[1.0, 1.0, 1.0, 0.0]]))
    assert abs(float(x[0, :3].mean())) < 1e-5


def test_sampler_forces_roll_in_and_keeps_lengths(policy):
    forced = torch.full((3, 5), policy.tokenizer.convert_tokens_to_ids("good"))
    batch = policy.sample(
        ["the film", "the", "the movie was very"], 5, forced=forced, force_until=torch.tensor([0, 2, 5])
    )
    good = policy.tokenizer.convert_tokens_to_ids("good")
    assert batch.response.shape == (3, 5)
    assert (batch.response[1, :2] == good).all() and (batch.response[2] == good).all()
    assert not set(batch.response.flatten().tolist()) & set(policy.special_ids)
    texts = policy.texts(batch)
    assert texts[2].startswith("the movie was very good good")
    lp, values, _ = policy(batch)
    ref_lp, none, _ = policy(batch, reference=True)
    assert lp.shape == values.shape == (3, 5) and none is None
    assert torch.allclose(lp, ref_lp)  # untrained: policy == reference


def test_lora_reference_is_the_adapter_switched_off(tiny_lm_dir):
    torch.manual_seed(0)
    policy = PolicyLM.from_pretrained(tiny_lm_dir, lora_r=4, device="cpu")
    batch = policy.sample(["the film"] * 2, 4)
    for p in policy.model.parameters():
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.5)
    lp, _, _ = policy(batch)
    ref_lp, _, _ = policy(batch, reference=True)
    assert not torch.allclose(lp, ref_lp)
    assert all("lora" in n or "value_heads" in n for n, p in policy.named_parameters() if p.requires_grad)


def test_rlgf_switch_points_and_loss_masks():
    rng = np.random.default_rng(0)
    assert switch_points(8, 6, 0.0, rng).tolist() == [0] * 8
    t = switch_points(200, 6, 1.0, rng)
    assert int(t.min()) >= 1 and int(t.max()) <= 5 and len(set(t.tolist())) == 5
    switch = torch.tensor([0, 2, 4])
    p, v = loss_masks("ppo++", switch, 4)  # learner tokens: positions >= t
    assert p.tolist() == v.tolist() == [[True] * 4, [False, False, True, True], [False] * 4]
    p, v = loss_masks("aggrevated", switch, 4)  # policy loss on the learner's prefix, value loss on guide tokens
    assert p.tolist() == [[False] * 4, [True, True, False, False], [True] * 4]
    assert v.tolist() == [[True] * 4, [False, False, True, True], [False] * 4]


def test_d2lols_phases_and_guide_critic(tiny_lm_dir):
    torch.manual_seed(0)
    policy = PolicyLM.from_pretrained(tiny_lm_dir, lora_r=0, value_heads=2, device="cpu")
    algo = RLGF(policy, PPOConfig(mini_batch_size=4, ppo_epochs=1), count_good, mode="d2lols", tau=1)
    assert (algo.phase(0), algo.phase(1)) == ("aggrevated", "ppo++")
    heads = [h.weight.detach().clone() for h in policy.value_heads]
    algo.iteration(["the film"] * 4, 4, 0)  # AggreVaTeD: only the guide critic (head 1) learns
    assert torch.equal(heads[0], policy.value_heads[0].weight) and not torch.equal(
        heads[1], policy.value_heads[1].weight
    )
    algo.iteration(["the film"] * 4, 4, 1)
    assert not torch.equal(heads[0], policy.value_heads[0].weight)
    with pytest.raises(ValueError, match="two value heads"):
        RLGF(PolicyLM.from_pretrained(tiny_lm_dir, lora_r=0, device="cpu"), PPOConfig(), count_good, mode="d2lols")


def test_cory_observer_prompt_shared_reward_and_role_swap(tiny_lm_dir):
    torch.manual_seed(0)
    a1 = PolicyLM.from_pretrained(tiny_lm_dir, lora_r=0, device="cpu")
    a2 = PolicyLM.from_pretrained(tiny_lm_dir, lora_r=0, device="cpu")
    seen: list[list[str]] = []

    def reward(texts, prompts):
        seen.append(list(texts))
        return count_good(texts)

    cory = CORY(a1, a2, PPOConfig(mini_batch_size=2, ppo_epochs=1), reward, exchange_every=2)
    assert cory.observer_prompts(["the film"], ["the film was good"]) == [
        'I can make this sentence "the film was good" more positive: the film'
    ]
    scores = []
    for trainer in cory.trainers:
        original = trainer.step
        trainer.step = lambda batch, s, _orig=original, **kw: (scores.append(np.asarray(s)), _orig(batch, s, **kw))[1]
    cory.iteration(["the film", "the plot"], 3, 0)
    pioneer_texts, observer_texts = seen
    assert all(
        t.startswith(("the film", "the plot")) and "I can make" not in t for t in observer_texts
    )  # scored on s0 + a2
    shared = count_good(pioneer_texts)[0] + count_good(observer_texts)[0]
    assert np.allclose(scores[0], shared) and np.allclose(scores[1], shared)
    opt0 = cory.trainers[0].optimizer
    state0 = {k: v["exp_avg"].clone() for k, v in zip(range(3), opt0.state.values())}
    assert cory.pioneer == 0
    cory.iteration(["the film", "the plot"], 3, 1)
    assert cory.pioneer == 1  # swapped after the 2nd iteration
    assert (
        cory.trainers[0].policy is a1 and cory.trainers[0].optimizer is opt0 and opt0.state
    )  # Adam state stays with its agent
    assert any(not torch.equal(state0[k], v["exp_avg"]) for k, v in zip(range(3), opt0.state.values()))
    with pytest.raises(ValueError, match="template"):
        CORY(a1, a2, PPOConfig(), reward, template="no slots")


def test_reward_and_task_helpers(tiny_classifier):
    with pytest.raises(ValueError, match="not one of"):
        ClassifierReward(tiny_classifier, "positive")
    reward = ClassifierReward(tiny_classifier, "Entailment", kind="logit")
    r, p = reward(["a", "b c"])
    assert np.allclose(r, np.log(p / (1 - p)), atol=1e-4)
    prompts = prompts_from_texts(["one two three four five six seven eight nine ten"] * 20, np.random.default_rng(0))
    assert all(2 <= len(x.split()) <= 8 for x in prompts) and len(set(prompts)) > 1
    assert distinct_n(["a b a b"], 1) == 0.5 and distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)


@pytest.fixture()
def toy_run(tmp_path, tiny_lm_dir):
    (tmp_path / "toy_reward.py").write_text(TOY_REWARD)
    (tmp_path / "texts.tsv").write_text("text\tlabel\n" + "".join(f"{t}\t{i % 2}\n" for i, t in enumerate(TEXTS)))

    def make(algo: str, iterations: int, out: str = "run", **extra) -> PolicyRunConfig:
        return PolicyRunConfig(
            out=str(tmp_path / out),
            algo=algo,
            policy=tiny_lm_dir,
            reward=f"{tmp_path}/toy_reward.py:predict",
            judge="vader",
            data=str(tmp_path / "texts.tsv"),
            heldout=extra.pop("heldout", 2),
            iterations=iterations,
            batch=8,
            lora_r=0,
            min_tokens=4,
            max_tokens=6,
            eval_every=6,
            checkpoint_every=2,
            tau=4,
            eval_length=6,
            device="cpu",
            ppo={
                "learning_rate": 3e-3,
                "mini_batch_size": 4,
                "init_kl_coef": 0.1,
                "score_norm": "none",
            },  # the settings the toy was tuned with
            **extra,
        )

    return make


@pytest.mark.parametrize("algo", ["ppo", "cory", "ppo++", "aggrevated", "d2lols"])
@pytest.mark.slow
def test_each_algorithm_raises_a_toy_reward(toy_run, algo):
    summary = train_policy(toy_run(algo, 12, out=algo), progress=False)
    assert summary["final"]["reward"] > summary["untrained"]["reward"] + 0.2, summary


@pytest.mark.slow
def test_runner_resumes_without_duplicates_and_saves_a_loadable_policy(toy_run, tmp_path):
    train_policy(toy_run("ppo", 3), progress=False)  # checkpoint after iteration 2, metrics for 0..2
    first = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in first if r["split"] == "train"] == [0, 1, 2]
    with (tmp_path / "run" / "metrics.jsonl").open(
        "a"
    ) as f:  # a crash after logging iteration 3, before its checkpoint
        f.write(json.dumps({**first[-2], "iteration": 3}) + "\n")
    summary = train_policy(toy_run("ppo", 6), progress=False)  # resumes after 3 (final checkpoint), runs 3..5
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows if r["split"] == "train"] == list(range(6))
    assert [r["iteration"] for r in rows if r["split"] == "heldout"] == [0, 3, 6]
    assert summary["iterations"] == 6 and (tmp_path / "run" / "curves.png").stat().st_size > 1000
    loaded = PolicyLM.load(tmp_path / "run" / "policy")
    assert len(loaded.sample(["the film"], 4).response[0]) == 4
    with pytest.raises(ValueError, match="other settings"):
        train_policy(toy_run("cory", 6), progress=False)


def test_heldout_default_is_64_or_half_the_texts():
    train, held = hold_out(list(range(300)), None, "data", "texts")
    assert (len(train), held) == (236, list(range(236, 300))) and HELDOUT == 64
    assert [len(part) for part in hold_out(list(range(120)), None, "data", "texts")] == [60, 60]  # builtin's 120 texts
    assert [len(part) for part in hold_out(list(range(3)), None, "data", "texts")] == [2, 1]
    with pytest.raises(ValueError, match=r"data: 1 texts, need at least 2 to hold out 1 \(give more texts in --data\)"):
        hold_out([0], None, "data", "texts")
    with pytest.raises(ValueError, match=r"need at least 12 to hold out 6 \(lower --heldout\)"):
        hold_out(list(range(10)), 6, "data", "texts")
    with pytest.raises(ValueError, match=r"needs --heldout >= 1 \(got 0\)"):
        PolicyRunConfig(out="x", heldout=0)
    with pytest.raises(ValueError, match=r"needs --eval-every >= 1 \(got 0\), --exchange-every >= 1 \(got 0\)$"):
        PolicyRunConfig(out="x", eval_every=0, exchange_every=0)  # each a modulo by zero deep in the run
    with pytest.raises(ValueError, match="--min-tokens <= --max-tokens"):
        PolicyRunConfig(out="x", min_tokens=9, max_tokens=4)
    with pytest.raises(ValueError, match=r"PPO needs mini_batch_size >= 1 \(got 0\), ppo_epochs >= 1 \(got 0\)"):
        PPOConfig(mini_batch_size=0, ppo_epochs=0)
    with pytest.raises(ValueError, match="learning_rate > 0"):
        PPOConfig(learning_rate=0.0)


def test_default_heldout_is_recorded_as_a_number_and_resumes(toy_run, tmp_path):
    train_policy(toy_run("ppo", 1, out="auto", heldout=None), progress=False)
    assert json.loads((tmp_path / "auto" / "config.json").read_text())["heldout"] == len(TEXTS) // 2
    summary = train_policy(
        toy_run("ppo", 2, out="auto", heldout=len(TEXTS) // 2), progress=False
    )  # the same run, resumed
    assert summary["iterations"] == 2


def test_ppo_algorithm_rollout_fields(policy):
    algo = PPO(policy, PPOConfig(mini_batch_size=2, ppo_epochs=1), count_good)
    rollout = algo.iteration(["the film", "the plot"], 3, 0)
    assert len(rollout.texts) == 2 and rollout.ref_logprobs.shape == (2, 3)
    assert {"kl", "pg_loss", "vf_loss", "clipfrac", "kl_coef"} <= set(rollout.stats)


def test_cli_train_policy_and_generate(tmp_path, tiny_lm_dir, capsys):
    from arena.cli import main

    (tmp_path / "toy_reward.py").write_text(TOY_REWARD)
    (tmp_path / "texts.tsv").write_text("text\tlabel\n" + "".join(f"{t}\t{i % 2}\n" for i, t in enumerate(TEXTS)))
    reward = f"{tmp_path}/toy_reward.py:predict"
    out = tmp_path / "cli_run"
    assert (
        main(
            [
                "train",
                "policy",
                "--algo",
                "ppo++",
                "--policy",
                tiny_lm_dir,
                "--reward",
                reward,
                "--data",
                str(tmp_path / "texts.tsv"),
                "--heldout",
                "2",
                "--iterations",
                "2",
                "--batch",
                "4",
                "--mini-batch",
                "2",
                "--lora-r",
                "0",
                "--out",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["iterations"] == 2 and (out / "policy" / "model.safetensors").exists()
    assert (
        main(
            [
                "generate",
                "--policy",
                str(out),
                "--prompts",
                "the film|the plot",
                "--samples",
                "2",
                "--tokens",
                "3",
                "--reward",
                reward,
                "--json",
            ]
        )
        == 0
    )
    rows = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert len(rows) == 4 and rows[0]["text"].startswith("the film") and 0 <= rows[0]["p_positive[vader]"] <= 1
    assert main(["generate", "--policy", str(tmp_path / "missing"), "--prompts", "x"]) == 2
    for argv, problem in (
        (
            ["generate", "--policy", str(out), "--prompts", "x", "--samples", "0"],
            "argument --samples: must be at least 1",
        ),
        (["generate", "--policy", str(out), "--prompts", "x", "--top-p", "1.5"], "argument --top-p: must be in [0, 1]"),
    ):
        with pytest.raises(SystemExit):
            main(argv)
        assert problem in capsys.readouterr().err
    assert main(["train", "policy", "--out", str(out), "--checkpoint-every", "0"]) == 2  # the config's own check
    assert "policy training needs --checkpoint-every >= 1 (got 0)" in capsys.readouterr().err
    assert main(["generate", "--policy", str(out), "--prompts", "x", "--top-k", "-2"]) == 2
    assert "sampling needs top_k >= 0" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "policy",
                "--policy",
                tiny_lm_dir,
                "--data",
                str(tmp_path / "texts.tsv"),
                "--heldout",
                "50",
                "--out",
                str(out / "x"),
            ]
        )
        == 2
    )


@pytest.mark.parametrize("lora_r", [0, 4])
def test_rollout_statistics_are_taken_without_dropout(tiny_lm_dir, lora_r):
    """The tiny GPT-2 has dropout 0.1: in train mode two passes disagree and the KL to the reference
    at initialisation is not 0; rollout statistics are taken in eval mode, where both hold."""
    torch.manual_seed(0)
    policy = PolicyLM.from_pretrained(tiny_lm_dir, lora_r=lora_r, device="cpu")
    assert policy.model.config.resid_pdrop > 0
    trainer = PPOTrainer(policy, PPOConfig())
    batch = policy.sample(["good film", "the cast"], 6)
    policy.train()  # as after a gradient step
    first, second = trainer.rollout_stats(batch), trainer.rollout_stats(batch)
    assert torch.equal(first["logprobs"], second["logprobs"]) and torch.equal(first["values"], second["values"])
    assert float(first["kl"].abs().max()) == 0.0  # the policy is the reference at initialisation
    assert policy.training  # the mode is given back
    with torch.no_grad():
        noisy = [policy(batch)[0] for _ in range(2)]
    assert not torch.equal(*noisy)  # what train mode would have given


def test_cory_statistics_follow_the_agent_across_a_swap():
    """Agent 1's KL is ``kl`` whether it plays pioneer or observer; agent 2's is ``kl_agent2``."""
    one, two = {"kl": 0.1, "score": 1.0}, {"kl": 0.7, "score": 2.0}
    as_pioneer = CORY.agent_stats(0, one, two, [0.25, 0.75], [0.9, 0.9])
    assert (as_pioneer["kl"], as_pioneer["kl_agent2"], as_pioneer["p_target_agent1"], as_pioneer["pioneer"]) == (
        0.1,
        0.7,
        0.5,
        1,
    )
    swapped = CORY.agent_stats(1, two, one, [0.9, 0.9], [0.25, 0.75])  # agent 2 pioneers, agent 1 observes
    assert (
        swapped["kl"],
        swapped["kl_agent2"],
        swapped["p_target_agent1"],
        swapped["p_target_agent2"],
        swapped["pioneer"],
    ) == (0.1, 0.7, 0.5, 0.9, 2)
    assert swapped["pioneer_score"] == 2.0  # the pioneer's own PPO statistics (agent 2 here), named as such


def test_sft_guide_learns_the_target_class_and_loads_as_a_guide(tmp_path, tiny_lm_dir, capsys):
    from arena.cli import main
    from policies.sft import CHECKPOINT, lm_loss

    data = tmp_path / "d.tsv"
    data.write_text("text\tlabel\n" + "the film was good\t1\na good movie\t1\nthe plot was awful\t0\n" * 6)
    args = [
        "train",
        "sft",
        "--policy",
        tiny_lm_dir,
        "--data",
        str(data),
        "--labels",
        "negative,positive",
        "--target",
        "positive",
        "--out",
        str(tmp_path / "guide"),
        "--epochs",
        "4",
        "--lr",
        "5e-3",
        "--batch-size",
        "4",
        "--lora-r",
        "0",
        "--json",
    ]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["texts"] == 12 and summary["last_loss"] < summary["first_loss"]  # only the positive texts, learned
    assert not (tmp_path / "guide" / CHECKPOINT).exists()
    guide, start = (
        PolicyLM.from_pretrained(path, frozen=True, device="cpu") for path in (str(tmp_path / "guide"), tiny_lm_dir)
    )
    with torch.no_grad():
        assert lm_loss(guide, ["a good movie"], 48) < lm_loss(start, ["a good movie"], 48)
    assert main([*args[:-1], "--target", "neutral"]) == 2 and "is not one of" in capsys.readouterr().err


def test_sft_resumes_from_its_checkpoint(tmp_path, tiny_lm_dir, monkeypatch):
    import policies.sft as sft

    texts = ["the film was good", "a good movie"] * 8
    config = sft.SFTConfig(policy=tiny_lm_dir, epochs=2, lr=5e-3, batch_size=4, lora_r=0, checkpoint_every=2)
    calls = {"n": 0}
    real = sft.lm_loss

    def crash_at_step_5(*args):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(sft, "lm_loss", crash_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        sft.train_sft(texts, tmp_path / "g", config, device="cpu", progress=False)
    assert torch.load(tmp_path / "g" / sft.CHECKPOINT, weights_only=True)["step"] == 4
    calls["n"] = -100  # no more crashes
    summary = sft.train_sft(texts, tmp_path / "g", config, device="cpu", progress=False)
    assert calls["n"] == -100 + 4 and summary["steps"] == 8  # steps 5-8 only


def test_heldout_scores_kl_is_exact_and_zero_for_the_reference(toy_run, tiny_lm_dir):
    from policies.evaluation import heldout_scores
    from policies.train import build_task

    task = build_task(toy_run("ppo", 1))
    reference = PolicyLM.from_pretrained(tiny_lm_dir, lora_r=0, frozen=True, device="cpu")
    prompts = task.heldout_prompts(2)
    same = heldout_scores(reference, reference, task, prompts, samples=3, length=4, seed=0)
    assert same["kl"].shape == (2,) and np.allclose(same["kl"], 0.0, atol=1e-5) and same["responses"].shape == (2, 3)
    assert np.all((0 <= same["reward"]) & (same["reward"] <= 1)) and np.all(same["nll"] > 0)
    again = heldout_scores(reference, reference, task, prompts, samples=3, length=4, seed=0)
    assert (again["responses"] == same["responses"]).all()  # the sampling seed fixes the draws
    torch.manual_seed(1)
    other = PolicyLM.from_pretrained(tiny_lm_dir, lora_r=0, frozen=True, device="cpu")
    with torch.no_grad():
        for p in other.model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    moved = heldout_scores(other, reference, task, prompts, samples=3, length=4, seed=0)
    assert np.all(moved["kl"] > 1e-4)


def test_split_seed_fixes_the_heldout_set_across_run_seeds(toy_run):
    from policies.train import build_task

    first, second = (build_task(toy_run("ppo", 1, heldout=3, seed=s, split_seed=0)) for s in (0, 5))
    assert first.heldout_texts == second.heldout_texts and sorted(first.train_texts) == sorted(second.train_texts)
    assert (
        build_task(toy_run("ppo", 1, heldout=3, seed=5)).heldout_texts != first.heldout_texts
    )  # without it the split follows the seed
    assert "split_seed" not in toy_run("ppo", 1).identity()  # runs made before the field resume
    with pytest.raises(ValueError, match="--novelty is a weight >= 0 of the attacker task"):
        PolicyRunConfig(out="x", novelty=0.5)
