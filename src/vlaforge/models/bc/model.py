"""Behaviour cloning: per-camera image features + instruction + state -> an MLP -> a normalized chunk.

    tokens_c = encoder_c(image_c)            (B, N, token_dim) per camera and frame
    x = [flatten(tokens) | text | state]     (B, F)
    chunk = MLP(x).view(B, H, MAX_DIM)       normalized actions, padded dims masked in the loss

L1 (or MSE) over real action dims of steps inside the episode. Samples without actions
add nothing (BC has no action-free objective; its only stage requires actions).
"""

from __future__ import annotations

from typing import Sequence

import torch
from einops import rearrange
from torch import nn

from vlaforge.core.embodiment import EmbodimentSpec
from vlaforge.core.keys import (
    ACTION, ACTION_IS_PAD, EMBODIMENT, FEATURE_PREFIX, HAS_ACTION, IMAGE_PREFIX, MAX_DIM, STATE, TASK,
)
from vlaforge.core.normalize import Normalizer
from vlaforge.core.policy import Batch, Policy, decay_groups
from vlaforge.core.validate import select_rows
from vlaforge.models.bc.config import BCConfig
from vlaforge.nn.text import build_text_encoder


class BCPolicy(Policy):
    config: BCConfig

    def __init__(self, config: BCConfig, normalizer: Normalizer, embodiments: Sequence[EmbodimentSpec]) -> None:
        super().__init__(config, normalizer, embodiments)
        c = config
        self.text = build_text_encoder(c.text_encoder)
        self.encoders = nn.ModuleList(c.encoder.create(c.token_dim) for _ in c.cameras)
        n_tok = self.encoders[0].num_tokens(c.image_size)
        n_in = len(c.cameras) * c.n_obs_steps * n_tok * c.token_dim + c.text_dim
        n_in += c.n_obs_steps * MAX_DIM if c.use_state else 0
        self.text_proj = nn.Linear(self.text.dim, c.text_dim)
        layers: list[nn.Module] = []
        for i in range(c.depth):
            layers += [nn.Linear(n_in if i == 0 else c.hidden, c.hidden), nn.LayerNorm(c.hidden), nn.GELU(),
                       nn.Dropout(c.dropout)]
        self.mlp = nn.Sequential(*layers)
        self.head = nn.Linear(c.hidden, c.chunk_size * MAX_DIM)
        nn.init.zeros_(self.head.bias)

    # ---- optimisation ---------------------------------------------------------------
    def param_groups(self, weight_decay: float) -> list[dict]:
        """A fine-tuned pretrained encoder trains at its ``lr_scale``; everything else at 1."""
        groups: list[dict] = []
        for enc in self.encoders:
            groups += enc.param_groups(weight_decay) if hasattr(enc, "param_groups") else \
                decay_groups(enc.named_parameters(), weight_decay)
        rest = [(n, p) for n, p in self.named_parameters() if not n.startswith("encoders.")]
        return [g for g in groups if g["params"]] + decay_groups(rest, weight_decay)

    def frozen_image_encoders(self) -> dict[str, nn.Module]:
        return {IMAGE_PREFIX + cam: enc for enc, cam in zip(self.encoders, self.config.cameras)
                if getattr(enc, "freeze", False) and hasattr(enc, "tokens")}

    # ---- network --------------------------------------------------------------------
    def _features(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, F) head input and (B,) normalizer rows."""
        c = self.config
        B = batch[TASK].__len__()
        row = self.normalizer.index(batch[EMBODIMENT], B)
        feats = []
        for enc, cam in zip(self.encoders, c.cameras):
            cached = batch.get(FEATURE_PREFIX + cam)  # (B, To, C, h, w) from the feature cache, when training
            if cached is not None:
                tok = enc.tokens(rearrange(cached, "b t c h w -> (b t) c h w"))  # (B*To, N, token_dim)
            else:
                tok = enc(rearrange(batch[IMAGE_PREFIX + cam], "b t c h w -> (b t) c h w"))
            feats.append(rearrange(tok, "(b t) n d -> b (t n d)", b=B))  # (B, To * N * token_dim)
        feats.append(self.text_proj(self.text(batch[TASK], device=feats[0].device)).to(feats[0].dtype))
        if c.use_state:
            state = self.normalizer.normalize(STATE, batch[STATE], row)  # (B, To, MAX_DIM)
            feats.append(state.flatten(1).to(feats[0].dtype))
        return torch.cat(feats, dim=1), row

    def _chunk(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        x, row = self._features(batch)
        y = self.head(self.mlp(x)).view(x.shape[0], self.config.chunk_size, MAX_DIM)  # (B, H, MAX_DIM)
        return y.float(), row

    # ---- training -------------------------------------------------------------------
    def forward(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        batch = self.check_batch(batch, training=True)
        has = batch[HAS_ACTION]
        if not bool(has.all()):
            if not bool(has.any()):
                zero = sum(p.sum() for p in self.head.parameters()) * 0.0
                return zero, {"loss": 0.0}
            batch = select_rows(batch, has)
        pred, row = self._chunk(batch)
        target = self.normalizer.normalize(ACTION, batch[ACTION], row)  # (B, H, MAX_DIM)
        mask = self.normalizer.mask(ACTION, row)[:, None, :] & ~batch[ACTION_IS_PAD][:, :, None]
        err = (pred - target).abs() if self.config.loss == "l1" else (pred - target) ** 2
        loss = (err * mask).sum() / mask.sum().clamp_min(1)
        return loss, {"loss": loss.item()}

    # ---- inference ------------------------------------------------------------------
    @torch.no_grad()
    def predict_action_chunk(self, obs: Batch, generator: torch.Generator | None = None) -> torch.Tensor:
        """Raw-unit (B, H, Da); deterministic (``generator`` is accepted and unused)."""
        obs = self.check_batch(obs, training=False)
        pred, row = self._chunk(obs)
        dims = {self.embodiments[n].action_dim for n in obs[EMBODIMENT]}
        raw = self.normalizer.unnormalize(ACTION, pred, row, max(dims))  # (B, H, Da)
        return raw * self.normalizer.mask(ACTION, row)[:, None, : max(dims)]


