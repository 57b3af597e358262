"""Task names, suites, instructions, difficulty buckets and seed guards (no MuJoCo needed)."""

import pytest

from vlaforge.sim import tasks


def test_suites_match_metaworld():
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS, MT10_V3

    assert tasks.resolve_tasks("mt10") == list(MT10_V3)
    assert set(tasks.resolve_tasks("mt50")) == set(ALL_V3_ENVIRONMENTS) and len(tasks.MT50) == 50
    assert set(tasks.MT40) == set(tasks.MT50) - set(tasks.MT10) and len(tasks.MT40) == 40


def test_difficulty_buckets_partition_mt50():
    sizes = {b: len(t) for b, t in tasks.DIFFICULTY.items()}
    assert sizes == {"easy": 28, "medium": 11, "hard": 6, "very_hard": 5}
    flat = [t for ts in tasks.DIFFICULTY.values() for t in ts]
    assert sorted(flat) == sorted(tasks.MT50)
    assert tasks.difficulty_of("push") == "hard"


def test_every_task_has_an_instruction():
    assert all(isinstance(tasks.INSTRUCTIONS[t], str) and len(tasks.INSTRUCTIONS[t]) > 5 for t in tasks.MT50)
    assert tasks.instruction("push-v3") == "push the puck to the goal"


def test_resolve_forms_and_order():
    assert tasks.resolve_tasks("push") == ["push-v3"]
    assert tasks.resolve_tasks("reach-v3, push,reach") == ["reach-v3", "push-v3"]
    assert tasks.resolve_tasks(["mt10", "assembly"])[-1] == "assembly-v3"


def test_unknown_task_suggests_close_match():
    with pytest.raises(KeyError, match="Did you mean 'pick-place'"):
        tasks.resolve_tasks("mt10,pick-plce")
    with pytest.raises(KeyError, match="'mt10'"):
        tasks.resolve_tasks("mt11")


def test_seed_guards():
    tasks.check_eval_seeds(range(10_000, 10_010))
    with pytest.raises(ValueError, match="below 10000"):
        tasks.check_eval_seeds(range(9_995, 10_005))
    with pytest.raises(ValueError, match="used to collect"):
        tasks.check_eval_seeds([10_003], training_seeds={10_003})
    tasks.check_collection_seeds(0, 120)
    with pytest.raises(ValueError, match="evaluation range"):
        tasks.check_collection_seeds(9_950, 120)
