"""UniVLA with task-centric latent actions: LAM (stages 1-2), latent policy (3), policy + action decoder (4).

LAM, on frozen features f_t, f_t+k (4x4 tokens per frame of the first camera)::

    stage 1: enc([q_irr | text | f_t | f_t+k]) -> VQ_irr -> z_irr;   dec([f_t | z_irr | text]) -> f_t+k
    stage 2: VQ_irr frozen; enc([q_cen | f_t | f_t+k]) -> VQ_cen -> z_cen (no language);
             dec([f_t | z_irr | z_cen]) -> f_t+k          (z_cen must carry what language cannot)

Policy: [text | camera tokens of frame t | previous latents (LAM on t-k, t) | 4 latent slots] ->
transformer -> 16-way logits per slot (cross-entropy against the LAM's task-centric codes of t, t+k).
Action decoder (per embodiment): a learned query attends over the visual and latent-slot states ->
linear -> (12 x MAX_DIM) chunk, L1 on q01/q99-normalized actions. ``select_action`` blends the
overlapping chunks that cover the current step with weights exp(-0.1 i), i = 0 the oldest (ACT).
"""

from __future__ import annotations

from collections import deque
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from vlaforge.core.embodiment import EmbodimentSpec
from vlaforge.core.keys import (
    ACTION, ACTION_IS_PAD, EMBODIMENT, FEATURE_PREFIX, FUTURE_FEATURE_PREFIX, FUTURE_PREFIX, HAS_ACTION, IMAGE_PREFIX,
    MAX_DIM, TASK,
)
from vlaforge.core.normalize import Normalizer
from vlaforge.core.policy import Batch, Policy
from vlaforge.models.univla_latent.config import UniVLALatentConfig
from vlaforge.nn.text import build_text_encoder
from vlaforge.nn.transformer import Transformer
from vlaforge.nn.vq import Quantizer, usage

FUTURE_IS_PAD = "future.is_pad"


class LAM(nn.Module):
    """The latent action model over frozen feature maps (B, C, h, w) of two frames."""

    def __init__(self, c: UniVLALatentConfig, feat_dim: int, n_tok: int, text_dim: int) -> None:
        super().__init__()
        W, L = c.lam_width, c.n_latents
        self.n_tok, self.n_latents = n_tok, L
        self.inp = nn.Linear(feat_dim, W)
        self.pos = nn.Parameter(torch.randn(1, 2 * n_tok, W) * 0.02)
        self.text = nn.Linear(text_dim, W)
        self.q_irr = nn.Parameter(torch.randn(1, L, W) * 0.02)
        self.q_cen = nn.Parameter(torch.randn(1, L, W) * 0.02)
        self.encoder = Transformer(W, c.lam_depth, c.lam_heads)
        self.to_latent = nn.Linear(W, c.latent_dim)
        self.irrelevant_vq = Quantizer(c.latent_dim, c.latent_codes, c.commitment)
        self.centric = nn.ModuleDict({"vq": Quantizer(c.latent_dim, c.latent_codes, c.commitment),
                                      "to_latent": nn.Linear(W, c.latent_dim)})
        self.from_latent = nn.Linear(c.latent_dim, W)
        self.decoder = Transformer(W, c.lam_depth, c.lam_heads)
        self.out = nn.Linear(W, feat_dim)

    @staticmethod
    def tokens(f: torch.Tensor) -> torch.Tensor:
        """Feature map (B, C, h, w) -> per-cell layer-normalized tokens (B, h*w, C): the LAM's input and its
        reconstruction target (raw EfficientNet activations span orders of magnitude)."""
        t = rearrange(f.float(), "b c h w -> b (h w) c")
        return F.layer_norm(t, t.shape[-1:])

    def _frames(self, f0: torch.Tensor, f1: torch.Tensor) -> torch.Tensor:
        return self.inp(torch.cat([self.tokens(f0), self.tokens(f1)], 1)) + self.pos  # (B, 2 n, W)

    def encode(self, f0: torch.Tensor, f1: torch.Tensor, text: torch.Tensor, centric: bool):
        """-> (task-irrelevant Quantized, task-centric Quantized or None)."""
        frames = self._frames(f0, f1)
        B, L = f0.shape[0], self.n_latents
        t = self.text(text)[:, None]  # (B, 1, W)
        h = self.encoder(torch.cat([self.q_irr.expand(B, -1, -1), t, frames], 1))[:, :L]
        irr = self.irrelevant_vq(self.to_latent(h))
        if not centric:
            return irr, None
        hc = self.encoder(torch.cat([self.q_cen.expand(B, -1, -1), frames], 1))[:, :L]  # no language
        return irr, self.centric["vq"](self.centric["to_latent"](hc))

    def decode(self, f0: torch.Tensor, latents: list[torch.Tensor], text: torch.Tensor | None) -> torch.Tensor:
        """Features of frame t + latent tokens (+ text in stage 1) -> predicted features of t+k (B, n, C)."""
        tok = self.inp(self.tokens(f0)) + self.pos[:, : self.n_tok]
        extra = [self.from_latent(z) for z in latents] + ([self.text(text)[:, None]] if text is not None else [])
        return self.out(self.decoder(torch.cat([tok, *extra], 1))[:, : self.n_tok])


