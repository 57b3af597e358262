"""Exponential moving average of the trained weights.

Only the parameters the optimizer updates are shadowed (a frozen text encoder would
only double memory). Early on the decay ramps up as ``(1 + n) / (10 + n)`` so the
average is not dominated by the random initialisation.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, decay: float, param_ids: set[int] | None = None) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.shadow = {n: p.detach().clone() for n, p in model.named_parameters()
                       if param_ids is None or id(p) in param_ids}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        params = dict(model.named_parameters())
        shadow = list(self.shadow.values())
        torch._foreach_lerp_(shadow, [params[n].detach() for n in self.shadow], 1.0 - d)  # one call, not one per tensor

    @contextlib.contextmanager
    def applied(self, model: nn.Module) -> Iterator[nn.Module]:
        """Temporarily load the EMA weights into ``model`` (for saving or evaluating)."""
        params = dict(model.named_parameters())
        live = {n: params[n].detach().clone() for n in self.shadow}
        with torch.no_grad():
            for n, s in self.shadow.items():
                params[n].copy_(s)
        try:
            yield model
        finally:
            with torch.no_grad():
                for n, v in live.items():
                    params[n].copy_(v)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        missing = sorted(set(self.shadow) - set(state["shadow"]))
        if missing:
            raise ValueError(f"EMA state lacks {missing[:5]}; the checkpoint was trained with other parameters")
        self.decay, self.updates = state["decay"], state["updates"]
        for n, s in self.shadow.items():
            s.copy_(state["shadow"][n])
