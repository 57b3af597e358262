"""Camera slots: robots with different cameras behind one policy.

A policy's ``cameras`` are its input slots (one stem or token group each). A robot whose
cameras have other names reaches those slots through the policy's ``camera_map``, a tuple of
``"camera=slot"`` entries saved with the config, e.g. for Meta-World's Sawyer and ALOHA::

    cameras = ("main", "wrist", "wrist2")
    camera_map = ("corner2=main", "gripperPOV=wrist", "top=main", "left_wrist=wrist", "right_wrist=wrist2")

A slot that none of a sample's robot's cameras map to is *absent* for that sample: its images
are zeros and ``observation.image_is_pad.<slot>`` is True, so a family can mask its tokens
(pi0 does the same with its ``image_masks``). A camera that the robot has and the map sends to
a slot is never silently padded: missing it is an error.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from vlaforge.core.errors import ConfigError


def parse_camera_map(entries: Iterable[str]) -> dict[str, str]:
    """``("corner2=main", ...)`` -> ``{"corner2": "main", ...}``; malformed or repeated entries are errors."""
    out: dict[str, str] = {}
    for e in entries:
        src, sep, slot = str(e).partition("=")
        src, slot = src.strip(), slot.strip()
        if not sep or not src or not slot or "=" in slot:
            raise ConfigError(f"camera_map entry {e!r}: write 'camera=slot', e.g. 'top=main'")
        if src in out and out[src] != slot:
            raise ConfigError(f"camera_map sends camera {src!r} to two slots ({out[src]!r} and {slot!r}); keep one")
        out[src] = slot
    return out


def slot_of(camera: str, camera_map: Mapping[str, str]) -> str:
    """The slot a camera feeds (itself when the map does not name it)."""
    return camera_map.get(camera, camera)


def robot_slots(robot_cameras: Sequence[str], slots: Sequence[str], camera_map: Mapping[str, str]) -> dict[str, str]:
    """Slot -> the robot's camera that feeds it, for the slots this robot has."""
    out: dict[str, str] = {}
    for cam in robot_cameras:
        slot = slot_of(cam, camera_map)
        if slot in slots:
            if slot in out:
                raise ConfigError(f"cameras {out[slot]!r} and {cam!r} of one robot both map to slot {slot!r}; "
                                  "give each its own slot in policy.camera_map")
            out[slot] = cam
    return out