class UniVLALatentPolicy(Policy):
    config: UniVLALatentConfig

    def __init__(self, config: UniVLALatentConfig, normalizer: Normalizer, embodiments: Sequence[EmbodimentSpec]) -> None:
        super().__init__(config, normalizer, embodiments)
        c = config
        self.text = build_text_encoder(c.text_encoder)
        self._build_features()
        self.lam = LAM(c, self.feat_dim, self.feat_tokens, self.text.dim)
        W = c.width
        self.text_proj = nn.Linear(self.text.dim, W)
        self.text_embed = nn.Embedding(c.text_vocab + c.latent_vocab, W) if c.text_vocab else None
        self._build_towers()
        self.latent_embed = nn.Embedding(c.latent_vocab, W)
        self.slots = nn.Parameter(torch.randn(1, c.n_latents, W) * 0.02)
        n = 1 + len(c.cameras) * self.vis_tokens + 2 * c.n_latents
        self.pos = nn.Parameter(torch.randn(1, n, W) * 0.02)
        block = dict(mlp="swiglu", norm="rms", bias=False, mlp_hidden=c.mlp_hidden) if c.mlp_hidden else {}
        self.backbone = Transformer(W, c.depth, c.heads, c.mlp_ratio, kv_heads=c.kv_heads, **block)
        self.latent_head = nn.Linear(W, c.latent_vocab)
        names = sorted(self.embodiments)
        self.decoder = nn.ModuleDict({n_: nn.ModuleDict({"query": nn.Embedding(1, W),
                                                         "attn": nn.MultiheadAttention(W, c.heads, batch_first=True),
                                                         "out": nn.Linear(W, c.chunk_size * MAX_DIM)})
                                      for n_ in names})
        self._chunks: deque[tuple[int, torch.Tensor]] = deque()
        self._t = 0

    def _build_features(self) -> None:
        c = self.config
        if c.hf_backbone_path:
            from vlaforge.nn.hf_backbone import HFBackbone

            self.hf = HFBackbone.from_pretrained(c.hf_backbone_path)
            self.hf.requires_grad_(False)
            with torch.no_grad():
                probe = self.hf.encode_images(torch.zeros(1, 3, *c.image_size, dtype=torch.uint8))
            self.feat_dim, self.feat_tokens = probe.shape[-1], probe.shape[1]
            self.feats = None
        else:
            from vlaforge.nn.efficientnet import FEATURE_CHANNELS

            self.feats = nn.ModuleList(c.features.create(8) for _ in c.cameras)  # frozen; 8: an unused projection
            self.feat_dim, self.feat_tokens = FEATURE_CHANNELS[c.features.stride], self.feats[0].num_tokens(c.image_size)

    def _build_towers(self) -> None:
        """The policy's vision: a projection of the frozen features, or Prismatic's two towers (paper preset)."""
        c, W = self.config, self.config.width
        if c.vision != "prismatic":
            self.towers = None
            self.vis_proj = nn.Linear(self.feat_dim, W)
            self.vis_tokens = self.feat_tokens
            return
        from transformers import Dinov2Config, SiglipVisionConfig

        from vlaforge.nn.hf_backbone import HFBackbone

        dino = Dinov2Config(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                            patch_size=14, image_size=c.image_size[0])
        siglip = SiglipVisionConfig(hidden_size=1152, num_hidden_layers=27, num_attention_heads=16,
                                    intermediate_size=4304, patch_size=14, image_size=c.image_size[0])
        self.towers = nn.ModuleList([HFBackbone.from_config(dino, c.image_size), HFBackbone.from_config(siglip, c.image_size)])
        self.vis_proj = nn.Sequential(nn.Linear(1024 + 1152, W), nn.GELU(), nn.Linear(W, W))  # Prismatic's projector
        self.vis_tokens = (c.image_size[0] // 14) * (c.image_size[1] // 14)

    def _vision_tokens(self, b: Batch, i: int) -> torch.Tensor:
        if self.towers is None:
            return self.vis_proj(rearrange(self.features(b, i, "obs", -1), "b c h w -> b (h w) c"))
        img = b[IMAGE_PREFIX + self.config.cameras[i]][:, -1]
        dino, sig = (t.encode_images(img) for t in self.towers)
        return self.vis_proj(torch.cat([dino[:, -sig.shape[1]:], sig], dim=-1))  # (B, N, W), patch-wise fused

    # ---- stages ------------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "UniVLALatentPolicy":
        super().train(mode)
        stage = self.stage
        self.lam.train(mode and stage.startswith("lam"))
        self.lam.irrelevant_vq.train(mode and stage == "lam_task_irrelevant")  # frozen codebook: no EMA drift
        return self

    def set_stage(self, stage: str) -> None:
        super().set_stage(stage)
        self.train(self.training)

    def frozen_image_encoders(self) -> dict[str, nn.Module]:
        if self.feats is None:
            return {}
        cams = self.config.cameras
        cams = cams[:1] if self.stage.startswith("lam") else cams  # the LAM reads camera 0 only
        return {IMAGE_PREFIX + cam: f for f, cam in zip(self.feats, cams)}

    def reset(self) -> None:
        super().reset()
        self._chunks.clear()
        self._t = 0

    # ---- features ----------------------------------------------------------------------------------
    def features(self, b: Batch, cam_index: int, which: str, t: int) -> torch.Tensor:
        """Frozen feature map (B, C, h, w) of camera ``cam_index`` at observation step ``t`` (or the future frame)."""
        cam = self.config.cameras[cam_index]
        cached = b.get((FEATURE_PREFIX if which == "obs" else FUTURE_FEATURE_PREFIX) + cam)
        if cached is not None:
            return cached[:, t].float()
        img = b[(IMAGE_PREFIX if which == "obs" else FUTURE_PREFIX) + cam][:, t]
        with torch.no_grad():
            if self.feats is None:
                f = self.hf.encode_images(img)  # (B, N, C)
                g = int(round(f.shape[1] ** 0.5))
                return rearrange(f[:, -g * g:], "b (h w) c -> b c h w", h=g).float()
            return self.feats[cam_index].eval().feature_map(img).float()

    def _text(self, b: Batch, device) -> torch.Tensor:
        return self.text(b[TASK], device=device).float()  # (B, 384)

    # ---- training -------------------------------------------------------------------------------------
    def forward(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        b = self.check_batch(batch, training=True)
        if self.stage.startswith("lam"):
            return self._lam_loss(b)
        return self._policy_loss(b)

    def _lam_loss(self, b: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        f0, f1 = self.features(b, 0, "obs", -1), self.features(b, 0, "future", 0)
        text = self._text(b, f0.device)
        centric = self.stage == "lam_task_centric"
        irr, cen = self.lam.encode(f0, f1, text, centric)
        if centric:
            pred = self.lam.decode(f0, [irr.quantized.detach(), cen.quantized], None)
            vq_loss, codes = cen.loss, cen.indices
        else:
            pred = self.lam.decode(f0, [irr.quantized], text)
            vq_loss, codes = irr.loss, irr.indices
        target = self.lam.tokens(f1)
        keep = self._future_ok(b).float()[:, None, None]
        mse = (((pred - target) ** 2) * keep).sum() / (keep.sum() * pred[0].numel()).clamp_min(1)
        loss = mse + vq_loss
        return loss, {"loss": loss.item(), "loss_recon": mse.item(), "loss_vq": vq_loss.item(),
                      **usage(codes, self.config.latent_codes)}

    def _future_ok(self, b: Batch) -> torch.Tensor:
        pad = b.get(FUTURE_IS_PAD)
        n = len(b[TASK])
        return torch.ones(n, dtype=torch.bool) if pad is None else ~torch.as_tensor(pad)[:, 0].bool()

    @torch.no_grad()
    def latent_actions(self, b: Batch, f0: torch.Tensor, f1: torch.Tensor) -> torch.Tensor:
        """The frozen LAM's task-centric codes (B, n_latents) of the transition f0 -> f1."""
        return self.lam.encode(f0, f1, self._text(b, f0.device), centric=True)[1].indices

    def _policy_states(self, b: Batch) -> tuple[torch.Tensor, int]:
        """Backbone outputs (B, N, W) and the index where the latent slots start."""
        c = self.config
        views = [self._vision_tokens(b, i) for i in range(len(c.cameras))]
        text = self.text_proj(self._text(b, views[0].device))[:, None]
        B = views[0].shape[0]
        if c.history_latents:
            prev = self.latent_actions(b, self.features(b, 0, "obs", 0), self.features(b, 0, "obs", -1))
            hist = self.latent_embed(prev)  # (B, L, W): the latent actions that led to frame t
        else:
            hist = torch.zeros(B, c.n_latents, c.width, device=views[0].device)
        seq = torch.cat([text, *views, hist, self.slots.expand(B, -1, -1)], 1) + self.pos
        return self.backbone(seq), seq.shape[1] - c.n_latents

    def _decode_chunk(self, h: torch.Tensor, names: list[str]) -> torch.Tensor:
        """Per-embodiment attention pooling over the visual + latent-slot states -> (B, H, MAX_DIM)."""
        c, out = self.config, []
        mem = h[:, 1:]  # everything but the instruction token
        for i, name in enumerate(names):
            d = self.decoder[name]
            pooled, _ = d["attn"](d["query"].weight[None], mem[i:i + 1], mem[i:i + 1])  # (1, 1, W)
            out.append(d["out"](pooled[:, 0]).view(1, c.chunk_size, MAX_DIM))
        return torch.cat(out).float()

    def _policy_loss(self, b: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        c = self.config
        h, s = self._policy_states(b)
        target = self.latent_actions(b, self.features(b, 0, "obs", -1), self.features(b, 0, "future", 0))
        ok = self._future_ok(b)
        logits = self.latent_head(h[:, s:]).float()  # (B, L, K)
        ce_each = F.cross_entropy(logits.transpose(1, 2), target, reduction="none").mean(1)  # (B,)
        ce = (ce_each * ok).sum() / ok.sum().clamp_min(1)
        acc = ((logits.argmax(-1) == target).float().mean(1) * ok).sum() / ok.sum().clamp_min(1)
        logs = {"loss_latent_ce": ce.item(), "latent_acc": acc.item()}
        if self.stage == "pretrain":
            logs["loss"] = ce.item()
            return ce, logs
        has = b[HAS_ACTION]
        row = self.normalizer.index(b[EMBODIMENT], len(b[TASK]))
        pred = self._decode_chunk(h, list(b[EMBODIMENT]))
        tgt = self.normalizer.normalize(ACTION, b[ACTION], row)
        m = self.normalizer.mask(ACTION, row)[:, None] & ~b[ACTION_IS_PAD][:, :, None] & has[:, None, None]
        l1 = ((pred - tgt).abs() * m).sum() / m.sum().clamp_min(1)
        loss = l1 + c.latent_loss_weight * ce
        logs.update(loss_l1=l1.item(), loss=loss.item())
        return loss, logs

    # ---- inference ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def predict_action_chunk(self, obs: Batch, generator: torch.Generator | None = None) -> torch.Tensor:
        b = self.check_batch(obs, training=False)
        h, _ = self._policy_states(b)
        row = self.normalizer.index(b[EMBODIMENT], len(b[TASK]))
        dims = {self.embodiments[n].action_dim for n in b[EMBODIMENT]}
        raw = self.normalizer.unnormalize(ACTION, self._decode_chunk(h, list(b[EMBODIMENT])), row, max(dims))
        return raw * self.normalizer.mask(ACTION, row)[:, None, : max(dims)]

    @torch.no_grad()
    def select_action(self, obs: Batch, generator: torch.Generator | None = None) -> torch.Tensor:
        """Re-plan every ``n_action_steps``; the action for step t averages every stored chunk's prediction
        for t with weights exp(-blend_k * i), i = 0 the oldest (``blend_k`` = 0: the newest chunk only)."""
        stacked = self._history.push(obs)
        if self._t % self.config.n_action_steps == 0:
            self._chunks.append((self._t, self.predict_action_chunk(stacked, generator=generator)))
        while self._chunks and self._t - self._chunks[0][0] >= self._chunks[0][1].shape[1]:
            self._chunks.popleft()
        live = list(self._chunks) if self.config.blend_k > 0 else [self._chunks[-1]]
        preds = torch.stack([ch[:, self._t - t0] for t0, ch in live])  # (N, B, Da), oldest first
        w = torch.as_tensor(np.exp(-self.config.blend_k * np.arange(len(live))), dtype=preds.dtype)
        self._t += 1
        return (w[:, None, None] * preds).sum(0) / w.sum()
