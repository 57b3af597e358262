"""Batch and observation validation, once for every family and for the server.

``check_batch`` turns what a user, loader or server hands a policy into the batch
contract of ``vlaforge.core.keys`` or raises a ``BatchError`` that names the key, what
was expected and what was received. It fills the defaults a policy may rely on
(``embodiment`` when the policy knows one robot, ``task`` as a list, ``has_action``,
``action_is_pad``, ``observation.is_pad``) and never mutates its input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch

from vlaforge.core.cameras import parse_camera_map, robot_slots
from vlaforge.core.embodiment import EmbodimentSpec
from vlaforge.core.errors import BatchError
from vlaforge.core.keys import (
    ACTION, ACTION_IS_PAD, EMBODIMENT, FEATURE_PREFIX, HAS_ACTION, IMAGE_PAD_PREFIX, IMAGE_PREFIX, OBS_IS_PAD, STATE,
    TASK, image_keys,
)

Batch = dict[str, Any]


@dataclass(frozen=True)
class BatchSpec:
    """What a policy reads: cameras, frames per sample, image size, robots, chunk length."""

    family: str
    cameras: tuple[str, ...]
    n_obs_steps: int
    image_size: tuple[int, int]
    embodiments: Mapping[str, EmbodimentSpec]
    chunk_size: int
    needs_state: bool = True
    variable_obs_steps: bool = False
    """Accept any number of frames (a world model reads whole clips)."""
    camera_map: tuple[str, ...] = ()
    """``"camera=slot"`` entries (``vlaforge.core.cameras``); empty: cameras are the slots."""


def describe(v: Any) -> str:
    """Short type/shape description for error messages."""
    if torch.is_tensor(v):
        return f"tensor {v.dtype} of shape {tuple(v.shape)}"
    if hasattr(v, "shape") and hasattr(v, "dtype"):
        return f"array {v.dtype} of shape {tuple(v.shape)}"
    if isinstance(v, (list, tuple)):
        return f"{type(v).__name__} of {len(v)}"
    return type(v).__name__


def check_batch(batch: Mapping[str, Any], spec: BatchSpec, training: bool) -> Batch:
    """Validate ``batch`` against ``spec``; return a copy with defaults filled (see module doc)."""
    if not isinstance(batch, Mapping):
        raise BatchError(f"{spec.family}: a batch must be a dict of batch-contract keys", expected="dict",
                         received=describe(batch))
    out = dict(batch)
    if spec.camera_map:
        _to_slots(out, spec)
    B, To = _check_images(out, spec)
    out[EMBODIMENT] = _embodiments(batch, spec, B)
    if spec.needs_state:
        out[STATE] = _check_state(batch, spec, out[EMBODIMENT], B, To)
    out[TASK] = _tasks(batch, spec, B)
    pad = batch.get(OBS_IS_PAD)
    out[OBS_IS_PAD] = torch.zeros(B, To, dtype=torch.bool) if pad is None else torch.as_tensor(pad).bool()
    if training:
        _check_actions(out, spec, B)
    return out


def _check_images(out: Batch, spec: BatchSpec) -> tuple[int, int]:
    B = To = None
    for cam in spec.cameras:
        key = IMAGE_PREFIX + cam
        if key not in out and FEATURE_PREFIX + cam in out:  # a frozen encoder's cached features instead
            f = out[FEATURE_PREFIX + cam]
            B, To = f.shape[0], f.shape[1]
            continue
        if key not in out:
            raise BatchError(f"{spec.family}: observation lacks {key!r} (camera {cam!r}); rename the keys or set "
                             "policy.cameras to the dataset's", key=key, expected=f"cameras {list(spec.cameras)}",
                             received=f"{image_keys(out)}")
        x = out[key]
        if not torch.is_tensor(x):
            raise BatchError(f"{spec.family}: {key!r} must be a torch tensor", key=key,
                             expected="uint8 tensor (B, To, 3, H, W)", received=describe(x))
        if x.dim() == 4 and (spec.n_obs_steps == 1 or spec.variable_obs_steps):
            x = x.unsqueeze(1)  # (B, 1, 3, H, W)
        t_ok = spec.variable_obs_steps or (x.dim() == 5 and x.shape[1] == spec.n_obs_steps)
        if x.dim() != 5 or x.shape[2] != 3 or not t_ok:
            raise BatchError(f"{spec.family}: bad image shape for {key!r}", key=key,
                             expected=f"(B, {spec.n_obs_steps}, 3, H, W) with n_obs_steps={spec.n_obs_steps}",
                             received=describe(x))
        if tuple(x.shape[-2:]) != tuple(spec.image_size):
            raise BatchError(f"{spec.family}: {key!r} has the wrong size; resize the images or rebuild the policy "
                             "with policy.image_size", key=key, expected=f"{tuple(spec.image_size)} pixels",
                             received=f"{tuple(x.shape[-2:])}")
        if x.dtype != torch.uint8 and not x.is_floating_point():
            raise BatchError(f"{spec.family}: {key!r} has dtype {x.dtype}", key=key,
                             expected="uint8 (0..255) or float in [0, 1]", received=describe(x))
        if B is not None and (x.shape[0], x.shape[1]) != (B, To):
            raise BatchError(f"{spec.family}: cameras disagree on batch size or frames", key=key,
                             expected=f"(B, To) = ({B}, {To})", received=describe(x))
        B, To = x.shape[0], x.shape[1]
        out[key] = x
    if B is None:  # a policy without cameras: the state sets the batch size
        s = out.get(STATE)
        if s is None:
            raise BatchError(f"{spec.family}: batch has neither camera frames nor {STATE!r}", key=STATE)
        B, To = s.shape[0], (s.shape[1] if s.dim() == 3 else 1)
    return B, To


def _to_slots(out: Batch, spec: BatchSpec) -> None:
    """Rename a robot's cameras to the policy's slots and fill the slots the sample's robot lacks
    with zero images flagged in ``observation.image_is_pad.<slot>`` (``vlaforge.core.cameras``)."""
    cmap = parse_camera_map(spec.camera_map)
    for key in list(out):
        for prefix in (IMAGE_PREFIX, FEATURE_PREFIX, IMAGE_PAD_PREFIX):
            cam = key[len(prefix):] if key.startswith(prefix) else None
            slot = cmap.get(cam) if cam else None
            if slot and slot != cam and key in out:
                if prefix + slot in out:
                    raise BatchError(f"{spec.family}: both {key!r} and {prefix + slot!r} fill camera slot {slot!r}; "
                                     "send one", key=key, expected=f"one camera per slot of {list(spec.cameras)}",
                                     received=f"{sorted(k for k in out if k.startswith(prefix))}")
                out[prefix + slot] = out.pop(key)
    missing = [c for c in spec.cameras if IMAGE_PREFIX + c not in out and FEATURE_PREFIX + c not in out]
    if not missing:
        return
    ref = next((out[IMAGE_PREFIX + c] for c in spec.cameras if IMAGE_PREFIX + c in out), None)
    if ref is None or not torch.is_tensor(ref) or ref.dim() not in (4, 5):
        return  # nothing to pad from: _check_images names the missing camera
    names = out.get(EMBODIMENT)
    if names is None and len(spec.embodiments) == 1:
        names = [next(iter(spec.embodiments))] * ref.shape[0]
    names = [names] * ref.shape[0] if isinstance(names, str) else list(names or [])
    for slot in missing:
        for name in sorted(set(names)):
            robot = spec.embodiments.get(name)
            has = robot_slots(robot.cameras, spec.cameras, cmap) if robot is not None else {}
            if slot in has:
                raise BatchError(f"{spec.family}: observation lacks {IMAGE_PREFIX + has[slot]!r}, robot {name!r}'s "
                                 f"camera for slot {slot!r}", key=IMAGE_PREFIX + has[slot],
                                 expected=f"cameras {sorted(has.values())} of {name!r}", received=f"{image_keys(out)}")
        if not names:
            return
        out[IMAGE_PREFIX + slot] = torch.zeros(*ref.shape[:-2], *spec.image_size, dtype=torch.uint8,
                                               device=ref.device)
        out[IMAGE_PAD_PREFIX + slot] = torch.ones(ref.shape[0], dtype=torch.bool, device=ref.device)


def _embodiments(batch: Mapping[str, Any], spec: BatchSpec, B: int) -> list[str]:
    names = batch.get(EMBODIMENT)
    if names is None:
        if len(spec.embodiments) != 1:
            raise BatchError(f"{spec.family}: batch lacks {EMBODIMENT!r} and the policy knows several robots; "
                             "say which one", key=EMBODIMENT, expected=f"one of {sorted(spec.embodiments)}",
                             received="nothing")
        return [next(iter(spec.embodiments))] * B
    names = [names] * B if isinstance(names, str) else list(names)
    unknown = sorted(set(names) - set(spec.embodiments))
    if unknown or len(names) != B:
        raise BatchError(f"{spec.family}: unknown embodiment(s) {unknown} (fine-tune on that robot's data first)"
                         if unknown else f"{spec.family}: {EMBODIMENT!r} needs one name per sample", key=EMBODIMENT,
                         expected=f"{B} names from {sorted(spec.embodiments)}", received=f"{names[:4]}")
    return names


def _check_state(batch: Mapping[str, Any], spec: BatchSpec, names: list[str], B: int, To: int) -> torch.Tensor:
    if STATE not in batch:
        raise BatchError(f"{spec.family}: batch lacks {STATE!r} (proprioception); it is required", key=STATE,
                         expected="float tensor (B, To, Ds)", received="nothing")
    s = batch[STATE]
    if not torch.is_tensor(s) or not s.is_floating_point():
        raise BatchError(f"{spec.family}: {STATE!r} must be a float tensor", key=STATE,
                         expected="float tensor (B, To, Ds)", received=describe(s))
    if s.dim() == 2 and To == 1:
        s = s.unsqueeze(1)  # (B, 1, Ds)
    widths = {spec.embodiments[n].state_dim for n in names}
    if s.dim() == 3 and s.shape[-1] == 0:  # action-free video carries no proprioception: zeros
        s = s.new_zeros(B, To, max(widths))
    if s.dim() != 3 or s.shape[:2] != (B, To):
        raise BatchError(f"{spec.family}: bad {STATE!r} shape", key=STATE, expected=f"({B}, {To}, Ds)",
                         received=describe(s))
    if s.shape[-1] < max(widths) or (len(widths) == 1 and s.shape[-1] != max(widths)):
        raise BatchError(f"{spec.family}: {STATE!r} width does not match the embodiment", key=STATE,
                         expected=f"state_dim {sorted(widths)} ({sorted(set(names))})", received=describe(s))
    if not bool(torch.isfinite(s).all()):
        raise BatchError(f"{spec.family}: {STATE!r} has non-finite values", key=STATE, expected="finite values",
                         received=f"{int((~torch.isfinite(s)).sum())} NaN/inf entries")
    return s


def _tasks(batch: Mapping[str, Any], spec: BatchSpec, B: int) -> list[str]:
    if TASK not in batch:
        raise BatchError(f"{spec.family}: batch lacks {TASK!r} (the instruction text)", key=TASK,
                         expected=f"a list of {B} strings", received="nothing")
    t = batch[TASK]
    tasks = [t] * B if isinstance(t, str) else list(t)
    if len(tasks) != B or not all(isinstance(x, str) for x in tasks):
        raise BatchError(f"{spec.family}: bad {TASK!r}", key=TASK, expected=f"a list of {B} strings",
                         received=describe(t))
    return tasks


def _check_actions(out: Batch, spec: BatchSpec, B: int) -> None:
    has = out.get(HAS_ACTION)
    out[HAS_ACTION] = torch.ones(B, dtype=torch.bool) if has is None else torch.as_tensor(has).bool()
    if not bool(out[HAS_ACTION].any()):
        return
    if ACTION not in out:
        raise BatchError(f"{spec.family}: training batch lacks {ACTION!r}", key=ACTION,
                         expected=f"float tensor (B, {spec.chunk_size}, Da)", received="nothing")
    a = out[ACTION]
    if not torch.is_tensor(a) or a.dim() != 3 or a.shape[:2] != (B, spec.chunk_size):
        raise BatchError(f"{spec.family}: bad {ACTION!r} shape", key=ACTION,
                         expected=f"({B}, chunk_size={spec.chunk_size}, Da)", received=describe(a))
    rows = out[HAS_ACTION]
    widths = {spec.embodiments[n].action_dim for n, h in zip(out[EMBODIMENT], rows.tolist()) if h}
    if a.shape[-1] < max(widths) or (len(widths) == 1 and a.shape[-1] != max(widths)):
        raise BatchError(f"{spec.family}: {ACTION!r} width does not match the embodiment", key=ACTION,
                         expected=f"action_dim {sorted(widths)}", received=describe(a))
    if not bool(torch.isfinite(a[rows]).all()):
        raise BatchError(f"{spec.family}: {ACTION!r} has non-finite values", key=ACTION, expected="finite values",
                         received=f"{int((~torch.isfinite(a[rows])).sum())} NaN/inf entries")
    pad = out.get(ACTION_IS_PAD)
    out[ACTION_IS_PAD] = torch.zeros(a.shape[:2], dtype=torch.bool, device=a.device) if pad is None else pad.bool()


def select_rows(batch: Batch, keep: torch.Tensor) -> Batch:
    """The rows of a batch where ``keep`` (B,) is True, tensors and per-sample lists alike."""
    idx = keep.nonzero().flatten()
    out = {}
    for k, v in batch.items():
        if torch.is_tensor(v) and v.dim() > 0 and v.shape[0] == keep.shape[0]:
            out[k] = v[idx.to(v.device)]
        elif isinstance(v, (list, tuple)) and len(v) == keep.shape[0]:
            out[k] = [v[i] for i in idx.tolist()]
        else:
            out[k] = v
    return out
