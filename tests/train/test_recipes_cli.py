import json

import pytest

from vlaforge.cli.main import main as vlaforge_main
from vlaforge.cli.train import parse_train_args, split_recipe
from vlaforge.train.config import TrainConfig, train_config_from_dict
from vlaforge.train.recipes import get_recipe, list_recipes, register_recipe

from .conftest import TinyConfig


def test_recipe_lookup_and_typo_suggestion():
    cfg = get_recipe("tiny_test_recipe")()
    assert isinstance(cfg, TrainConfig) and isinstance(cfg.policy, TinyConfig)
    with pytest.raises(KeyError, match="Did you mean 'tiny_test_recipe'"):
        get_recipe("tiny_tset_recipe")
    assert "tiny_test_recipe" in [r.name for r in list_recipes()]


def test_recipe_registered_twice_is_an_error():
    with pytest.raises(ValueError, match="registered twice"):
        register_recipe("tiny_test_recipe")(lambda: None)


def test_cli_overrides_any_field():
    cfg, print_only = parse_train_args([
        "--recipe", "tiny_test_recipe", "--steps", "7", "--optim.lr", "1e-4", "--optim.betas", "0.9", "0.99",
        "--policy.chunk-size", "6", "--policy.hidden", "32", "--data.roots", "a", "b", "--data.batch_size", "3",
        "--time-budget-minutes", "2.5", "--precision", "fp32", "--ema-decay", "0.99", "--resume",
        "--print-config"])
    assert print_only
    assert cfg.steps == 7 and cfg.optim.lr == 1e-4 and cfg.optim.betas == (0.9, 0.99)
    assert isinstance(cfg.policy, TinyConfig) and cfg.policy.chunk_size == 6 and cfg.policy.hidden == 32
    assert cfg.data.roots == ("a", "b") and cfg.data.batch_size == 3
    assert cfg.time_budget_minutes == 2.5 and cfg.precision == "fp32" and cfg.ema_decay == 0.99 and cfg.resume
    # untouched fields keep the recipe's values
    recipe = get_recipe("tiny_test_recipe")()
    assert cfg.out_dir == recipe.out_dir and cfg.optim.weight_decay == recipe.optim.weight_decay


def test_cli_recipe_equals_form_and_bad_field(capsys):
    assert split_recipe(["--recipe=x", "--steps", "3"]) == ("x", ["--steps", "3"])
    with pytest.raises(SystemExit):
        parse_train_args(["--recipe", "tiny_test_recipe", "--optim.lrr", "1"])
    assert "optim.lr" in capsys.readouterr().err


def test_cli_unknown_recipe_suggests(capsys):
    assert vlaforge_main(["train", "--recipe", "tiny_test_recipie"]) == 2
    assert "Did you mean 'tiny_test_recipe'" in capsys.readouterr().err


def test_cli_print_config_round_trips(capsys):
    assert vlaforge_main(["train", "--recipe", "tiny_test_recipe", "--steps", "9", "--print-config"]) == 0
    d = json.loads(capsys.readouterr().out)
    cfg = train_config_from_dict(d)
    assert cfg.steps == 9 and isinstance(cfg.policy, TinyConfig) and cfg.data.roots == ("data/none",)


def test_recipes_command_lists_descriptions(capsys):
    assert vlaforge_main(["recipes"]) == 0
    out = capsys.readouterr().out
    assert "tiny_test_recipe" in out and "Test-only: the tiny synthetic policy" in out


def test_config_needs_a_stop_condition():
    with pytest.raises(ValueError, match="steps` or `time_budget_minutes"):
        TrainConfig(policy=TinyConfig(), steps=None)
