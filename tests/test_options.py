"""Options declared once on dataclasses: the parser made from them, and the dataclass made back."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from arena.options import add_options, from_options, option, option_values


@dataclass
class Settings:
    name: str = option("plain", "the defender")
    rate: float = option(2e-4, "learning rate", flag="--lr")
    mode: str = option("a", "a mode", choices=("a", "b"))
    steps: int | None = option(None, "steps", type=int)
    fast: bool = option(False, "go fast")
    hidden: int = 3  # not an option


def test_parser_defaults_are_the_dataclass_defaults_and_round_trip():
    parser = argparse.ArgumentParser()
    add_options(parser, Settings)
    assert from_options(Settings, parser.parse_args([])) == Settings()
    args = parser.parse_args(["--lr", "0.1", "--mode", "b", "--steps", "7", "--fast", "--name", "five"])
    assert from_options(Settings, args) == Settings("five", 0.1, "b", 7, True)
    assert option_values(Settings, args)["rate"] == 0.1 and "hidden" not in option_values(Settings, args)
    assert "--lr LR" in parser.format_help() and "--hidden" not in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(["--mode", "c"])


def test_train_policy_options_come_from_the_configs():
    from arena.cli import build_parser
    from policies.config import PolicyRunConfig, PPOConfig

    args = build_parser().parse_args(["train", "policy", "--out", "x"])
    assert from_options(PolicyRunConfig, args, out="x", ppo={}) == PolicyRunConfig(out="x")
    assert PPOConfig(**option_values(PPOConfig, args)) == PPOConfig()  # one default each: --lr, --kl-coef...
