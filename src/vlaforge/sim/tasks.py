"""Meta-World task names, suites, instructions and MT50 difficulty buckets.

Everything here is plain data plus name resolution, so it imports without MuJoCo.
"""

from __future__ import annotations

from vlaforge.core.errors import UnknownNameError
from vlaforge.core.registry import unknown_name_message

# Meta-World's MT10 train classes (metaworld.MT10 / env_dict.MT10_V3), in its order.
MT10: tuple[str, ...] = (
    "reach-v3", "push-v3", "pick-place-v3", "door-open-v3", "drawer-open-v3", "drawer-close-v3",
    "button-press-topdown-v3", "peg-insert-side-v3", "window-open-v3", "window-close-v3",
)

# One short instruction per task. Phrased for a policy, not copied from any dataset; the
# meaning follows the task definitions in Meta-World (Yu et al., 2019, Table 3).
INSTRUCTIONS: dict[str, str] = {
    "assembly-v3": "pick up the nut and place it onto the peg",
    "basketball-v3": "dunk the basketball into the basket",
    "bin-picking-v3": "move the puck from one bin into the other bin",
    "box-close-v3": "grasp the lid and close the box",
    "button-press-topdown-v3": "press the button from the top",
    "button-press-topdown-wall-v3": "reach past the wall and press the button from the top",
    "button-press-v3": "press the button",
    "button-press-wall-v3": "reach past the wall and press the button",
    "coffee-button-v3": "press the button on the coffee machine",
    "coffee-pull-v3": "pull the mug out from the coffee machine",
    "coffee-push-v3": "push the mug under the coffee machine",
    "dial-turn-v3": "turn the dial",
    "disassemble-v3": "pull the nut off the peg",
    "door-close-v3": "close the door",
    "door-lock-v3": "lock the door by turning the lock",
    "door-open-v3": "open the door",
    "door-unlock-v3": "unlock the door by turning the lock",
    "drawer-close-v3": "push the drawer closed",
    "drawer-open-v3": "pull the drawer open",
    "faucet-close-v3": "turn the faucet handle clockwise to close it",
    "faucet-open-v3": "turn the faucet handle counter-clockwise to open it",
    "hammer-v3": "hammer the nail into the wall",
    "hand-insert-v3": "insert the gripper into the hole",
    "handle-press-side-v3": "press the handle down from the side",
    "handle-press-v3": "press the handle down",
    "handle-pull-side-v3": "pull the handle up from the side",
    "handle-pull-v3": "pull the handle up",
    "lever-pull-v3": "pull the lever up",
    "peg-insert-side-v3": "insert the peg into the hole from the side",
    "peg-unplug-side-v3": "unplug the peg from the side",
    "pick-out-of-hole-v3": "pick the puck up out of the hole",
    "pick-place-v3": "pick up the puck and place it at the goal",
    "pick-place-wall-v3": "pick up the puck, go over the wall and place it at the goal",
    "plate-slide-back-side-v3": "slide the plate sideways out of the cabinet",
    "plate-slide-back-v3": "slide the plate back out of the cabinet",
    "plate-slide-side-v3": "slide the plate sideways into the cabinet",
    "plate-slide-v3": "slide the plate into the cabinet",
    "push-back-v3": "push the puck back to the goal",
    "push-v3": "push the puck to the goal",
    "push-wall-v3": "push the puck around the wall to the goal",
    "reach-v3": "reach the red goal point",
    "reach-wall-v3": "reach over the wall to the goal point",
    "shelf-place-v3": "pick up the puck and place it on the shelf",
    "soccer-v3": "kick the ball into the goal",
    "stick-pull-v3": "grasp the stick and pull the box with it",
    "stick-push-v3": "grasp the stick and push the box with it",
    "sweep-into-v3": "sweep the puck into the hole",
    "sweep-v3": "sweep the puck off the table",
    "window-close-v3": "slide the window closed",
    "window-open-v3": "slide the window open",
}

MT50: tuple[str, ...] = tuple(sorted(INSTRUCTIONS))
MT40: tuple[str, ...] = tuple(t for t in MT50 if t not in MT10)
"""The 40 MT50 tasks outside MT10 (action-free video for world-model pre-training)."""

