"""Every registered recipe builds a valid config: its stage exists, its chain resolves, its data is named.

A recipe is a function, so a typo in one (a stage name, an ``after`` link, mismatched mixture weights) would
otherwise surface only when someone runs it for 45 minutes."""

from __future__ import annotations

import pytest

from vlaforge.train.recipes import chain, list_recipes

RECIPES = [r.name for r in list_recipes()]


def test_recipes_are_discovered_from_every_family():
    families = {r().policy.family for r in list_recipes()}
    assert {"bc", "xvla", "univla_ar", "internvla_a1", "xr1", "univla_latent"} <= families


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_builds_a_consistent_config(name):
    recipes = {r.name: r for r in list_recipes()}
    cfg = recipes[name]()
    stages = [s.name for s in cfg.policy.stages()]
    assert cfg.stage is None or cfg.stage in stages, f"{name}: stage {cfg.stage!r} not among {stages}"  # None: the first
    assert cfg.data.roots or cfg.data.action_free_roots, f"{name}: no data"
    assert cfg.steps is not None or cfg.time_budget_minutes is not None
    robots = max(1, len(cfg.data.roots))  # a joint multi-robot run gets the single-robot runs' budgets together
    assert cfg.time_budget_minutes is None or cfg.time_budget_minutes <= 45.0 * robots, \
        "the MT10 protocol caps a stage at 45 min (per robot dataset of a joint run)"
    links = chain(name)
    assert links[-1].name == name and all(a.name != b.name for a, b in zip(links, links[1:]))
    if recipes[name].after is not None:  # a later stage starts where its predecessor wrote
        assert links[-2].name == recipes[name].after
        assert links[-2]().out_dir != cfg.out_dir


def test_ablation_partners_differ_only_where_they_say():
    recipes = {r.name: r for r in list_recipes()}
    gen, nogen = recipes["internvla_a1_tiny_mt10_demos"](), recipes["internvla_a1_tiny_mt10_nogen"]()
    assert gen.policy.use_generation and not nogen.policy.use_generation
    assert gen.data == nogen.data and gen.optim == nogen.optim and gen.time_budget_minutes == nogen.time_budget_minutes


def test_image_size_partner_differs_only_in_image_size():
    """``xvla_effnet_frozen96_mt10`` is the 64^2 frozen-encoder run at 96^2: same model, optimiser and budget."""
    recipes = {r.name: r for r in list_recipes()}
    small, big = recipes["xvla_effnet_frozen_mt10"](), recipes["xvla_effnet_frozen96_mt10"]()
    assert tuple(small.policy.image_size) == (64, 64) and tuple(big.policy.image_size) == (96, 96)
    assert big.policy.image_encoder.shift_pad * 64 == small.policy.image_encoder.shift_pad * 96  # in proportion
    assert big.data.roots == ("data/mt10_96",) and small.data.roots == ("data/mt10_64",)
    assert big.optim == small.optim and big.time_budget_minutes == small.time_budget_minutes
    assert big.policy.image_encoder.stride == small.policy.image_encoder.stride
    assert big.policy.width == small.policy.width and big.policy.depth == small.policy.depth


@pytest.mark.parametrize("base_name, film_name", [("xvla_effnet_frozen_mt10", "xvla_effnet_frozen_film_mt10"),
                                                    ("xvla_fast_mt10", "xvla_fast_film_mt10")])
def test_film_recipes_are_their_base_run_with_film_and_dart_demos(base_name, film_name):
    """``xvla_effnet_frozen_film_mt10`` (session 14) and ``xvla_fast_film_mt10`` (session 15) are the runs measured:
    their base recipe plus the instruction FiLM, on the clean and DART demos; nothing else differs."""
    import dataclasses

    recipes = {r.name: r for r in list_recipes()}
    base, film = recipes[base_name](), recipes[film_name]()
    assert film.policy.instruction_film and not base.policy.instruction_film
    assert film.data.roots == ("data/mt10_64", "data/mt10_64_dart")
    assert dataclasses.replace(film.policy, instruction_film=False) == base.policy
    assert film.optim == base.optim and film.time_budget_minutes == base.time_budget_minutes


