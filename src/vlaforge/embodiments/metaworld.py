"""Meta-World's Sawyer: 4-D delta end-effector action (dx, dy, dz, gripper effort)."""

from vlaforge.core.embodiment import EmbodimentSpec, register_embodiment

SAWYER = register_embodiment(
    EmbodimentSpec(
        name="metaworld_sawyer",
        action_names=("dx", "dy", "dz", "gripper"),
        # Proprioception only, as LeRobot's Meta-World env: hand xyz and gripper opening.
        state_names=("hand_x", "hand_y", "hand_z", "gripper_opening"),
        action_low=(-1.0, -1.0, -1.0, -1.0),
        action_high=(1.0, 1.0, 1.0, 1.0),
        cameras=("corner2", "gripperPOV"),
        fps=80.0,
        control_mode="delta",
        control_space="ee",
        gripper_dims=(3,),
        position_dims=(0, 1, 2),
        description="Meta-World v3 Sawyer arm (MuJoCo), mocap end-effector control.",
    )
)
