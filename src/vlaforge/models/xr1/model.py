"""XR-1: UVMC (stage 1, ``uvmc.py``), a code-guided policy (stage 2), flow-matching post-training (stage 3).

The policy is a pi0-style mixture of two experts (``nn.mot``) under one blockwise mask::

    [ instruction | camera tokens of frame t | state | motion queries | vision queries per camera ]  "vlm", block 0
    [ action tokens (H) ]                                                                           "act", block 1

Stage 2 regresses (MSE) the motion queries' outputs onto the frozen UVMC motion codes of the chunk
(samples with actions) and each camera's vision queries onto that camera's UVMC vision codes of
(t, t+k) (samples whose frame t+k lies in the episode), plus flow matching on the actions
(tau ~ Beta(1.5, 1), velocity target, 10 Euler steps). Stage 3 keeps flow matching only. The prefix
(block 0) never sees the actions, so it is computed once per chunk at inference and cached.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from vlaforge.core.embodiment import EmbodimentSpec
from vlaforge.core.keys import (
    ACTION, ACTION_IS_PAD, EMBODIMENT, FUTURE_PREFIX, HAS_ACTION, IMAGE_PREFIX, MAX_DIM, STATE, TASK,
)
from vlaforge.core.normalize import Normalizer
from vlaforge.core.policy import Batch, Policy
from vlaforge.models.xr1.config import XR1Config
from vlaforge.models.xr1.uvmc import TIME_DIM, UVMC
from vlaforge.nn.attention import block_mask, segment_ids
from vlaforge.nn.embeddings import sinusoidal_embedding
from vlaforge.nn.encoders import CameraEncoders
from vlaforge.nn.flow import euler_sample, flow_target, interpolate, sample_time
from vlaforge.nn.mot import MoT, PrefixCache
from vlaforge.nn.text import build_text_encoder

FUTURE_IS_PAD = "future.is_pad"


class XR1Policy(Policy):
    config: XR1Config

    def __init__(self, config: XR1Config, normalizer: Normalizer, embodiments: Sequence[EmbodimentSpec]) -> None:
        super().__init__(config, normalizer, embodiments)
        c = config
        V, K = len(c.cameras), c.n_codes
        self.uvmc = UVMC(V, c.image_size, c.chunk_size, K, c.uvmc_width, c.uvmc_depth, c.uvmc_heads, c.code_dim,
                         c.codebook_size, c.commitment, c.shared_codebook, c.stem_channels)
        self.text = build_text_encoder(c.text_encoder)
        self.text_proj = nn.Linear(self.text.dim, c.vlm_width)
        self.text_embed = nn.Embedding(c.text_vocab, c.vlm_width) if c.text_vocab else None
        self._build_vision()
        self.state_in = nn.Linear(MAX_DIM, c.vlm_width)
        self.queries = nn.Parameter(torch.randn(1, K * (1 + V), c.vlm_width) * 0.02)  # motion, then per camera
        self.prefix_pos = nn.Parameter(torch.zeros(1, self.n_prefix, c.vlm_width))
        self.query_to_code = nn.Linear(c.vlm_width, c.code_dim)
        self.action_in = nn.Linear(MAX_DIM + TIME_DIM, c.act_width)
        self.act_pos = nn.Parameter(torch.zeros(1, c.chunk_size, c.act_width))
        self.action_out = nn.Linear(c.act_width, MAX_DIM)
        hidden = {e: h for e, h in (("vlm", c.vlm_mlp_hidden), ("act", c.act_mlp_hidden)) if h}
        self.mot = MoT({"vlm": c.vlm_width, "act": c.act_width}, c.depth, c.heads, c.head_dim, c.kv_heads,
                       c.mlp_ratio, hidden)
        for p in (self.prefix_pos, self.act_pos):
            nn.init.normal_(p, std=0.02)

    def _build_vision(self) -> None:
        c = self.config
        self.vision = CameraEncoders(c.cameras, c.vlm_width, c.image_size, c.vl_encoder, c.stem_channels, c.shift_pad,
                                     c.image_encoder, c.backbone_path, c.hf_vision)
        self.tokens_per_view = self.vision.tokens_per_view
        self.n_prefix = 1 + len(c.cameras) * self.tokens_per_view + 1 + c.n_codes * (1 + len(c.cameras))

    # ---- stages ------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "XR1Policy":
        super().train(mode)
        self.uvmc.train(mode and self.stage == "uvmc")  # frozen outside stage 1: no EMA codebook drift
        return self

    def set_stage(self, stage: str) -> None:
        super().set_stage(stage)
        self.train(self.training)

    def frozen_image_encoders(self) -> dict[str, nn.Module]:
        return self.vision.frozen()

    # ---- shared pieces -------------------------------------------------------------------------
    def _chunk_target(self, b: Batch, row: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalized chunk with pad steps zeroed (B, H, MAX_DIM) and the mask of its real entries."""
        x0 = self.normalizer.normalize(ACTION, b[ACTION], row).masked_fill(b[ACTION_IS_PAD][:, :, None], 0.0)
        mask = self.normalizer.mask(ACTION, row)[:, None, :] & ~b[ACTION_IS_PAD][:, :, None]
        return x0, mask

    def _prefix(self, b: Batch, row: torch.Tensor) -> torch.Tensor:
        c = self.config
        views = self.vision(b)  # V x (B, n, W), frame t
        dtype = views[0].dtype
        text = self.text_proj(self.text(b[TASK], device=views[0].device))[:, None].to(dtype)  # (B, 1, W)
        state = self.state_in(self.normalizer.normalize(STATE, b[STATE][:, -1], row).to(dtype))[:, None]
        q = self.queries.expand(len(b[TASK]), -1, -1).to(dtype)
        return torch.cat([text, *views, state, q], dim=1) + self.prefix_pos.to(dtype)  # (B, n_prefix, W)

    def _action_tokens(self, x_t: torch.Tensor, t: torch.Tensor, dtype) -> torch.Tensor:
        temb = sinusoidal_embedding(t, TIME_DIM, max_period=100.0)[:, None].expand(-1, x_t.shape[1], -1)
        return self.action_in(torch.cat([x_t, temb], dim=-1).to(dtype)) + self.act_pos.to(dtype)

    def _mask(self, n_prefix: int, n_act: int, device) -> torch.Tensor:
        return block_mask(segment_ids([n_prefix, n_act], device=device))

    # ---- training -------------------------------------------------------------------------------
    def forward(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        b = self.check_batch(batch, training=True)
        c = self.config
        row = self.normalizer.index(b[EMBODIMENT], len(b[TASK]))
        x0, act_mask = self._chunk_target(b, row)
        has = b[HAS_ACTION]
        future_ok = self._future_ok(b)
        if self.stage == "uvmc":
            frames = [(b[IMAGE_PREFIX + cam][:, -1], b[FUTURE_PREFIX + cam][:, 0]) for cam in c.cameras]
            state = self.normalizer.normalize(STATE, b[STATE][:, -1], row)
            return self.uvmc.loss(frames, future_ok, x0, act_mask, has, state, c.align_weight,
                                  c.vision_recon_weight, c.beta_a)
        prefix = self._prefix(b, row)
        tau = sample_time(x0.shape[0], "beta", device=x0.device, beta_a=c.beta_a)
        noise = torch.randn_like(x0)
        acts = self._action_tokens(interpolate(x0, noise, 1 - tau), 1 - tau, prefix.dtype)
        p_out, a_out = self.mot([("vlm", prefix), ("act", acts)], mask=self._mask(prefix.shape[1], acts.shape[1],
                                                                                  x0.device))
        v = self.action_out(a_out).float()
        m = act_mask & has[:, None, None]
        loss = ((v - flow_target(x0, noise, "velocity")) ** 2 * m).sum() / m.sum().clamp_min(1)
        logs = {"loss_flow": loss.item()}
        if self.stage == "pretrain" and c.code_loss_weight > 0:
            code_loss, code_logs = self._code_loss(p_out, b, x0 * act_mask, has, future_ok)
            loss = loss + c.code_loss_weight * code_loss
            logs.update(code_logs)
        logs["loss"] = loss.item()
        return loss, logs

    def _future_ok(self, b: Batch) -> torch.Tensor:
        pad = b.get(FUTURE_IS_PAD)
        B = len(b[TASK])
        return torch.ones(B, dtype=torch.bool) if pad is None else ~torch.as_tensor(pad)[:, 0].bool()

    def _code_loss(self, p_out: torch.Tensor, b: Batch, actions: torch.Tensor, has: torch.Tensor,
                   future_ok: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """MSE of the queries' outputs to the frozen UVMC codes (stop-gradient targets)."""
        c, K = self.config, self.config.n_codes
        q = self.query_to_code(p_out[:, -K * (1 + len(c.cameras)):]).float()  # (B, K * (1 + V), D)
        with torch.no_grad():
            motion = self.uvmc.encode_motion(actions).quantized  # (B, K, D)
            vision = [self.uvmc.encode_vision(b[IMAGE_PREFIX + cam][:, -1], b[FUTURE_PREFIX + cam][:, 0], i)[0]
                      .quantized for i, cam in enumerate(c.cameras)]
        err_m = ((q[:, :K] - motion) ** 2).mean(dim=(1, 2))  # (B,)
        err_v = torch.stack([((q[:, K * (i + 1):K * (i + 2)] - v) ** 2).mean(dim=(1, 2))
                             for i, v in enumerate(vision)], 1).mean(1)  # (B,)
        lm = (err_m * has).sum() / has.sum().clamp_min(1)
        lv = (err_v * future_ok).sum() / future_ok.sum().clamp_min(1)
        return lm + lv, {"loss_code_motion": lm.item(), "loss_code_vision": lv.item()}

    # ---- inference ---------------------------------------------------------------------------------
    @torch.no_grad()
    def predict_action_chunk(self, obs: Batch, generator: torch.Generator | None = None,
                             use_cache: bool = True) -> torch.Tensor:
        b = self.check_batch(obs, training=False)
        c = self.config
        B = len(b[TASK])
        row = self.normalizer.index(b[EMBODIMENT], B)
        prefix = self._prefix(b, row)
        dev = prefix.device
        gdev = generator.device if generator is not None else dev
        noise = torch.randn(B, c.chunk_size, MAX_DIM, generator=generator, device=gdev).to(dev)
        if use_cache:
            cache = PrefixCache()
            self.mot([("vlm", prefix)], cache=cache, store=True)  # block 0 sees only itself: full attention

            def velocity(x, t):
                return self.action_out(self.mot([("act", self._action_tokens(x, t, prefix.dtype))],
                                                cache=cache)[0]).float()
        else:
            mask = self._mask(prefix.shape[1], c.chunk_size, dev)

            def velocity(x, t):
                segs = [("vlm", prefix), ("act", self._action_tokens(x, t, prefix.dtype))]
                return self.action_out(self.mot(segs, mask=mask)[-1]).float()

        x0 = euler_sample(velocity, noise, c.num_inference_steps, "velocity")
        dims = {self.embodiments[n].action_dim for n in b[EMBODIMENT]}
        raw = self.normalizer.unnormalize(ACTION, x0, row, max(dims))
        return raw * self.normalizer.mask(ACTION, row)[:, None, : max(dims)]

    @torch.no_grad()
    def codes(self, batch: Batch) -> dict[str, torch.Tensor]:
        """UVMC code indices of a batch with frame t+k (and actions): ``vision`` (B, V, K), ``motion`` (B, K)."""
        b = self.check_batch(batch, training=True)
        c = self.config
        row = self.normalizer.index(b[EMBODIMENT], len(b[TASK]))
        x0, mask = self._chunk_target(b, row)
        out = {"vision": torch.stack([self.uvmc.encode_vision(b[IMAGE_PREFIX + cam][:, -1],
                                                              b[FUTURE_PREFIX + cam][:, 0], i)[0].indices
                                      for i, cam in enumerate(c.cameras)], 1)}
        out["motion"] = self.uvmc.encode_motion(x0 * mask).indices
        return out