# MT50 difficulty buckets as LeRobot's Meta-World env reports them (huggingface/lerobot,
# src/lerobot/envs/metaworld_config.json, "DIFFICULTY_TO_TASKS"), which the SmolVLA paper
# (Shukor et al., 2025) uses for its Meta-World table; the grouping itself comes from
# Seo et al., "Masked World Models for Visual Control" (CoRL 2022, Appendix), after Meta-World's
# own task list. 28 easy + 11 medium + 6 hard + 5 very hard = 50.
DIFFICULTY: dict[str, tuple[str, ...]] = {
    "easy": (
        "button-press-v3", "button-press-topdown-v3", "button-press-topdown-wall-v3", "button-press-wall-v3",
        "coffee-button-v3", "dial-turn-v3", "door-close-v3", "door-lock-v3", "door-open-v3", "door-unlock-v3",
        "drawer-close-v3", "drawer-open-v3", "faucet-close-v3", "faucet-open-v3", "handle-press-v3",
        "handle-press-side-v3", "handle-pull-v3", "handle-pull-side-v3", "lever-pull-v3", "plate-slide-v3",
        "plate-slide-back-v3", "plate-slide-back-side-v3", "plate-slide-side-v3", "reach-v3", "reach-wall-v3",
        "window-close-v3", "window-open-v3", "peg-unplug-side-v3",
    ),
    "medium": (
        "basketball-v3", "bin-picking-v3", "box-close-v3", "coffee-pull-v3", "coffee-push-v3", "hammer-v3",
        "peg-insert-side-v3", "push-wall-v3", "soccer-v3", "sweep-v3", "sweep-into-v3",
    ),
    "hard": ("assembly-v3", "hand-insert-v3", "pick-out-of-hole-v3", "pick-place-v3", "push-v3", "push-back-v3"),
    "very_hard": ("shelf-place-v3", "disassemble-v3", "stick-pull-v3", "stick-push-v3", "pick-place-wall-v3"),
}

SUITES: dict[str, tuple[str, ...]] = {"mt10": MT10, "mt50": MT50, "mt40": MT40, **DIFFICULTY}


def canonical_task(name: str) -> str:
    """'push' or 'push-v3' -> 'push-v3'; an unknown name raises with a close match."""
    name = name.strip().lower()
    full = name if name.endswith("-v3") else f"{name}-v3"
    if full not in INSTRUCTIONS:
        known = list(SUITES) + [t[:-3] for t in MT50]
        raise UnknownNameError(unknown_name_message("Meta-World task or suite", name, known))
    return full


def resolve_tasks(spec: str | list[str] | tuple[str, ...]) -> list[str]:
    """Expand a task spec: a suite ('mt10', 'mt50', 'mt40', 'easy'...), a task, or a comma list of both.

    Order is kept and duplicates dropped, so 'mt10' always yields MT10's own order."""
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for part in (p.strip().lower() for p in parts):
        if not part:
            continue
        for task in SUITES.get(part) or (canonical_task(part),):
            if task not in out:
                out.append(task)
    if not out:
        raise ValueError(f"empty task spec {spec!r}; pass e.g. 'mt10', 'push' or 'push,reach'")
    return out


def instruction(task: str) -> str:
    return INSTRUCTIONS[canonical_task(task)]


def difficulty_of(task: str) -> str:
    task = canonical_task(task)
    return next(bucket for bucket, tasks in DIFFICULTY.items() if task in tasks)


EVAL_SEED_START = 10_000
"""Evaluation seeds start here; collection seeds must stay below it, so no policy is ever
evaluated on an initial state it was trained on."""


def check_collection_seeds(seed_start: int, n_seeds: int) -> None:
    if seed_start < 0 or seed_start + n_seeds > EVAL_SEED_START:
        raise ValueError(f"collection seeds {seed_start}..{seed_start + n_seeds - 1} reach into the evaluation "
                         f"range (>= {EVAL_SEED_START}); use a lower --seed-start or fewer episodes per task")


def check_eval_seeds(seeds: "list[int] | range", training_seeds: "set[int] | None" = None) -> None:
    """Refuse evaluation seeds below ``EVAL_SEED_START`` or shared with a dataset's seeds."""
    seeds = list(seeds)
    low = [s for s in seeds if s < EVAL_SEED_START]
    if low:
        raise ValueError(f"evaluation seeds {low[:5]} are below {EVAL_SEED_START}, the collection range; "
                         f"evaluate from --seed-start {EVAL_SEED_START} or higher")
    shared = sorted(set(seeds) & set(training_seeds or ()))
    if shared:
        raise ValueError(f"evaluation seeds {shared[:5]} were used to collect the training data; "
                         "pick a --seed-start past the dataset's seeds")
