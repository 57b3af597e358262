"""Batch key names (LeRobot's) and the fixed padding width.

Batch contract (training, after collation):

- ``observation.images.<cam>``: uint8 ``(B, To, 3, H, W)``
- ``observation.state``: float32 ``(B, To, Ds)`` raw (un-normalized, un-padded)
- ``action``: float32 ``(B, Ha, Da)`` raw, absent or zero where ``has_action`` is False
- ``action_is_pad``: bool ``(B, Ha)``: steps past the episode end
- ``observation.is_pad``: bool ``(B, To)``: history steps before the episode start
- ``task``: list[str] instruction text
- ``embodiment``: list[str] embodiment names (see ``vlaforge.embodiments``)
- ``has_action``: bool ``(B,)``: False for action-free video samples
- ``future.images.<cam>``: optional uint8 ``(B, Tf, 3, H, W)`` future frames for world models
- ``observation.features.<cam>``: optional float ``(B, To, C, h, w)`` a frozen encoder's cached
  features of that camera, in place of its images (``vlaforge.data.features``)
- ``future.features.<cam>``: optional float ``(B, Tf, C, h, w)`` the same cache's features of the
  future frames (unaugmented view), beside ``future.images.<cam>``
- ``observation.image_is_pad.<cam>``: optional bool ``(B,)``: True where the sample's robot has no
  camera in that slot (its images are zeros; see ``vlaforge.core.cameras``); absent = all real

Observations at inference use the same keys with the same ``To`` axis
(``predict_action_chunk``) or without it (``select_action``).
"""

IMAGE_PREFIX = "observation.images."
FUTURE_PREFIX = "future.images."
FEATURE_PREFIX = "observation.features."
FUTURE_FEATURE_PREFIX = "future.features."
IMAGE_PAD_PREFIX = "observation.image_is_pad."
STATE = "observation.state"
ACTION = "action"
ACTION_IS_PAD = "action_is_pad"
OBS_IS_PAD = "observation.is_pad"
TASK = "task"
EMBODIMENT = "embodiment"
HAS_ACTION = "has_action"

MAX_DIM = 32
"""State and action are zero-padded to this width (as pi0, InternVLA-A1 and XR-1 do)."""


def image_keys(batch: dict) -> list[str]:
    """Camera keys of a batch or observation, sorted so every caller sees one order."""
    return sorted(k for k in batch if k.startswith(IMAGE_PREFIX))


def camera_name(key: str) -> str:
    return key[len(IMAGE_PREFIX):]
