"""Bimanual ALOHA in simulation: gym-aloha's two ViperX arms, transfer-cube and insertion, scripted experts.

The scenes are gym-aloha's own MJCF files (``gym_aloha/assets``: the ACT authors' models), stepped with the
``mujoco`` bindings directly: dm-control's ``control.Environment`` renders three 480x640 cameras every
step, which costs far more than the physics; here only the cameras a dataset asks for are rendered, at
its size. Everything else follows gym-aloha: 50 Hz control (10 physics steps of 2 ms), the 14-D
absolute joint action (6 joints + normalized gripper opening per arm, left first), the same start pose,
object pose samplers (``gym_aloha.utils``, seeded), and contact-based rewards with success = the top
reward (4). The episode length is 400 steps, LeRobot's ``AlohaEnv.episode_length`` and the length of the
ACT authors' scripted episodes.

Scripted experts, as the ACT authors built theirs: an end-effector twin of each scene (the same MJCF with
mocap bodies welded to both gripper links) follows waypoint trajectories for both arms, interpolated
linearly; the joint positions it goes through, with the commanded gripper openings, form the 14-D
joint trajectory that the expert replays in the joint-position scene. The collector keeps only the
episodes that succeed there. The waypoints are ours, written from the task geometry, as poses of the
grasp point (between the finger pads, 9.4 cm ahead of the gripper link). MuJoCo computes each weld's
relative pose from ``qpos0``, which puts the mocap body 13.5 cm ahead of its gripper link; gym-aloha
starts the mocap bodies at the gripper links (so the arms lurch forward in the first steps); the twin
starts them where the start pose holds them, and converts grasp-point targets to mocap poses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vlaforge.core.keys import IMAGE_PREFIX, STATE
from vlaforge.sim.simulator import Simulator, Step, register_simulator

EMBODIMENT = "aloha"
CAMERAS = ("top", "left_wrist", "right_wrist")
ALL_CAMERAS = CAMERAS + ("angle", "front_close", "left_pillar", "right_pillar")
EPISODE_LENGTH = 400
DT, PHYSICS_DT = 0.02, 0.002
SUBSTEPS = round(DT / PHYSICS_DT)
TASKS = ("transfer-cube", "insertion")
SUITES = {"aloha": TASKS}
INSTRUCTIONS = {
    "transfer-cube": "pick up the red cube with the right arm and hand it over to the left arm",
    "insertion": "pick up the socket and the peg and insert the peg into the socket",
}
# gym-aloha's reward levels 1-4 (``_Scene.reward``), named as the ACT paper's Table I subtasks where it has one
STAGES = {
    "transfer-cube": ("touched", "lifted", "transfer attempted", "transferred"),
    "insertion": ("both touched", "both grasped", "peg touches socket", "inserted"),
}
_XML = {"transfer-cube": "transfer_cube", "insertion": "insertion"}
# gym_aloha.constants: the start pose (16 qpos: 6 joints + 2 finger slides per arm) and the puppet gripper range
START_ARM_POSE = np.array([0, -0.96, 1.16, 0, -0.3, 0, 0.02239, -0.02239] * 2)
GRIPPER_OPEN, GRIPPER_CLOSE = 0.05800, 0.01844


def normalize_gripper(x):
    """Finger slide position (m) -> opening in [0, 1] (0 closed), gym-aloha's puppet convention."""
    return (x - GRIPPER_CLOSE) / (GRIPPER_OPEN - GRIPPER_CLOSE)


def unnormalize_gripper(x):
    return x * (GRIPPER_OPEN - GRIPPER_CLOSE) + GRIPPER_CLOSE


def _import_mujoco():
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("LP_NUM_THREADS", "1")
    import mujoco

    return mujoco


def assets_dir() -> Path:
    try:
        import gym_aloha
    except ImportError as e:  # declared in pyproject; a clear message for a partial install
        raise ImportError("the ALOHA simulator needs gym-aloha (pip install 'gym-aloha==0.1.5'), which ships "
                          "the scene files") from e
    return Path(gym_aloha.__file__).parent / "assets"


def canonical(task: str) -> str:
    t = task.strip().lower().replace("_", "-")
    aliases = {"transfercube": "transfer-cube", "aloha-transfer-cube": "transfer-cube", "aloha-insertion": "insertion"}
    t = aliases.get(t, t)
    if t not in TASKS:
        raise KeyError(f"unknown ALOHA task {task!r}; tasks: {', '.join(TASKS)} (suite 'aloha': both)")
    return t


