"""X-VLA: soft-prompted flow-matching transformer (arXiv 2510.10274).

Token sequence of the action transformer (full bidirectional attention, no mask):

    [ action tokens (H) | VL features (instruction + main view) | extra-view features ]
      + learned position embedding,  then  [ soft prompts (32 per domain) ] appended

Action tokens come from a *domain-aware* linear over [noisy action | proprio | time
feature]; a second domain-aware linear decodes the action positions. "Domain" is the
data source, here the embodiment name, mapped to a row by ``config.domain_ids``.

Flow matching follows ``vlaforge.nn.flow``: x_t = t * noise + (1 - t) * x0, stratified t,
the network predicts the clean (normalized) action, 10 Euler steps at inference. Gripper
channels are BCE logits (target (raw - low) / (high - low)), sigmoid at inference.

X-VLA has no action-free objective: samples with ``has_action`` False are dropped from
the loss, and a batch with no actions at all returns a zero loss.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vlaforge.core.keys import (
    ACTION, ACTION_IS_PAD, EMBODIMENT, FEATURE_PREFIX, HAS_ACTION, IMAGE_PAD_PREFIX, IMAGE_PREFIX, MAX_DIM, STATE,
    TASK,
)
from vlaforge.core.errors import ConfigError
from vlaforge.core.policy import Batch, Policy, decay_groups, freeze_module
from vlaforge.core.validate import select_rows
from vlaforge.core.normalize import Normalizer
from vlaforge.core.embodiment import EmbodimentSpec
from vlaforge.models.xvla.config import XVLAConfig
from vlaforge.nn.embeddings import LearnedPositionEmbedding, sinusoidal_embedding
from vlaforge.nn.flow import euler_sample, interpolate, sample_time
from vlaforge.nn.hf_backbone import HFBackbone
from vlaforge.nn.mlp import zero_linear
from vlaforge.nn.text import build_text_encoder
from vlaforge.nn.attention import KVCache, padding_mask
from vlaforge.nn.transformer import Transformer
from vlaforge.nn.vision import ConvStem, PatchStem

_ALWAYS_TRAINED = ("soft_prompts.", "action_in.", "action_out.")  # what trains during freeze_steps


class DomainAwareLinear(nn.Module):
    """A linear layer whose weight and bias are looked up by domain id: one (in, out) matrix per domain."""

    def __init__(self, num_domains: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        bound = math.sqrt(6.0 / (in_dim + out_dim))  # Xavier-uniform per domain
        self.weight = nn.Parameter(torch.empty(num_domains, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(num_domains, out_dim))

    def forward(self, x: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        """x (B, N, in), domain (B,) -> (B, N, out)."""
        if bool((domain == domain[0]).all()):  # one domain in the batch (the common case): one matmul
            d = domain[0]
            return torch.matmul(x, self.weight[d].to(x.dtype)) + self.bias[d].to(x.dtype)
        return torch.bmm(x, self.weight[domain].to(x.dtype)) + self.bias[domain].unsqueeze(1).to(x.dtype)


class Context(NamedTuple):
    """Everything the denoiser needs besides x_t and t; computed once per observation."""

    visual: torch.Tensor  # (B, Nv, W) projected VL + extra-view tokens
    proprio: torch.Tensor  # (B, To * MAX_DIM) normalized state history
    domain: torch.Tensor  # (B,) soft-prompt / head rows
    row: torch.Tensor  # (B,) normalizer rows (embodiment)
    visual_is_pad: torch.Tensor | None = None  # (B, Nv) tokens of camera slots the robot lacks; None: all real
    action_bias: torch.Tensor | None = None  # (B, W) added to every action token: the projected instruction
    #                                          (``instruction_to_actions``) plus the ``global_context`` summary
    cond: torch.Tensor | None = None  # (B, text_dim) the instruction embedding every block's adaLN reads
    #                                   (``instruction_adaln``)
    chunk_bias: torch.Tensor | None = None  # (B, H, MAX_DIM) added to the predicted chunk: the summary's direct
    #                                         read-out (``global_context_head``)


# ---- vision-language encoders -------------------------------------------------
class ConvVL(nn.Module):
    """From-scratch stand-in for the VLM: one stem per camera, the instruction as one token.

    VL features = [instruction token | main-camera tokens of every frame]; extra views
    (every frame) are the auxiliary features, as in X-VLA."""

    def __init__(self, cfg: XVLAConfig, text_dim: int) -> None:
        super().__init__()
        def stem() -> nn.Module:
            if cfg.vl_encoder == "patch":
                return PatchStem(cfg.width, cfg.patch_size, shift_pad=cfg.shift_pad)
            if cfg.vl_encoder == "pretrained":
                return cfg.image_encoder.create(cfg.width)
            return ConvStem(cfg.width, cfg.stem_channels, cfg.convs_per_stage, shift_pad=cfg.shift_pad,
                            keypoints=cfg.stem_keypoints, grid=cfg.stem_grid)
        self.stems = nn.ModuleList(stem() for _ in cfg.cameras)
        self.text_proj = nn.Linear(text_dim, cfg.width)
        self.vl_dim = self.aux_dim = cfg.width
        self.n_obs_steps = cfg.n_obs_steps
        self.tokens_per_view = self.stems[0].num_tokens(cfg.image_size)

    def num_tokens(self, n_views: int) -> int:
        return 1 + n_views * self.n_obs_steps * self.tokens_per_view

    def forward(self, views: list[torch.Tensor], texts: list[str], text_encoder) -> tuple[torch.Tensor, torch.Tensor]:
        B = views[0].shape[0]
        feats = [(stem.tokens(v.flatten(0, 1)) if v.is_floating_point() and v.dim() == 5 and v.shape[2] != 3
                  else stem(v.flatten(0, 1))).view(B, -1, self.vl_dim)  # (B, To * n, W); cached features or pixels
                 for stem, v in zip(self.stems, views)]
        text = self.text_proj(text_encoder(texts, device=views[0].device)).unsqueeze(1)  # (B, 1, W)
        vl = torch.cat([text.to(feats[0].dtype), feats[0]], dim=1)
        aux = torch.cat(feats[1:], dim=1) if len(feats) > 1 else vl[:, :0]
        return vl, aux


class BackboneVL(nn.Module):
    """A Hugging Face backbone as X-VLA's VLM: the current main view (+ instruction through the
    joint encoder when the model has one) -> VL features; other frames and views through the
    vision tower -> auxiliary features. Without a joint encoder the instruction is our frozen
    text embedding, projected, as one token."""

    def __init__(self, backbone: HFBackbone, cfg: XVLAConfig, text_dim: int) -> None:
        super().__init__()
        self.backbone, self.max_text_len = backbone, cfg.max_text_len
        self.vl_dim = backbone.joint_dim if backbone.has_joint else backbone.vision_dim
        self.aux_dim = backbone.vision_dim
        self.text_proj = None if backbone.has_joint else nn.Linear(text_dim, self.vl_dim)
        if cfg.freeze_backbone:
            freeze_module(backbone)

    def forward(self, views: list[torch.Tensor], texts: list[str], text_encoder) -> tuple[torch.Tensor, torch.Tensor]:
        main, B, To = views[0][:, -1], views[0].shape[0], views[0].shape[1]
        if self.backbone.has_joint:
            ids, mask = self._tokenize(texts, text_encoder)
            vl = self.backbone.encode_joint(main, ids.to(main.device), mask.to(main.device))
        else:
            text = self.text_proj(text_encoder(texts, device=main.device)).unsqueeze(1)  # (B, 1, D)
            img = self.backbone.encode_images(main)
            vl = torch.cat([text.to(img.dtype), img], dim=1)
        rest = [views[0][:, :-1]] + list(views[1:])  # past main frames, then every frame of extra views
        rest = [r.transpose(0, 1).flatten(0, 1) for r in rest if r.shape[1] > 0]  # (T * B, 3, H, W), time-major
        if not rest:
            return vl, vl.new_zeros(B, 0, self.aux_dim)
        aux = self.backbone.encode_images(torch.cat(rest))  # (T_all * B, N, D)
        return vl, aux.view(-1, B, *aux.shape[1:]).transpose(0, 1).flatten(1, 2)  # (B, T_all * N, D)

    def _tokenize(self, texts: list[str], text_encoder) -> tuple[torch.Tensor, torch.Tensor]:
        """The backbone's own tokenizer when its directory has one; else our text encoder's ids
        (a random-init stand-in has no tokenizer files; its ids are learned from scratch)."""
        if self.backbone.tokenizer is not None:
            return self.backbone.tokenize(texts, self.max_text_len)
        ids, mask = text_encoder.tokenize(texts, self.max_text_len)
        vocab = self.backbone.model.get_input_embeddings().num_embeddings
        return ids % vocab, mask


def florence2_large_config():
    """Florence-2-large's architecture (0.77B with its decoder): DaViT dims 256..2048, depths
    1/1/9/1, BART-large text model with a 51,289-token vocabulary."""
    from transformers import Florence2Config

    vision = dict(embed_dim=[256, 512, 1024, 2048], num_heads=[8, 16, 32, 64], num_groups=[8, 16, 32, 64],
                  depths=[1, 1, 9, 1], projection_dim=1024)
    text = dict(model_type="bart", d_model=1024, encoder_layers=12, decoder_layers=12, encoder_attention_heads=16,
                decoder_attention_heads=16, encoder_ffn_dim=4096, decoder_ffn_dim=4096, vocab_size=51289)
    return Florence2Config(vision_config=vision, text_config=text)


def build_vl_encoder(cfg: XVLAConfig, text_dim: int) -> nn.Module:
    if cfg.backbone_path:
        return BackboneVL(HFBackbone.from_pretrained(cfg.backbone_path), cfg, text_dim)
    if cfg.vl_encoder == "florence2":
        return BackboneVL(HFBackbone.from_config(florence2_large_config(), cfg.image_size), cfg, text_dim)
    if cfg.vl_encoder in ("conv", "patch", "pretrained"):
        return ConvVL(cfg, text_dim)
    raise ValueError(f"xvla vl_encoder {cfg.vl_encoder!r}: use 'conv', 'patch' or 'florence2' "
                     "(or set backbone_path to a local Hugging Face model directory)")


# ---- the policy -------------------------------------------------------------------
class XVLAPolicy(Policy):
    config: XVLAConfig

    def __init__(self, config: XVLAConfig, normalizer: Normalizer, embodiments: Sequence[EmbodimentSpec]) -> None:
        super().__init__(config, normalizer, embodiments)
        _assign_domains(config, normalizer.names)
        W, cfg = config.width, config
        self.text = build_text_encoder(cfg.text_encoder)
        self.vl = build_vl_encoder(cfg, self.text.dim)
        self.vlm_proj = nn.Linear(self.vl.vl_dim, W)
        self.aux_proj = nn.Linear(self.vl.aux_dim, W)
        self.action_in = DomainAwareLinear(cfg.num_domains, MAX_DIM * (1 + cfg.n_obs_steps) + cfg.dim_time, W)
        self.action_out = DomainAwareLinear(cfg.num_domains, W, MAX_DIM)
        self.instruction_in = nn.Linear(self.text.dim, W) if cfg.instruction_to_actions else None
        self.context_in = self._build_context_mlp() if cfg.global_context else None
        # zero-initialised: the first step is the network without the direct read-out / the unconditioned one
        self.context_head = zero_linear(W, cfg.chunk_size * MAX_DIM) if cfg.global_context_head else None
        self.film = zero_linear(self.text.dim, 2 * W) if cfg.instruction_film else None
        self.pos = LearnedPositionEmbedding(cfg.max_seq_len, W)
        self.soft_prompts = nn.Embedding(cfg.num_domains, cfg.soft_prompt_len * W)
        nn.init.normal_(self.soft_prompts.weight, std=0.02)
        self.transformer = Transformer(W, cfg.depth, cfg.heads, cfg.mlp_ratio, cfg.dropout,
                                       cond_dim=self.text.dim if cfg.instruction_adaln else None)
        self._register_tables([self.embodiments[n] for n in normalizer.names])
        self._frozen = False
        self._check_seq_len()

    # ---- construction helpers ---------------------------------------------------
    def _register_tables(self, specs: list[EmbodimentSpec]) -> None:
        """Per-embodiment (E, MAX_DIM) loss-group masks and gripper bounds; derived from the
        specs, so non-persistent (never in model.safetensors)."""
        def mask(attr: str) -> torch.Tensor:
            m = torch.zeros(len(specs), MAX_DIM, dtype=torch.bool)
            for i, s in enumerate(specs):
                m[i, list(getattr(s, attr))] = True
            return m
        pos, rot, grip = mask("position_dims"), mask("rotation_dims"), mask("gripper_dims")
        real = torch.zeros(len(specs), MAX_DIM, dtype=torch.bool)
        low, high = torch.zeros(len(specs), MAX_DIM), torch.ones(len(specs), MAX_DIM)
        for i, s in enumerate(specs):
            real[i, : s.action_dim] = True
            low[i, : s.action_dim], high[i, : s.action_dim] = torch.tensor(s.action_low), torch.tensor(s.action_high)
        tables = {"position": pos, "rotation": rot, "gripper": grip, "other": real & ~(pos | rot | grip),
                  "grip_low": low, "grip_high": high,
                  "domain_of_row": torch.tensor([self.config.domain_ids[s.name] for s in specs])}
        for name, t in tables.items():
            self.register_buffer(f"_{name}", t, persistent=False)

    def _build_context_mlp(self) -> nn.Module:
        if not isinstance(self.vl, ConvVL):
            raise ConfigError("xvla global_context needs vl_encoder 'conv', 'patch' or 'pretrained' (a fixed number "
                              "of visual tokens); unset it or drop backbone_path / vl_encoder='florence2'")
        n = self.vl.num_tokens(len(self.config.cameras)) * self.config.width
        W = self.config.width
        return nn.Sequential(nn.Linear(n, 2 * W), nn.LayerNorm(2 * W), nn.GELU(), nn.Linear(2 * W, W))

    def frozen_image_encoders(self) -> dict[str, nn.Module]:
        if not isinstance(self.vl, ConvVL):
            return {}
        return {IMAGE_PREFIX + cam: s for s, cam in zip(self.vl.stems, self.config.cameras)
                if getattr(s, "freeze", False) and hasattr(s, "tokens")}

    def _check_seq_len(self) -> None:
        if isinstance(self.vl, ConvVL):
            n = self.config.chunk_size + self.vl.num_tokens(len(self.config.cameras))
            if n > self.config.max_seq_len:
                raise ConfigError(f"xvla: {n} tokens (chunk {self.config.chunk_size} + vision-language) exceed "
                                 f"max_seq_len={self.config.max_seq_len}; raise max_seq_len")

    # ---- optimisation ---------------------------------------------------------------
    def param_groups(self, weight_decay: float) -> list[dict]:
        """Three lr groups: VLM (``vlm_lr_scale``), soft prompts (``soft_prompt_lr_scale``), the rest (1)."""
        named = list(self.named_parameters())
        is_pretrained = lambda n: n.startswith("vl.stems.") and ".backbone." in n  # noqa: E731  (EfficientNet)
        pretrained = [(n, p) for n, p in named if is_pretrained(n)]
        vl = [(n, p) for n, p in named if n.startswith("vl.") and not is_pretrained(n)]
        soft = [(n, p) for n, p in named if n.startswith("soft_prompts.")]
        rest = [(n, p) for n, p in named if not n.startswith(("vl.", "soft_prompts."))]
        return (decay_groups(pretrained, weight_decay, self.config.image_encoder.lr_scale)
                + decay_groups(vl, weight_decay, self.config.vlm_lr_scale)
                + decay_groups(soft, weight_decay, self.config.soft_prompt_lr_scale)
                + decay_groups(rest, weight_decay, 1.0))

    def on_train_step(self, step: int) -> None:
        """During the first ``freeze_steps`` only soft prompts and the domain-aware heads train."""
        frozen = step < self.config.freeze_steps
        if frozen == self._frozen:
            return
        for name, p in self.named_parameters():
            if name.startswith(_ALWAYS_TRAINED):
                continue
            if getattr(p, "_vlaforge_frozen", False):
                continue
            p._vlaforge_trainable_later = True  # keeps it in param_groups while frozen
            p.requires_grad_(not frozen)
        self._frozen = frozen

    # ---- training -------------------------------------------------------------------------
    def forward(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        batch = self.check_batch(batch, training=True)
        has = batch[HAS_ACTION]
        if not bool(has.any()):
            return torch.zeros((), device=has.device, requires_grad=True), {"loss": 0.0, "n_action_samples": 0.0}
        if not bool(has.all()):
            batch = select_rows(batch, has)
        ctx = self.encode(batch)
        x0 = self.normalizer.normalize(ACTION, batch[ACTION], ctx.row)  # (B, H, MAX_DIM)
        x0 = x0.masked_fill(batch[ACTION_IS_PAD][:, :, None], 0.0)  # steps past the episode end carry nothing
        if self.config.objective == "regression":
            pred = self.denoise(torch.zeros_like(x0), x0.new_zeros(x0.shape[0]), ctx)
        else:
            t = sample_time(x0.shape[0], self.config.time_sampling, device=x0.device)
            noise = torch.randn_like(x0)
            pred = self.denoise(interpolate(x0, noise, t), t, ctx)
        loss, logs = self.action_loss(pred, x0, batch[ACTION], batch[ACTION_IS_PAD], ctx.row)
        logs["n_action_samples"] = float(x0.shape[0])
        return loss, logs

    def action_loss(self, pred: torch.Tensor, x0: torch.Tensor, raw: torch.Tensor, is_pad: torch.Tensor,
                    row: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Per-group losses over real dims of non-pad steps: MSE on normalized position /
        rotation / other dims, BCE on gripper logits vs (raw - low) / (high - low)."""
        pred = pred.float()
        valid = (~is_pad)[:, :, None] & self.normalizer.mask(ACTION, row)[:, None, :]  # (B, H, MAX_DIM)
        diff = pred - x0
        mse = diff.abs() if self.config.objective == "regression" and self.config.regression_loss == "l1" else diff**2
        low, high = self._grip_low[row][:, None], self._grip_high[row][:, None]
        grip_target = ((_pad(raw.float()) - low) / (high - low).clamp_min(1e-6)).clamp(0, 1)
        bce = F.binary_cross_entropy_with_logits(pred, grip_target, reduction="none")
        total, logs = pred.sum() * 0.0, {}
        cfg = self.config
        grip_err = bce if cfg.gripper_loss == "bce" else mse
        for group, weight, err in (("position", cfg.position_weight, mse), ("rotation", cfg.rotation_weight, mse),
                                   ("gripper", cfg.gripper_weight, grip_err), ("other", cfg.other_weight, mse)):
            m = valid & getattr(self, f"_{group}")[row][:, None, :]
            if bool(m.any()):
                group_loss = (err * m).sum() / m.sum()
                total = total + weight * group_loss
                logs[f"loss_{group}"] = group_loss.item()
        logs["loss"] = total.item()
        return total, logs

    # ---- shared by training and inference ---------------------------------------------
    def encode(self, batch: Batch) -> Context:
        """Images + instruction + state -> the denoiser's context (computed once per observation)."""
        B = batch[STATE].shape[0]
        row = self.normalizer.index(batch[EMBODIMENT], B)
        views = [batch.get(FEATURE_PREFIX + cam, batch.get(IMAGE_PREFIX + cam))  # (B, To, 3, H, W) or cached
                 for cam in self.config.cameras]                                  # features (B, To, C, h, w)
        vl, aux = self.vl(views, list(batch[TASK]), self.text)
        visual = torch.cat([self.vlm_proj(vl), self.aux_proj(aux)], dim=1)  # (B, Nv, W)
        state = self._proprio(self.normalizer.normalize(STATE, batch[STATE], row))  # (B, To, MAX_DIM)
        instruction = None
        if self.film is not None or self.instruction_in is not None or self.config.instruction_adaln:
            instruction = self.text(list(batch[TASK]), device=visual.device).to(visual.dtype)  # (B, text_dim)
            #                                                            (the text encoder caches per string)
        if self.film is not None:
            gamma, beta = self.film(instruction).chunk(2, dim=-1)  # (B, W) each
            visual = visual * (1 + gamma[:, None]) + beta[:, None]
        bias = chunk_bias = None
        if self.instruction_in is not None:
            bias = self.instruction_in(instruction)
        if self.context_in is not None:
            summary = self.context_in(visual.flatten(1))  # (B, Nv * W) -> (B, W)
            bias = summary if bias is None else bias + summary
            if self.context_head is not None:
                chunk_bias = self.context_head(summary).view(B, self.config.chunk_size, MAX_DIM)  # (B, H, MAX_DIM)
        return Context(visual, state.flatten(1), self._domain_of_row[row], row, self._visual_pad(batch, views, visual),
                       bias, instruction if self.config.instruction_adaln else None, chunk_bias)

    def _proprio(self, state: torch.Tensor) -> torch.Tensor:
        """The state the action tokens read: zeros without ``use_proprio``; in training, zeros for a random
        ``proprio_dropout`` fraction of the samples."""
        if not self.config.use_proprio:
            return torch.zeros_like(state)
        if self.training and self.config.proprio_dropout > 0:
            keep = torch.rand(state.shape[0], device=state.device) >= self.config.proprio_dropout  # (B,)
            return state * keep[:, None, None].to(state.dtype)
        return state

    def _visual_pad(self, batch: Batch, views: list[torch.Tensor], visual: torch.Tensor) -> torch.Tensor | None:
        """(B, Nv) True on the tokens of camera slots a sample's robot lacks (``image_is_pad``), so a mixed-robot
        batch never attends to zero images; None when every slot is real. The from-scratch / pretrained stems'
        layout only ([instruction | slot 0 | slot 1 ...]); a Hugging Face backbone sees the zero images."""
        pads = [batch.get(IMAGE_PAD_PREFIX + cam) for cam in self.config.cameras]
        if not isinstance(self.vl, ConvVL) or not any(p is not None and bool(p.any()) for p in pads):
            return None
        B = visual.shape[0]
        parts = [torch.zeros(B, 1, dtype=torch.bool, device=visual.device)]  # the instruction token
        for p, v in zip(pads, views):
            n = v.shape[1] * self.vl.tokens_per_view  # To frames x tokens per view
            p = torch.zeros(B, dtype=torch.bool) if p is None else p
            parts.append(p.to(visual.device, torch.bool)[:, None].expand(B, n))
        out = torch.cat(parts, dim=1)  # (B, Nv)
        if out.shape[1] != visual.shape[1]:
            raise RuntimeError(f"xvla: {out.shape[1]} pad flags for {visual.shape[1]} visual tokens")
        return out

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, ctx: Context, prefix: KVCache | None = None) -> torch.Tensor:
        """One network call: noisy normalized actions (B, H, MAX_DIM) at time t (B,) -> clean actions.
        ``prefix``: the keys/values of ``encode_prefix`` (``attention='prefix'`` only): then only the action
        tokens run."""
        B, H, _ = x_t.shape
        if self.config.zero_gripper_input:
            x_t = x_t.masked_fill(self._gripper[ctx.row][:, None, :], 0.0)
        temb = sinusoidal_embedding(t, self.config.dim_time, max_period=100.0)  # (B, dim_time)
        feats = torch.cat([x_t, ctx.proprio[:, None].expand(B, H, -1), temb[:, None].expand(B, H, -1)], dim=-1)
        act = self.action_in(feats, ctx.domain)  # (B, H, W)
        if ctx.action_bias is not None:
            act = act + ctx.action_bias[:, None].to(act.dtype)
        if prefix is not None:  # positions 0..H-1 are the action tokens'; the prefix is cached
            n_pre = prefix.length
            allow = torch.ones(1, 1, H, n_pre + H, dtype=torch.bool, device=act.device)  # keys [prefix | actions]
            if ctx.visual_is_pad is not None:
                allow = padding_mask(torch.cat([self._prefix_is_pad(ctx), ctx.visual_is_pad.new_zeros(B, H)], 1),
                                     allow)
            return self._read_out(self.transformer(self.pos(act), mask=allow, kv_cache=prefix, cond=ctx.cond), ctx)
        x = self.pos(torch.cat([act, ctx.visual.to(act.dtype)], dim=1))
        prompts = self.soft_prompts(ctx.domain).view(B, self.config.soft_prompt_len, -1)  # (B, P, W)
        x = torch.cat([x, prompts.to(x.dtype)], dim=1)  # [actions (H) | visual (Nv) | prompts (P)]
        mask = None
        if self.config.attention == "prefix":  # visual and prompt queries never see the action keys
            mask = torch.ones(1, 1, x.shape[1], x.shape[1], dtype=torch.bool, device=x.device)
            mask[..., H:, :H] = False
        if ctx.visual_is_pad is not None:
            mask = padding_mask(torch.cat([ctx.visual_is_pad.new_zeros(B, H), self._prefix_is_pad(ctx)], 1), mask)
        x = self.transformer(x, mask=mask, cond=ctx.cond)
        return self._read_out(x[:, :H], ctx)

    def _read_out(self, action_tokens: torch.Tensor, ctx: Context) -> torch.Tensor:
        """(B, H, W) action tokens -> (B, H, MAX_DIM) normalized actions, plus the summary's direct read-out when
        ``global_context_head`` gives one."""
        out = self.action_out(action_tokens, ctx.domain)
        return out if ctx.chunk_bias is None else out + ctx.chunk_bias.to(out.dtype)

    def _prefix_is_pad(self, ctx: Context) -> torch.Tensor:
        """(B, Nv + P): the visual tokens' pad flags, then the (never padded) soft prompts'."""
        return torch.cat([ctx.visual_is_pad, ctx.visual_is_pad.new_zeros(len(ctx.visual_is_pad),
                                                                         self.config.soft_prompt_len)], 1)

    def encode_prefix(self, ctx: Context) -> KVCache:
        """``attention='prefix'``: run the visual + soft-prompt tokens once (at the positions ``denoise`` gives
        them) and keep every layer's keys/values for the denoising steps."""
        B, H = ctx.visual.shape[0], self.config.chunk_size
        visual = ctx.visual + self.pos.weight[:, H:H + ctx.visual.shape[1]].to(ctx.visual.dtype)
        prompts = self.soft_prompts(ctx.domain).view(B, self.config.soft_prompt_len, -1)  # (B, P, W)
        x = torch.cat([visual, prompts.to(visual.dtype)], dim=1)  # (B, Nv + P, W)
        cache = KVCache()  # an explicit mask: with a cache and none, attention would be causal
        mask = (torch.ones(1, 1, 1, x.shape[1], dtype=torch.bool, device=x.device) if ctx.visual_is_pad is None
                else padding_mask(self._prefix_is_pad(ctx)))
        self.transformer(x, mask=mask, kv_cache=cache, cond=ctx.cond)
        cache.append = False  # the denoising steps attend to it without growing it
        return cache

    # ---- inference -------------------------------------------------------------------------
    @torch.no_grad()
    def predict_action_chunk(self, obs: Batch, generator: torch.Generator | None = None) -> torch.Tensor:
        """Raw-unit actions (B, H, Da) from 10 Euler steps; ``generator`` fixes the initial noise."""
        obs = self.check_batch(obs, training=False)
        ctx = self.encode(obs)
        B, H = ctx.visual.shape[0], self.config.chunk_size
        dev = generator.device if generator is not None else ctx.visual.device
        if self.config.objective == "regression":
            x0 = self.denoise(ctx.visual.new_zeros(B, H, MAX_DIM), ctx.visual.new_zeros(B), ctx)
            return self._to_raw(x0.float(), ctx.row)
        noise = torch.randn(B, H, MAX_DIM, generator=generator, device=dev).to(ctx.visual.device)
        noise = noise * self.config.init_noise_scale
        prefix = self.encode_prefix(ctx) if self.config.attention == "prefix" else None
        x0 = euler_sample(lambda x, t: self.denoise(x, t, ctx, prefix), noise, self.config.num_inference_steps,
                          "clean")
        return self._to_raw(x0.float(), ctx.row)

    def _to_raw(self, x0: torch.Tensor, row: torch.Tensor) -> torch.Tensor:
        """Unnormalize; gripper logits -> low + sigmoid * (high - low); (B, H, max action dim)."""
        dims = [self.embodiments[self.normalizer.names[r]].action_dim for r in row.tolist()]
        D = max(dims)
        raw = self.normalizer.unnormalize(ACTION, x0, row, D)  # (B, H, D)
        low, high = self._grip_low[row][:, None, :D], self._grip_high[row][:, None, :D]
        grip = low + torch.sigmoid(x0[..., :D]) * (high - low)
        if self.config.gripper_loss == "bce":
            raw = torch.where(self._gripper[row][:, None, :D], grip, raw)
        return raw * self.normalizer.mask(ACTION, row)[:, None, :D]

def _assign_domains(config: XVLAConfig, names: Sequence[str]) -> None:
    """Give every embodiment a soft-prompt row; new names take the next free id (saved with the config)."""
    for name in names:
        if name not in config.domain_ids:
            config.domain_ids[name] = max(config.domain_ids.values(), default=-1) + 1
    bad = {n: i for n, i in config.domain_ids.items() if not 0 <= i < config.num_domains}
    if bad:
        raise ValueError(f"xvla: domain ids {bad} are outside 0..{config.num_domains - 1}; raise num_domains")


def _pad(x: torch.Tensor) -> torch.Tensor:
    return F.pad(x, (0, MAX_DIM - x.shape[-1]))