def test_dagger_recipe_is_the_regression_run_with_its_dagger_round():
    """``xvla_fast_film_dagger_mt10`` is the session-18 run: ``xvla_fast_film_mt10`` by regression, the DAgger
    round's dataset added to the demos; nothing else differs."""
    import dataclasses

    recipes = {r.name: r for r in list_recipes()}
    base, dagger = recipes["xvla_fast_film_mt10"](), recipes["xvla_fast_film_dagger_mt10"]()
    assert dagger.policy.objective == "regression" != base.policy.objective
    assert dagger.data.roots == (*base.data.roots, "data/mt10_64_dagger1")
    assert dataclasses.replace(dagger.policy, objective=base.policy.objective) == base.policy
    assert dagger.optim == base.optim and dagger.time_budget_minutes == base.time_budget_minutes


def test_flow_dagger_recipe_is_the_flow_run_with_both_dagger_rounds():
    """``xvla_fast_film_dagger_flow_mt10`` is the session-19 run: ``xvla_fast_film_mt10`` as it is (flow), the
    regression policy's DAgger round and the flow policy's own added to the demos; nothing else differs."""
    recipes = {r.name: r for r in list_recipes()}
    base, flow = recipes["xvla_fast_film_mt10"](), recipes["xvla_fast_film_dagger_flow_mt10"]()
    assert flow.policy == base.policy and flow.policy.objective == "flow"
    assert flow.data.roots == (*base.data.roots, "data/mt10_64_dagger1", "data/mt10_64_dagger_flow")
    assert flow.optim == base.optim and flow.time_budget_minutes == base.time_budget_minutes


def test_grid_ctx_recipe_is_the_session_28_run():
    """``xvla_fast_grid_ctx_mt10`` is session 28's measured run: ``xvla_fast_film_mt10`` with
    ``--policy.objective regression --policy.stem-grid 4 --policy.global-context``; nothing else differs."""
    import dataclasses

    recipes = {r.name: r for r in list_recipes()}
    base, grid = recipes["xvla_fast_film_mt10"](), recipes["xvla_fast_grid_ctx_mt10"]()
    assert (grid.policy.objective, grid.policy.stem_grid, grid.policy.global_context) == ("regression", 4, True)
    assert dataclasses.replace(grid.policy, objective=base.policy.objective, stem_grid=0,
                               global_context=False) == base.policy
    assert grid.data == base.data and grid.optim == base.optim
    assert grid.time_budget_minutes == base.time_budget_minutes


def test_grid_ctx_pegw_recipe_is_the_session_29_run():
    """``xvla_fast_grid_ctx_pegw_mt10`` is session 29's measured run: ``xvla_fast_grid_ctx_mt10`` with
    ``--data.task-weights peg-insert-side-v3=3``; nothing else differs."""
    import dataclasses

    recipes = {r.name: r for r in list_recipes()}
    base, pegw = recipes["xvla_fast_grid_ctx_mt10"](), recipes["xvla_fast_grid_ctx_pegw_mt10"]()
    assert pegw.data.task_weights == ("peg-insert-side-v3=3",)
    assert dataclasses.replace(pegw.data, task_weights=base.data.task_weights) == base.data
    assert pegw.policy == base.policy and pegw.optim == base.optim
    assert pegw.time_budget_minutes == base.time_budget_minutes


def test_onpol2_recipe_is_the_session_32_run():
    """``xvla_fast_grid_ctx_pegw_onpol2_mt10`` is session 32's measured run: ``xvla_fast_grid_ctx_pegw_mt10`` on the
    demos plus the two on-policy rounds' four roots (``bench_mt10.py --data``); nothing else differs."""
    import dataclasses

    recipes = {r.name: r for r in list_recipes()}
    base, onpol = recipes["xvla_fast_grid_ctx_pegw_mt10"](), recipes["xvla_fast_grid_ctx_pegw_onpol2_mt10"]()
    rollouts = onpol.data.roots[len(base.data.roots):]
    assert onpol.data.roots[:len(base.data.roots)] == base.data.roots and len(rollouts) == 4
    assert all(root.startswith("data/mt10_64_onpolicy_") for root in rollouts)
    assert dataclasses.replace(onpol.data, roots=base.data.roots) == base.data
    assert onpol.policy == base.policy and onpol.optim == base.optim
    assert onpol.time_budget_minutes == base.time_budget_minutes