def sample_objects(task: str, seed: int) -> np.ndarray:
    """The free objects' qpos (7 per object: xyz + quat) for an episode seed, gym-aloha's samplers."""
    from gym_aloha.utils import sample_box_pose, sample_insertion_pose

    if task == "transfer-cube":
        return sample_box_pose(seed)
    return np.concatenate(sample_insertion_pose(seed))


class _Scene:
    """One MJCF scene: model, data, contact reward, and a renderer for small frames."""

    def __init__(self, task: str, end_effector: bool) -> None:
        self.mj = _import_mujoco()
        name = f"bimanual_viperx_{'end_effector_' if end_effector else ''}{_XML[task]}.xml"
        self.model = self.mj.MjModel.from_xml_path(str(assets_dir() / name))
        if end_effector:  # gym-aloha's welds are soft (impedance 0.25): the grippers sag cm off their targets
            self.model.eq_solimp[:, :3] = (0.95, 0.99, 0.001)
        self.data = self.mj.MjData(self.model)
        self.task = task
        geom = self.mj.mjtObj.mjOBJ_GEOM
        self._geom_names = [self.mj.mj_id2name(self.model, geom, i) for i in range(self.model.ngeom)]
        self._renderer = None

    def reset(self, objects: np.ndarray) -> None:
        m, d = self.model, self.data
        self.mj.mj_resetData(m, d)
        d.qpos[:16] = START_ARM_POSE
        d.qpos[16:] = objects
        if m.nmocap:
            self.mj.mj_forward(m, d)
            links = ("vx300s_left/gripper_link", "vx300s_right/gripper_link")
            for i, link in enumerate(links):
                d.mocap_pos[i], d.mocap_quat[i] = self._weld_target(i, link)
            self._offsets = [self._grasp_offset(i, link) for i, link in enumerate(links)]
            d.ctrl[:] = [GRIPPER_CLOSE, -GRIPPER_CLOSE] * 2
        else:
            d.ctrl[:] = START_ARM_POSE
        self.mj.mj_forward(m, d)

    def _weld_target(self, i: int, link: str) -> tuple[np.ndarray, np.ndarray]:
        """The mocap pose that holds ``link`` where it is: link = mocap * relpose, so mocap = link * relpose^-1."""
        mj, body = self.mj, self.data.body(link)
        rel_pos, rel_quat = self.model.eq_data[i, 3:6], self.model.eq_data[i, 6:10]
        inv, quat, off = np.zeros(4), np.zeros(4), np.zeros(3)
        mj.mju_negQuat(inv, rel_quat)
        mj.mju_mulQuat(quat, body.xquat, inv)
        mj.mju_rotVecQuat(off, rel_pos, quat)
        return body.xpos - off, quat

    def _grasp_offset(self, i: int, link: str) -> np.ndarray:
        """The grasp point (between the two finger pads) in mocap ``i``'s frame: relpose applied to the
        finger geoms' mean position in the gripper link's frame."""
        mj, m, d = self.mj, self.model, self.data
        body = d.body(link)
        fingers = [mj.mj_name2id(m, mj.mjtObj.mjOBJ_GEOM, f"{link.split('/')[0]}/10_{s}_gripper_finger")
                   for s in ("left", "right")]
        in_link = body.xmat.reshape(3, 3).T @ (d.geom_xpos[fingers].mean(0) - body.xpos)
        out = np.zeros(3)
        mj.mju_rotVecQuat(out, in_link, m.eq_data[i, 6:10])
        return m.eq_data[i, 3:6] + out

    def grasp_pose(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Mocap ``i``'s target as (grasp point, orientation)."""
        off = np.zeros(3)
        self.mj.mju_rotVecQuat(off, self._offsets[i], self.data.mocap_quat[i])
        return self.data.mocap_pos[i] + off, self.data.mocap_quat[i].copy()

    def set_grasp_pose(self, i: int, point: np.ndarray, quat: np.ndarray) -> None:
        """Move mocap ``i`` so that its gripper's grasp point goes to ``point`` with orientation ``quat``."""
        off = np.zeros(3)
        self.mj.mju_rotVecQuat(off, self._offsets[i], quat)
        self.data.mocap_pos[i], self.data.mocap_quat[i] = point - off, quat

    def step(self) -> None:
        self.mj.mj_step(self.model, self.data, nstep=SUBSTEPS)

    def joints(self) -> np.ndarray:
        """The 14-D state: 6 joints + normalized gripper opening per arm, left first."""
        q = self.data.qpos
        left, right = [normalize_gripper(q[6])], [normalize_gripper(q[14])]
        return np.concatenate([q[:6], left, q[8:14], right]).astype(np.float32)

    def contacts(self) -> set[tuple[str, str]]:
        d, n = self.data, self._geom_names
        return {(n[d.contact[i].geom1], n[d.contact[i].geom2]) for i in range(d.ncon)}

    def reward(self) -> int:
        """gym-aloha's staged reward (0-4); 4 is success."""
        c = self.contacts()
        both = lambda a, b: (a, b) in c or (b, a) in c  # noqa: E731
        if self.task == "transfer-cube":
            right = both("red_box", "vx300s_right/10_right_gripper_finger")
            left = both("red_box", "vx300s_left/10_left_gripper_finger")
            table = both("red_box", "table")
            return 4 if left and not table else 3 if left else 2 if right and not table else 1 if right else 0
        sockets = [f"socket-{i}" for i in range(1, 5)]
        right = both("red_peg", "vx300s_right/10_right_gripper_finger")
        left = any(both(s, "vx300s_left/10_left_gripper_finger") for s in sockets)
        peg_table = both("red_peg", "table")
        socket_table = any(both(s, "table") for s in sockets)
        peg_socket = any(both("red_peg", s) for s in sockets)
        if both("red_peg", "pin"):
            return 4
        if peg_socket and not peg_table and not socket_table:
            return 3
        if left and right:
            return 2 if not peg_table and not socket_table else 1
        return 0

    def render(self, camera: str, size: tuple[int, int]) -> np.ndarray:
        mj = self.mj
        if self._renderer is None or (self._renderer.height, self._renderer.width) != tuple(size):
            self.close()
            self.model.vis.quality.offsamples = 0
            self.model.vis.global_.offheight = max(self.model.vis.global_.offheight, size[0])
            self.model.vis.global_.offwidth = max(self.model.vis.global_.offwidth, size[1])
            self._renderer = mj.Renderer(self.model, height=size[0], width=size[1])
            self._renderer.scene.flags[mj.mjtRndFlag.mjRND_SHADOW] = 0
            self._renderer.scene.flags[mj.mjtRndFlag.mjRND_REFLECTION] = 0
        self._renderer.update_scene(self.data, camera=camera)
        return np.ascontiguousarray(self._renderer.render())

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


@lru_cache(maxsize=1)
def _clip_action():
    from vlaforge.embodiments import get_embodiment

    return get_embodiment(EMBODIMENT).clip_action


def joint_ctrl(action: np.ndarray) -> np.ndarray:
    """14-D joint action -> the scene's 16 position targets (each gripper drives two finger slides), in
    float64: the env and the expert's private replay must compute bit-identical targets, since a
    last-digit difference changes which contacts happen a hundred steps later."""
    a = np.asarray(action, dtype=np.float64).reshape(-1)
    if a.shape != (14,):
        raise ValueError(f"ALOHA takes a 14-D joint action (6 joints + gripper per arm), got shape {a.shape}")
    a = np.asarray(_clip_action()(a), dtype=np.float64)  # the joint and gripper ranges
    lg, rg = unnormalize_gripper(a[6]), unnormalize_gripper(a[13])
    return np.concatenate([a[:6], [lg, -lg], a[7:13], [rg, -rg]])


class AlohaEnv:
    """The joint-position task: ``step`` takes the 14-D absolute joint action (gym-aloha's)."""

    def __init__(self, task: str, image_size: tuple[int, int] | int = (64, 64), cameras: Sequence[str] = CAMERAS,
                 max_steps: int = EPISODE_LENGTH) -> None:
        self.task = canonical(task)
        self.image_size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        bad = [c for c in cameras if c not in ALL_CAMERAS]
        if bad:
            raise ValueError(f"unknown ALOHA camera(s) {bad}; available: {list(ALL_CAMERAS)}")
        self.cameras, self.max_steps = tuple(cameras), max_steps
        self.scene = _Scene(self.task, end_effector=False)
        self.seed: int | None = None
        self._objects = None

    def reset(self, seed: int, render: bool = True) -> Step:
        self.seed = int(seed)
        self._objects = sample_objects(self.task, self.seed)
        self.scene.reset(self._objects)
        return self._step(render)

    def step(self, action: np.ndarray, render: bool = True) -> Step:
        """``joint_ctrl`` clips to the embodiment's action range, as the Meta-World env does: a policy (or the
        expert's ILC-corrected targets) cannot command past the joint limits, and the expert's private replay
        then predicts this env exactly."""
        self.scene.data.ctrl[:] = joint_ctrl(action)
        self.scene.step()
        return self._step(render)

    def _step(self, render: bool) -> Step:
        obs: dict[str, Any] = {f"{IMAGE_PREFIX}{c}": self.scene.render(c, self.image_size)
                               for c in (self.cameras if render else ())}
        obs[STATE] = self.scene.joints()
        reward = self.scene.reward()
        privileged = {"task": self.task, "seed": self.seed, "objects": self._objects}
        return Step(obs, privileged, success=reward == 4, reward=float(reward))

    def close(self) -> None:
        self.scene.close()

    def __enter__(self) -> "AlohaEnv":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---- scripted experts ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Waypoint:
    t: int
    xyz: np.ndarray
    quat: np.ndarray
    gripper: float
    """Commanded opening, 0 closed .. 1 open."""


def _quat(axis: Sequence[float], degrees: float) -> np.ndarray:
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    h = np.deg2rad(degrees) / 2
    return np.concatenate([[np.cos(h)], np.sin(h) * a])


def _wp(t, xyz, quat, gripper) -> Waypoint:
    return Waypoint(t, np.asarray(xyz, float), np.asarray(quat, float), float(gripper))


def transfer_cube_waypoints(box: np.ndarray, start: Sequence[tuple[np.ndarray, np.ndarray]],
                            held: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
                            ) -> tuple[list[Waypoint], list[Waypoint]]:
    """Grasp-point waypoints. Right arm: above the cube, down, grasp, lift to the meeting point; left arm:
    waits beside it, then (replanned at ``REPLAN_T`` on where the cube really hangs, ``held``) closes on it
    from the side; the right hand lets go and both withdraw."""
    pick = _quat([0, 1, 0], -60)  # right gripper pitched down 60 degrees
    meet_left = _quat([1, 0, 0], 90)  # left gripper rolled: its fingers close on the cube's top and bottom
    meet = np.array([0.0, 0.5, 0.25])
    cube = np.array([box[0], box[1], 0.03])  # the cube (4 cm) rests with its centre at 2 cm: grasp its upper half
    at = held["box"][0] if held is not None else meet  # the cube's centre in the right hand
    left = [_wp(0, *start[0], 0), _wp(120, meet + [-0.12, 0, 0], meet_left, 1),
            _wp(250, meet + [-0.12, 0, 0], meet_left, 1), _wp(290, at + [-0.012, 0, 0], meet_left, 1),
            _wp(310, at + [-0.012, 0, 0], meet_left, 0), _wp(360, at + [-0.012, 0, 0], meet_left, 0),
            _wp(400, at + [-0.1, 0, 0], meet_left, 0)]
    right = [_wp(0, *start[1], 0), _wp(90, cube + [0, 0, 0.08], pick, 1), _wp(130, cube, pick, 1),
             _wp(160, cube, pick, 0), _wp(180, cube, pick, 0), _wp(230, meet + [0.05, 0, 0], pick, 0),
             _wp(250, meet, pick, 0), _wp(320, meet, pick, 0), _wp(340, meet, pick, 1),
             _wp(380, meet + [0.12, 0, 0.05], pick, 1), _wp(400, meet + [0.12, 0, 0.05], pick, 1)]
    return left, right


def insertion_waypoints(objects: np.ndarray, start: Sequence[tuple[np.ndarray, np.ndarray]],
                        held: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
                        ) -> tuple[list[Waypoint], list[Waypoint]]:
    """Grasp-point waypoints. The left arm grasps the socket (a 12 cm tube along x with a pin inside) at its
    centre, the right arm the peg (a 12 cm bar along x) ``PEG_GRASP_OFFSET`` right of its centre; both lift to
    face each other above the table; replanned at ``REPLAN_T`` on where both objects really are and how they
    tilt in the hands (``held``: body -> (position, rotation matrix)), the right arm brings the peg's end to
    the socket's mouth and pushes it 4.5 cm in along the socket's axis, against the pin (what still fails:
    the push can turn the socket in the left hand, see BENCHMARKS.md)."""
    peg, socket = np.asarray(objects[:3], float), np.asarray(objects[7:10], float)
    pick_right, pick_left = _quat([0, 1, 0], -60), _quat([0, 1, 0], 60)
    meet = np.array([0.0, 0.5, 0.15])
    # the 2 cm bar rests with its centre at 1 cm; held at its centre it droops 7-17 degrees about the pinch axis
    # on the way to the socket and meets the rim (BENCHMARKS.md, session 7): 2.5 cm right of centre it does not
    peg = np.array([peg[0] + PEG_GRASP_OFFSET, peg[1], 0.012])
    socket = np.array([socket[0], socket[1], 0.025])  # the tube's centre rests at 2.2 cm
    right_at = meet + [0.12, 0, 0]
    if held is None:
        enter = push = right_at
    else:  # the peg's left end to the socket's mouth, on its axis, then 4.5 cm in (the pin starts 2 cm in)
        (peg_at, peg_rot), (sock_at, sock_rot) = held["peg"], held["socket"]
        peg_end = peg_at + peg_rot[:, 0] * -0.06  # both are 12 cm long along their own x axis
        axis = sock_rot[:, 0]
        enter = right_at + (sock_at + axis * 0.075) - peg_end
        push = right_at + (sock_at + axis * 0.015) - peg_end
    left = [_wp(0, *start[0], 0), _wp(120, socket + [0, 0, 0.08], pick_left, 1), _wp(170, socket, pick_left, 1),
            _wp(210, socket, pick_left, 0), _wp(280, meet + [-0.08, 0, 0], pick_left, 0),
            _wp(400, meet + [-0.08, 0, 0], pick_left, 0)]
    right = [_wp(0, *start[1], 0), _wp(120, peg + [0, 0, 0.08], pick_right, 1), _wp(170, peg, pick_right, 1),
             _wp(210, peg, pick_right, 0), _wp(280, right_at, pick_right, 0), _wp(300, right_at, pick_right, 0),
             _wp(330, enter, pick_right, 0), _wp(380, push, pick_right, 0), _wp(400, push, pick_right, 0)]
    return left, right


PEG_GRASP_OFFSET = 0.025
"""Where the right hand pinches the peg, along its axis from the centre (m); see ``insertion_waypoints``."""
WAYPOINTS = {"transfer-cube": transfer_cube_waypoints, "insertion": insertion_waypoints}
REPLAN_T = {"transfer-cube": 250, "insertion": 300}
"""The step at which the rest of the trajectory is replanned on the objects' real poses in the hands."""
OBJECTS = {"transfer-cube": ("box",), "insertion": ("peg", "socket")}


def interpolate(traj: list[Waypoint], t: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Linear interpolation between the waypoints around step ``t`` (quaternion renormalized)."""
    if t >= traj[-1].t:
        w = traj[-1]
        return w.xyz, w.quat, w.gripper
    nxt = next(i for i, w in enumerate(traj) if w.t > t)
    a, b = traj[nxt - 1], traj[nxt]
    f = (t - a.t) / (b.t - a.t)
    q = (1 - f) * a.quat + f * b.quat
    return (1 - f) * a.xyz + f * b.xyz, q / np.linalg.norm(q), (1 - f) * a.gripper + f * b.gripper


@lru_cache(maxsize=4)
def _ee_scene(task: str) -> _Scene:
    return _Scene(task, end_effector=True)


def joint_trajectory(task: str, objects: np.ndarray, steps: int = EPISODE_LENGTH) -> tuple[np.ndarray, bool]:
    """Run the waypoints in the end-effector twin: -> the (steps, 14) joint trajectory (joints it went through
    + commanded gripper openings) and whether the twin itself succeeded."""
    scene = _ee_scene(task)
    scene.reset(objects)
    plan = WAYPOINTS[task]
    start = [scene.grasp_pose(0), scene.grasp_pose(1)]
    left, right = plan(objects, start)
    d = scene.data
    out, success = np.zeros((steps, 14), np.float32), False
    for t in range(steps):
        if t == REPLAN_T[task]:  # the waypoints up to here are unchanged, so the motion stays continuous
            held = {b: (d.body(b).xpos.copy(), d.body(b).xmat.reshape(3, 3).copy()) for b in OBJECTS[task]}
            left, right = plan(objects, start, held)
        (lp, lq, lg), (rp, rq, rg) = interpolate(left, t), interpolate(right, t)
        scene.set_grasp_pose(0, lp, lq)
        scene.set_grasp_pose(1, rp, rq)
        lc, rc = unnormalize_gripper(lg), unnormalize_gripper(rg)
        d.ctrl[:] = [lc, -lc, rc, -rc]
        scene.step()
        q = scene.joints()
        q[6], q[13] = lg, rg  # the command, not the (lagging) finger position
        out[t] = q
        success = success or scene.reward() == 4
    return out, success


def replay(scene: _Scene, objects: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, bool]:
    """Roll the joint-position scene through ``actions`` (T, 14) -> the joints it went through, and success."""
    scene.reset(objects)
    out, success = np.zeros_like(actions), False
    for t, a in enumerate(actions):
        scene.data.ctrl[:] = joint_ctrl(a)  # clips, as AlohaEnv.step does
        scene.step()
        out[t] = scene.joints()
        success = success or scene.reward() == 4
    return out, success


def expert_actions(task: str, objects: np.ndarray, iterations: int = 10) -> tuple[np.ndarray, dict[str, Any]]:
    """The joint actions that make the joint-position scene follow the end-effector twin's trajectory.

    Replaying the twin's joints as position targets leaves the servos a few centidegrees behind (gravity,
    the low wrist gains, the held object), enough to miss a hand-over. Iterative learning control fixes
    it: replay privately, subtract each step's joint tracking error from that step's target, repeat until
    the private replay succeeds (the scene is deterministic, so the env's episode then does too)."""
    target, twin_ok = joint_trajectory(task, objects)
    scene, actions = _joint_scene(task), target.copy()
    arm = np.r_[0:6, 7:13]
    for i in range(iterations + 1):
        joints, ok = replay(scene, objects, actions)
        if ok or i == iterations:
            return actions, {"twin_success": twin_ok, "replay_success": ok, "ilc_iterations": i}
        actions[:, arm] -= (joints - target)[:, arm]
    raise AssertionError("unreachable")


@lru_cache(maxsize=4)
def _joint_scene(task: str) -> _Scene:
    return _Scene(task, end_effector=False)


class ScriptedExpert:
    """Replays, in the joint-position task, the joint trajectory its end-effector twin went through from
    the same initial object poses (privileged: they come from the env's seed), corrected for tracking
    error by ``expert_actions``."""

    def __init__(self, task: str) -> None:
        self.task = canonical(task)
        self._actions: np.ndarray | None = None
        self.info: dict[str, Any] = {}
        self._t = 0

    def reset(self, env, step: Step) -> None:
        self._actions, self.info = expert_actions(self.task, step.privileged["objects"])
        self._t = 0

    def act(self, step: Step) -> np.ndarray:
        a = self._actions[min(self._t, len(self._actions) - 1)]
        self._t += 1
        return a.copy()


class Aloha(Simulator):
    """gym-aloha's bimanual ViperX scenes (transfer-cube, insertion) with the 14-D joint action."""

    name = "aloha"
    embodiment_name = EMBODIMENT
    cameras = ALL_CAMERAS
    default_cameras = CAMERAS
    default_suite = "aloha"
    fps = 1.0 / DT
    max_steps = EPISODE_LENGTH
    closed_loop_expert = False  # replays a joint trajectory planned at reset

    def resolve_tasks(self, suite: str | Sequence[str]) -> list[str]:
        names = suite.split(",") if isinstance(suite, str) else list(suite)
        out: list[str] = []
        for n in names:
            n = n.strip().lower()
            for t in SUITES.get(n, (n,)):
                t = canonical(t)
                if t not in out:
                    out.append(t)
        return out

    def instruction(self, task: str) -> str:
        return INSTRUCTIONS[canonical(task)]

    def reward_stages(self, task: str) -> tuple[str, ...]:
        return STAGES[canonical(task)]

    def make_env(self, task: str, image_size: tuple[int, int], cameras: Sequence[str], max_steps: int) -> AlohaEnv:
        return AlohaEnv(task, image_size, cameras, max_steps)

    def expert(self, task: str) -> ScriptedExpert:
        return ScriptedExpert(task)


register_simulator(Aloha())
