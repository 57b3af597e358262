"""Bimanual ALOHA (gym-aloha's simulated ViperX pair): 14-D absolute joint positions.

Per arm: waist, shoulder, elbow, forearm roll, wrist angle, wrist rotate (radians) and the gripper
(normalized opening, 0 closed .. 1 open), left arm first, as the ACT authors' data. State is the same
14 joint positions. Cameras: ``top`` plus the two wrist cameras; 50 Hz control.
"""

from vlaforge.core.embodiment import EmbodimentSpec, register_embodiment

_ARM = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper")
_NAMES = tuple(f"left_{j}" for j in _ARM) + tuple(f"right_{j}" for j in _ARM)
_LOW = (-3.14, -1.85, -1.76, -3.14, -1.87, -3.14, 0.0)
_HIGH = (3.14, 1.26, 1.61, 3.14, 2.23, 3.14, 1.0)

ALOHA = register_embodiment(
    EmbodimentSpec(
        name="aloha",
        action_names=_NAMES,
        state_names=_NAMES,
        action_low=_LOW * 2,
        action_high=_HIGH * 2,
        cameras=("top", "left_wrist", "right_wrist"),
        fps=50.0,
        control_mode="absolute",
        control_space="joint",
        gripper_dims=(6, 13),
        position_dims=tuple(i for i in range(14) if i not in (6, 13)),
        description="Bimanual ALOHA in simulation (gym-aloha / dm-control), absolute joint-position control.",
    )
)
