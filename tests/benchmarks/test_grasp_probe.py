"""benchmarks/grasp_probe.py: a policy's rollouts read through the expert's phases (align, descend, grasp, carry)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlaforge.sim.simulator import Step

from tests.benchmarks.conftest import LineEnv, LineSim as Sim, load_benchmark


def _load():
    return load_benchmark("grasp_probe")


def test_the_phase_is_read_off_the_experts_target():
    gp = _load()
    hand, obj = np.array([0.1, 0.6, 0.2]), np.array([0.0, 0.6, 0.02])
    assert gp.expert_phase(obj + [0, 0, 0.2], hand, obj) == "align"  # over the object, high up
    assert gp.expert_phase(obj + [-0.005, 0, 0.03], hand, obj) == "descend"  # onto it (push's 5 mm offset)
    assert gp.expert_phase(hand.copy(), hand, obj) == "grasp"  # pick-place waits for its fingers
    assert gp.expert_phase(np.array([0.1, 0.8, 0.02]), hand, obj) == "carry"  # the goal


def test_an_expert_without_a_state_machine_is_a_clear_error():
    gp = _load()
    with pytest.raises(SystemExit, match="_desired_pos"):
        gp.target_fn(object())


def _episode(phases, xy, actions, labels, success=False):
    return {"seed": 0, "success": success, "success_step": None, "phase": phases, "xy": xy, "action": actions,
            "label": labels}


def test_summary_separates_a_wrong_way_carry_from_a_good_one():
    gp = _load()
    phases = ["align", "align", "descend", "carry", "carry", "align"]
    xy = [0.10, 0.03, 0.01, 0.01, 0.01, 0.06]
    labels = [[0.5, 0, 0, -1], [0.3, 0, 0, -1], [0, 0, -0.5, 0.6], [0, 1.0, 0, 0.6], [0, 1.0, 0, 0.6], [0, 0, 0, 0]]
    good = _episode(phases, xy, labels, labels, success=True)
    wrong = [list(a) for a in labels]
    wrong[3], wrong[4] = [0, -0.5, 0, 0.6], [1.0, 0, 0, 0.6]  # away from the goal, then across its way
    wrong[2] = [0, 0, 0.2, 0.6]  # up while the expert goes down
    wrong[1] = [0.3, 0, 0, 1.0]  # closes while still aligning
    s_good, s_bad = gp.summarise([good]), gp.summarise([_episode(phases, xy, wrong, labels)])
    assert s_good["carry_gain_xy"]["0-20"] == 1.0 and s_good["carry_cos_xy"]["0-20"] == 1.0
    # the window from the carry's start: the two carry steps, then the last (the expert still, left out of the cosine)
    assert s_bad["carry_gain_xy"]["0-20"] == -0.25 and s_bad["carry_cos_xy"]["0-20"] == -0.5  # (-0.5 + 0) / 2
    assert s_good["carry_cos_xy"]["20-40"] is None  # no steps that far after the carry began
    assert s_good["near_gain_xy"] == 1.0 and s_good["hover_steps"] == 1  # one aligning step within 5 cm
    assert s_good["down_when_expert_descends"] == 1.0 and s_bad["down_when_expert_descends"] == 0.0
    assert s_good["closes_while_aligning"] == 0.0 and s_bad["closes_while_aligning"] == 0.333  # 1 of 3
    assert s_good["first_descend_step"] == 2 and s_good["first_carry_step"] == 3 and s_good["reached_carry"] == 1
    assert s_good["lost_after_carry"] == 1  # back to aligning after the carry began
    assert s_good["settled_xy_cm"] == 3.0 and s_good["success"] == 1.0 and s_bad["success"] == 0.0


def _target(p: np.ndarray) -> np.ndarray:
    """Over the object until the hand gets there, then the goal."""
    return p[4:7] + [0, 0, 0.2] if p[0] < p[4] - 0.01 else p[-3:]


class Expert:
    def act(self, step: Step) -> np.ndarray:
        return np.array([0.25, 0.0, 0.0, 0.0], np.float32)


class Walker:
    def __init__(self) -> None:
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def select_action(self, obs, generator=None) -> torch.Tensor:
        assert generator is not None  # seeded per step, as the evaluation's episodes are
        return torch.tensor([[0.25, 0.0, 0.0, 0.0]])


def test_an_episode_records_each_steps_phase_label_and_distance():
    gp = _load()
    policy = Walker()
    ep = gp.probe_episode(policy, LineEnv(obj=0.5, goal=1.0), Expert(), _target, Sim(), "line", 3, max_steps=10)
    assert policy.resets == 1 and ep["success"] and ep["success_step"] == 3  # 4 steps of 0.25
    assert ep["phase"] == ["align", "align", "carry", "carry"]  # at the object (x = 0.5) from step 2
    assert ep["xy"] == [0.5, 0.25, 0.0, 0.25] and ep["label"][0] == [0.25, 0.0, 0.0, 0.0]
    assert gp.first_step(ep["phase"], ("carry",)) == 2 and gp.first_step(ep["phase"], ("grasp",)) is None


def test_the_summary_and_chart_are_recomputed_from_the_saved_episodes(tmp_path):
    gp = _load()
    ep = _episode(["align", "carry"], [0.02, 0.01], [[0.1, 0, 0, 0]] * 2, [[0.1, 0, 0, 0]] * 2)
    (tmp_path / "grasp_probe.json").write_text(__import__("json").dumps(
        {"meta": {}, "summary": {}, "episodes": {"a": {"push-v3": [ep]}, "b": {"push-v3": [ep]}}}))
    assert gp.main(["--resummarise", "--out", str(tmp_path)]) == 0
    saved = __import__("json").loads((tmp_path / "grasp_probe.json").read_text())
    assert saved["summary"]["a"]["push-v3"]["carry_cos_xy"]["0-20"] == 1.0 and saved["meta"] == {}
    assert (tmp_path / "grasp_probe.png").read_bytes()[:4] == b"\x89PNG"


def test_goal_reading_correlates_each_episodes_carry_with_the_experts():
    gp = _load()
    goals = [-1.0, -0.5, 0.5, 1.0]  # the expert's x move in the carry differs per seed (where its goal is)

    def episodes(sign: float) -> list[dict]:
        n = 12  # at least half the 20-step window after the carry began
        return [_episode(["align"] + ["carry"] * n, [0.01] * (n + 1), [[0, 0, 0, 0]] + [[sign * g, 0.3 + g, 0, 0]] * n,
                         [[0, 0, 0, 0]] + [[g, 0.3, 0, 0]] * n) for g in goals]

    assert gp.goal_reading(episodes(1.0)) == {"x": 1.0, "y": None}  # follows each goal; the expert's y never varies
    assert gp.goal_reading(episodes(-1.0))["x"] == -1.0  # the mirror of each
    assert gp.goal_reading(episodes(1.0)[:2]) == {"x": None, "y": None}  # too few episodes to correlate
    short = [dict(ep, phase=ep["phase"][:5], action=ep["action"][:5], label=ep["label"][:5]) for ep in episodes(1.0)]
    assert gp.goal_reading(short) == {"x": None, "y": None}  # episodes that end within 10 steps of the carry: left out


def test_labels_are_compared_as_executed_clipped_to_the_action_bounds():
    gp = _load()
    ep = _episode(["carry"] * 12, [0.01] * 12, [[1.0, 1.0, 0, 0]] * 12, [[9.0, 1.0, 0, 0]] * 12)
    assert gp.executed(ep, "label")[0].tolist() == [1.0, 1.0, 0.0, 0.0]  # the expert's p-control asks 9, gets 1
    assert gp.summarise([ep])["carry_cos_xy"]["0-20"] == 1.0  # the same move once both are executed


def test_failed_endings_separate_a_stall_from_a_wrong_course_and_ignore_successes():
    gp = _load()
    n = 8
    stall = _episode(["carry"] * n, [0.01] * n, [[0.05, 0, 0, 0.6]] * n, [[1.0, 0, 0, 0.6]] * n)  # barely moves
    wrong = _episode(["carry"] * n, [0.01] * n, [[0, 0.4, 0, 1.0]] * n, [[0, -1.0, 0, 1.0]] * n)  # steady, against
    done = _episode(["carry"] * n, [0.01] * n, [[1.0, 0, 0, 0.6]] * n, [[1.0, 0, 0, 0.6]] * n, success=True)
    ends = gp.failed_endings([stall, done], last=4)
    assert ends == {"failed": 1, "end_phase": {"carry": 1}, "stalled_carry_steps": 8.0, "policy_xy": 0.05,
                    "expert_xy": 1.0, "gain_xy": 0.05, "cos_xy": 1.0}  # the right way, at a twentieth of the pace
    ends = gp.failed_endings([wrong], last=4)
    assert ends["stalled_carry_steps"] == 0.0  # moving, if the wrong way
    slow = _episode(["carry"] * 2, [0.0] * 2, [[0.1, 0, 0, 0]] * 2, [[0.3, 0, 0, 0]] * 2)
    assert gp.stall_steps(slow).sum() == 0  # the expert itself asks for little: no stall
    assert ends["gain_xy"] == -0.4 and ends["cos_xy"] == -1.0 and ends["policy_xy"] == 0.4  # pinned on a wrong course
    assert gp.failed_endings([done]) == {"failed": 0}
    assert gp.summarise([stall, done])[f"failed_last{gp.END_STEPS}"]["failed"] == 1
