"""InternVLA-A1 (arXiv 2601.02456): understanding -> foresight generation -> action, one masked attention.

Token streams (all concatenated for attention, each with its own expert weights; ``nn.mot``)::

    [ understanding: camera tokens of frame t + instruction ]      block 0, bidirectional
    [ generation: latent tokens of frames t-m and t, per view ]     block 1, sees 0 and itself
    [ state token ]                                                 block 2, sees 0, 1, itself
    [ action tokens (H) ]                                           block 3, sees everything

Generation: the frozen autoencoder's latents of t-m and t are compressed by a strided conv to a
few tokens per image; the expert's outputs are averaged over the two frames, projected and
deconvolved back to the latent grid, and regressed (MSE, stop-gradient target) onto the latent
of frame t+m. Action: flow matching with tau ~ Beta(1.5, 1), x = (1 - tau) eps + tau a, velocity
target, 10 Euler steps; the prefix (blocks 0-2) is computed once per chunk and cached.

Loss = action + gen_loss_weight x generation. Action-free samples (``has_action`` False) train
the generation loss only; samples whose frame t+m lies past the episode end add no foresight loss.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from einops import rearrange
from torch import nn

from vlaforge.core.embodiment import EmbodimentSpec
from vlaforge.core.keys import (
    ACTION, ACTION_IS_PAD, EMBODIMENT, FUTURE_PREFIX, HAS_ACTION, IMAGE_PREFIX, MAX_DIM, STATE, TASK,
)
from vlaforge.core.normalize import Normalizer
from vlaforge.core.policy import Batch, Policy
from vlaforge.models.internvla_a1.config import InternVLAA1Config
from vlaforge.nn.attention import block_mask, segment_ids
from vlaforge.nn.embeddings import sinusoidal_embedding
from vlaforge.nn.encoders import CameraEncoders
from vlaforge.nn.flow import euler_sample, flow_target, interpolate, sample_time
from vlaforge.nn.mot import MoT, PrefixCache
from vlaforge.nn.text import build_text_encoder
from vlaforge.tokenizers.latent_ae import LatentAE

FUTURE_IS_PAD = "future.is_pad"
TIME_DIM = 32


class Prefix(NamedTuple):
    segments: list[tuple[str, torch.Tensor]]  # [("und", (B, Nu, Wu)), ("gen", (B, Ng, Wg))?, ("act", state (B, 1, Wa))]
    row: torch.Tensor  # (B,) normalizer rows


class InternVLAA1Policy(Policy):
    config: InternVLAA1Config

    def __init__(self, config: InternVLAA1Config, normalizer: Normalizer, embodiments: Sequence[EmbodimentSpec]) -> None:
        super().__init__(config, normalizer, embodiments)
        c = config
        self.text = build_text_encoder(c.text_encoder)
        self.text_proj = nn.Linear(self.text.dim, c.n_text_tokens * c.und_width)
        self.text_embed = nn.Embedding(c.text_vocab, c.und_width) if c.text_vocab else None
        self._build_vision()
        self.und_pos = nn.Parameter(torch.zeros(1, self.n_und, c.und_width))
        self.ae = LatentAE(c.ae)
        k = c.ae.grid // c.gen_grid
        self.gen_in = nn.Conv2d(c.ae.latent_dim, c.gen_width, kernel_size=k, stride=k)
        self.gen_pos = nn.Parameter(torch.zeros(1, len(c.cameras) * 2 * c.gen_tokens_per_image, c.gen_width))
        self.gen_proj = nn.Linear(c.gen_width, c.gen_width)
        self.gen_out = nn.ConvTranspose2d(c.gen_width, c.ae.latent_dim, kernel_size=k, stride=k)
        self.state_in = nn.Linear(MAX_DIM, c.act_width)
        self.action_in = nn.Linear(MAX_DIM + TIME_DIM, c.act_width)
        self.act_pos = nn.Parameter(torch.zeros(1, 1 + c.chunk_size, c.act_width))
        self.action_out = nn.Linear(c.act_width, MAX_DIM)
        hidden = {e: h for e, h in (("und", c.und_mlp_hidden), ("gen", c.gen_mlp_hidden), ("act", c.act_mlp_hidden)) if h}
        widths = {"und": c.und_width, "act": c.act_width, **({"gen": c.gen_width} if c.use_generation else {})}
        self.mot = MoT(widths, c.depth, c.heads, c.head_dim, c.kv_heads, c.mlp_ratio, hidden)
        for p in (self.und_pos, self.gen_pos, self.act_pos):
            nn.init.normal_(p, std=0.02)

    def _build_vision(self) -> None:
        c = self.config
        self.vision = CameraEncoders(c.cameras, c.und_width, c.image_size, c.vl_encoder, c.stem_channels, c.shift_pad,
                                     c.image_encoder, c.backbone_path, c.hf_vision)
        self.tokens_per_view = self.vision.tokens_per_view
        self.n_und = len(c.cameras) * self.tokens_per_view + c.n_text_tokens

    # ---- stages ------------------------------------------------------------------------
    def set_stage(self, stage: str) -> None:
        super().set_stage(stage)
        self.ae.train(self.training and stage == "autoencoder")

    def train(self, mode: bool = True) -> "InternVLAA1Policy":
        super().train(mode)
        self.ae.train(mode and self.stage == "autoencoder")  # frozen outside its stage: no BatchNorm-like drift
        return self

    def frozen_image_encoders(self) -> dict[str, nn.Module]:
        return self.vision.frozen()

    # ---- token streams ----------------------------------------------------------------------
    def _und_tokens(self, b: Batch) -> torch.Tensor:
        c = self.config
        views = self.vision(b)  # V x (B, n, W), frame t
        text = self.text_proj(self.text(b[TASK], device=views[0].device))  # (B, P * W)
        text = text.view(text.shape[0], c.n_text_tokens, c.und_width).to(views[0].dtype)
        return torch.cat(views + [text], dim=1) + self.und_pos.to(views[0].dtype)  # (B, Nu, W)

    @torch.no_grad()
    def latents(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 3, H, W) -> frozen autoencoder latents (N, C, g, g), fp32."""
        return self.ae.encode(images).float()

    def _gen_tokens(self, b: Batch) -> torch.Tensor:
        c = self.config
        frames = torch.stack([b[IMAGE_PREFIX + cam] for cam in c.cameras], dim=1)  # (B, V, 2, 3, H, W): t-m, t
        z = self.latents(rearrange(frames, "b v t c h w -> (b v t) c h w"))  # (B*V*2, C, g, g)
        tok = self.gen_in(z)  # (B*V*2, W, s, s)
        tok = rearrange(tok, "(b v t) w s1 s2 -> b (v t s1 s2) w", v=len(c.cameras), t=2)  # (B, V*2*s*s, W)
        return tok + self.gen_pos.to(tok.dtype)

    def _prefix(self, b: Batch) -> Prefix:
        B = len(b[TASK])
        row = self.normalizer.index(b[EMBODIMENT], B)
        segments = [("und", self._und_tokens(b))]
        if self.config.use_generation:
            segments.append(("gen", self._gen_tokens(b)))
        state = self.normalizer.normalize(STATE, b[STATE][:, -1], row)  # (B, MAX_DIM)
        s = self.state_in(state.to(segments[0][1].dtype))[:, None] + self.act_pos[:, :1].to(segments[0][1].dtype)
        segments.append(("act", s))  # the state token runs through the action expert
        return Prefix(segments, row)

    def _action_tokens(self, x_t: torch.Tensor, t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        temb = sinusoidal_embedding(t, TIME_DIM, max_period=100.0)  # (B, TIME_DIM)
        feats = torch.cat([x_t, temb[:, None].expand(-1, x_t.shape[1], -1)], dim=-1).to(dtype)
        return self.action_in(feats) + self.act_pos[:, 1:].to(dtype)  # (B, H, W)

    def _mask(self, lengths: list[int], device) -> torch.Tensor:
        return block_mask(segment_ids(lengths, device=device))  # (N, N): earlier blocks never see later ones

    def foresight(self, gen_out: torch.Tensor) -> torch.Tensor:
        """Generation outputs (B, V*2*s*s, W) -> predicted latents of frame t+m (B*V, C, g, g)."""
        c = self.config
        s = c.gen_grid
        x = rearrange(gen_out, "b (v t s1 s2) w -> b v t s1 s2 w", v=len(c.cameras), t=2, s1=s, s2=s)
        x = self.gen_proj(x.mean(dim=2))  # (B, V, s, s, W): averaged over t-m and t
        return self.gen_out(rearrange(x, "b v s1 s2 w -> (b v) w s1 s2").float())  # (B*V, C, g, g)

    # ---- training ---------------------------------------------------------------------------
    def forward(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        b = self.check_batch(batch, training=True)
        if self.stage == "autoencoder":
            return self.ae(b)
        prefix = self._prefix(b)
        x0 = self.normalizer.normalize(ACTION, b[ACTION], prefix.row).masked_fill(b[ACTION_IS_PAD][:, :, None], 0.0)
        tau = sample_time(x0.shape[0], "beta", device=x0.device, beta_a=self.config.beta_a)  # ~ Beta(1.5, 1)
        t = 1.0 - tau  # nn.flow's time: 1 = noise; x = (1 - tau) eps + tau a
        noise = torch.randn_like(x0)
        dtype = prefix.segments[0][1].dtype
        acts = self._action_tokens(interpolate(x0, noise, t), t, dtype)
        segs = prefix.segments + [("act", acts)]
        outs = self.mot(segs, mask=self._mask([x.shape[1] for _, x in segs], x0.device))
        v_pred = self.action_out(outs[-1]).float()  # (B, H, MAX_DIM)
        a_loss = self._action_loss(v_pred, flow_target(x0, noise, "velocity"), b, prefix.row)
        logs = {"loss_action": a_loss.item()}
        loss = a_loss
        if self.config.use_generation:
            g_loss = self._gen_loss(outs[1], b)
            loss = loss + self.config.gen_loss_weight * g_loss
            logs["loss_gen"] = g_loss.item()
        logs["loss"] = loss.item()
        return loss, logs

    def _action_loss(self, pred: torch.Tensor, target: torch.Tensor, b: Batch, row: torch.Tensor) -> torch.Tensor:
        m = (self.normalizer.mask(ACTION, row)[:, None, :] & ~b[ACTION_IS_PAD][:, :, None]
             & b[HAS_ACTION][:, None, None])  # (B, H, MAX_DIM): real dims, inside the episode, labelled samples
        return ((pred - target) ** 2 * m).sum() / m.sum().clamp_min(1)

    def _gen_loss(self, gen_out: torch.Tensor, b: Batch) -> torch.Tensor:
        c = self.config
        future = torch.stack([b[FUTURE_PREFIX + cam][:, 0] for cam in c.cameras], dim=1)  # (B, V, 3, H, W)
        target = self.latents(future.flatten(0, 1))  # (B*V, C, g, g), stop-gradient
        err = ((self.foresight(gen_out) - target) ** 2).mean(dim=(1, 2, 3)).view(-1, len(c.cameras))  # (B, V)
        pad = b.get(FUTURE_IS_PAD)
        keep = torch.ones(err.shape[0], dtype=torch.bool, device=err.device) if pad is None else ~pad[:, 0].bool()
        return (err * keep[:, None]).sum() / (keep.sum() * len(c.cameras)).clamp_min(1)

    # ---- inference ------------------------------------------------------------------------
    @torch.no_grad()
    def predict_action_chunk(self, obs: Batch, generator: torch.Generator | None = None,
                             use_cache: bool | None = None) -> torch.Tensor:
        """Raw-unit actions (B, H, Da) from 10 Euler steps; the prefix is cached unless ``use_cache=False``."""
        b = self.check_batch(obs, training=False)
        prefix = self._prefix(b)
        B, H, dev = len(b[TASK]), self.config.chunk_size, prefix.row.device
        dtype = prefix.segments[0][1].dtype
        gdev = generator.device if generator is not None else dev
        noise = torch.randn(B, H, MAX_DIM, generator=generator, device=gdev).to(dev)
        lengths = [x.shape[1] for _, x in prefix.segments]
        cache_on = self.config.prefix_cache if use_cache is None else use_cache
        if cache_on:
            cache = PrefixCache()
            self.mot(prefix.segments, mask=self._mask(lengths, dev), cache=cache, store=True)

            def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
                out = self.mot([("act", self._action_tokens(x, t, dtype))], cache=cache)[0]
                return self.action_out(out).float()
        else:
            mask = self._mask(lengths + [H], dev)

            def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
                segs = prefix.segments + [("act", self._action_tokens(x, t, dtype))]
                return self.action_out(self.mot(segs, mask=mask)[-1]).float()

        x0 = euler_sample(velocity, noise, self.config.num_inference_steps, "velocity")  # (B, H, MAX_DIM)
        dims = {self.embodiments[n].action_dim for n in b[EMBODIMENT]}
        raw = self.normalizer.unnormalize(ACTION, x0, prefix.row, max(dims))
        return raw * self.normalizer.mask(ACTION, prefix.row)[:, None, : max(dims)]

    @torch.no_grad()
    def predict_future(self, obs: Batch) -> dict[str, torch.Tensor]:
        """The foresight: predicted latents of frame t+m (``future.latent`` (B, V, C, g, g)) and their
        decoded pixels (``future.images.<cam>`` uint8 (B, 1, 3, H, W))."""
        if not self.config.use_generation:
            raise RuntimeError("this InternVLA-A1 was built without the generation expert (use_generation=False)")
        b = self.check_batch(obs, training=False)
        prefix = self._prefix(b)
        lengths = [x.shape[1] for _, x in prefix.segments]
        outs = self.mot(prefix.segments, mask=self._mask(lengths, prefix.row.device))
        lat = self.foresight(outs[1])  # (B*V, C, g, g)
        V = len(self.config.cameras)
        pix = self.ae.to_uint8(self.ae.decode(lat)).view(-1, V, 3, *self.config.image_size)
        out = {"future.latent": lat.view(-1, V, *lat.shape[1:])}
        for v, cam in enumerate(self.config.cameras):
            out[FUTURE_PREFIX + cam] = pix[:, v:v + 1]
        return out


