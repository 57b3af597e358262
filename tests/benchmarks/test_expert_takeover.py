"""benchmarks/expert_takeover.py: the policy acts for K steps, then the expert; success and the hand-over state."""

from __future__ import annotations

import numpy as np
import torch

from vlaforge.core.keys import STATE
from vlaforge.sim.simulator import Step

from tests.benchmarks.conftest import LineEnv, LineSim as Sim, load_benchmark


def _load():
    return load_benchmark("expert_takeover")


class Forward:
    """The expert: +0.5 per step, whatever the state."""

    def reset(self, env, step) -> None:
        pass

    def act(self, step: Step) -> np.ndarray:
        return np.array([0.5], np.float32)


class Backward:
    """A policy that walks away from the goal (-0.25 per step): the expert must undo its steps."""

    def reset(self) -> None:
        pass

    def select_action(self, obs, generator=None) -> torch.Tensor:
        assert obs[STATE].shape == (1, 1) and generator is not None
        return torch.tensor([[-0.25]])


def test_expert_takes_over_after_k_policy_steps():
    et = _load()
    env, sim = LineEnv(), Sim()
    alone = et.takeover_episode(Backward(), env, Forward(), sim, "line", 0, k=0, max_steps=10)
    assert alone["success"] and alone["success_step"] == 3  # four expert steps of 0.5 reach 2.0
    assert alone["hand_obj"] == 1.0 and alone["obj_goal"] == 1.0 and not alone["policy_succeeded_first"]
    late = et.takeover_episode(Backward(), env, Forward(), sim, "line", 0, k=4, max_steps=10)
    assert late["success_step"] == 9  # x = -1.0 after four policy steps; six expert steps to 2.0
    assert late["hand_obj"] == 2.0  # the hand-over state is the one the policy left
    never = et.takeover_episode(Backward(), env, Forward(), sim, "line", 0, k=6, max_steps=10)
    assert not never["success"] and never["success_step"] is None


def test_summary_counts_policy_successes_without_a_hand_over():
    et = _load()
    rows = [{"k": 5, "success": True, "policy_succeeded_first": True},  # finished by the policy: no hand-over state
            {"k": 5, "success": True, "policy_succeeded_first": False, "hand_obj": 0.1, "obj_goal": 0.3},
            {"k": 5, "success": False, "policy_succeeded_first": False, "hand_obj": 0.3, "obj_goal": 0.1}]
    assert et.summarise(rows) == {"success": 2 / 3, "policy_succeeded_first": 1, "hand_obj_at_k": 0.2,
                                  "obj_goal_at_k": 0.2}
    assert et.summarise(rows[:1])["hand_obj_at_k"] is None


class ForwardPolicy:
    """A policy taking over (--taker): +0.5 per step, like the expert; counts its resets."""

    def __init__(self) -> None:
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def select_action(self, obs, generator=None) -> torch.Tensor:
        return torch.tensor([[0.5]])


def test_another_policy_takes_over_afresh_instead_of_the_expert():
    et = _load()
    env, sim, taker = LineEnv(), Sim(), ForwardPolicy()

    class NoExpert(Forward):  # with a taker the expert never acts
        def act(self, step: Step) -> np.ndarray:
            raise AssertionError("the expert acted although a taker was given")

    late = et.takeover_episode(Backward(), env, NoExpert(), sim, "line", 0, k=4, max_steps=10, taker=taker)
    assert late["success_step"] == 9 and late["hand_obj"] == 2.0  # the expert's path from the same hand-over
    assert taker.resets == 1  # started afresh at the hand-over, nothing queued from before it
    alone = et.takeover_episode(Backward(), env, NoExpert(), sim, "line", 0, k=10, max_steps=10, taker=taker)
    assert not alone["success"] and taker.resets == 1  # K at max_steps: the first policy alone, no hand-over


def test_replot_redraws_the_chart_from_the_saved_results(tmp_path):
    et = _load()
    summary = {"policy_a": {"0": {"success": 1.0}, "50": {"success": 0.4}}}
    meta = {"task": "push-v3", "taker": "runs/bench/bc_run/checkpoints/step_000100"}
    (tmp_path / "takeover.json").write_text(__import__("json").dumps({"meta": meta, "summary": summary}))
    assert et.main(["--replot", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "takeover.png").read_bytes()[:4] == b"\x89PNG"
    assert et.run_name(meta["taker"]) == "bc_run" and et.run_name("expert") == "expert"
