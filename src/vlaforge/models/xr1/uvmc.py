"""UVMC: XR-1's Unified Vision-Motion Codes, a dual-branch VQ-VAE (stage 1).

Vision branch (per camera): conv-stem tokens of frames t and t+k plus ``n_codes`` learnable queries
-> transformer -> quantize (vision codebook) -> codes. Its decoder reconstructs frame t+k (pixels)
from frame t's tokens and the codes, so the codes must carry what changed.

Motion branch: the normalized action chunk (H x 32, padded dims and steps zeroed) -> causal temporal
convolutions (two stride-2 stages: x4 downsampling -> ceil(H/4) tokens) -> causal transformer ->
quantize (motion codebook, or the vision one when shared). Its decoder is a flow-matching action head
fed the codes and the state.

Alignment: KL(softmax(motion logits) || softmax(vision logits)) per code position, averaged over
cameras, weight ``align_weight``, on samples with actions. Action-free samples train the vision branch only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from vlaforge.core.keys import MAX_DIM
from vlaforge.nn.attention import causal_mask
from vlaforge.nn.embeddings import sinusoidal_embedding
from vlaforge.nn.flow import flow_target, interpolate, sample_time
from vlaforge.nn.transformer import Transformer
from vlaforge.nn.vision import ConvStem, to_signed_unit
from vlaforge.nn.vq import Quantized, Quantizer, usage

TIME_DIM = 32


class CausalConv1d(nn.Module):
    """Conv over time that only sees the past: left padding of (kernel - 1)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.pad = kernel - 1
        self.conv = nn.Conv1d(cin, cout, kernel, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, T) -> (B, C', ceil(T / stride))."""
        return self.conv(F.pad(x, (self.pad, 0)))


def _pixel_decoder(width: int, grid: int, image: int) -> nn.Sequential:
    """(B, width, grid, grid) -> (B, 3, image, image) by stride-2 transposed convs."""
    layers: list[nn.Module] = []
    c, size = width, grid
    while size < image:
        out = max(16, c // 2)
        layers += [nn.ConvTranspose2d(c, out, 4, stride=2, padding=1), nn.GroupNorm(8, out), nn.SiLU()]
        c, size = out, size * 2
    return nn.Sequential(*layers, nn.Conv2d(c, 3, 3, padding=1))


class UVMC(nn.Module):
    def __init__(self, n_cameras: int, image_size: tuple[int, int], chunk: int, n_codes: int, width: int = 128,
                 depth: int = 2, heads: int = 4, code_dim: int = 256, codebook_size: int = 256,
                 commitment: float = 0.25, shared_codebook: bool = False,
                 stem_channels: tuple[int, ...] = (32, 64, 128, 256)) -> None:
        super().__init__()
        self.n_codes, self.chunk, self.n_cameras = n_codes, chunk, n_cameras
        self.stem = ConvStem(width, stem_channels, shift_pad=0)
        self.n_tok = self.stem.num_tokens(image_size)
        self.grid = int(round(self.n_tok ** 0.5))
        self.cam_emb = nn.Parameter(torch.zeros(n_cameras, 1, width))
        self.frame_emb = nn.Parameter(torch.zeros(2, 1, width))
        self.tok_pos = nn.Parameter(torch.zeros(1, self.n_tok, width))
        self.v_queries = nn.Parameter(torch.randn(1, n_codes, width) * 0.02)
        self.v_enc = Transformer(width, depth, heads)
        self.v_to_code = nn.Linear(width, code_dim)
        self.v_from_code = nn.Linear(code_dim, width)
        self.v_dec = Transformer(width, depth, heads)
        self.v_pixels = _pixel_decoder(width, self.grid, image_size[0])
        self.m_in = nn.Linear(MAX_DIM, width)
        self.m_convs = nn.Sequential(CausalConv1d(width, width, 3, 2), nn.GELU(), CausalConv1d(width, width, 3, 2))
        self.m_enc = Transformer(width, depth, heads)
        self.m_to_code = nn.Linear(width, code_dim)
        self.vision_vq = Quantizer(code_dim, codebook_size, commitment)
        self.motion_vq = self.vision_vq if shared_codebook else Quantizer(code_dim, codebook_size, commitment)
        self.m_from_code = nn.Linear(code_dim, width)
        self.state_in = nn.Linear(MAX_DIM, width)
        self.a_in = nn.Linear(MAX_DIM + TIME_DIM, width)
        self.a_pos = nn.Parameter(torch.zeros(1, chunk, width))
        self.a_dec = Transformer(width, depth, heads)
        self.a_out = nn.Linear(width, MAX_DIM)
        for p in (self.cam_emb, self.frame_emb, self.tok_pos, self.a_pos):
            nn.init.normal_(p, std=0.02)

    # ---- vision branch -------------------------------------------------------------------
    def _tokens(self, images: torch.Tensor, cam: int, frame: int) -> torch.Tensor:
        return self.stem(images) + self.tok_pos + self.cam_emb[cam] + self.frame_emb[frame]  # (B, n_tok, W)

    def encode_vision(self, now: torch.Tensor, future: torch.Tensor, cam: int) -> tuple[Quantized, torch.Tensor]:
        """Frames t and t+k (B, 3, H, W) of camera ``cam`` -> quantized codes (B, n_codes, D), frame-t tokens."""
        t0, t1 = self._tokens(now, cam, 0), self._tokens(future, cam, 1)
        q = self.v_queries.expand(now.shape[0], -1, -1)
        out = self.v_enc(torch.cat([q, t0, t1], dim=1))[:, : self.n_codes]  # (B, n_codes, W)
        return self.vision_vq(self.v_to_code(out)), t0

    def decode_vision(self, codes: torch.Tensor, tokens_t: torch.Tensor) -> torch.Tensor:
        """Codes + frame-t tokens -> predicted frame t+k in [-1, 1] (B, 3, H, W)."""
        x = self.v_dec(torch.cat([tokens_t, self.v_from_code(codes)], dim=1))[:, : self.n_tok]  # (B, n_tok, W)
        grid = rearrange(x, "b (h w) c -> b c h w", h=self.grid)
        return self.v_pixels(grid.float())

    # ---- motion branch --------------------------------------------------------------------
    def encode_motion(self, actions: torch.Tensor) -> Quantized:
        """Normalized, masked chunk (B, H, MAX_DIM) -> quantized codes (B, n_codes, D)."""
        x = self.m_convs(self.m_in(actions).transpose(1, 2)).transpose(1, 2)  # (B, ceil(H/4), W)
        x = self.m_enc(x, mask=causal_mask(x.shape[1], x.device))
        return self.motion_vq(self.m_to_code(x))

    def motion_velocity(self, codes: torch.Tensor, state: torch.Tensor, x_t: torch.Tensor,
                        t: torch.Tensor) -> torch.Tensor:
        """The motion decoder: flow-matching velocity of the noisy chunk given the codes and the state."""
        temb = sinusoidal_embedding(t, TIME_DIM, max_period=100.0)[:, None].expand(-1, x_t.shape[1], -1)
        a = self.a_in(torch.cat([x_t, temb], dim=-1)) + self.a_pos
        seq = torch.cat([self.m_from_code(codes), self.state_in(state)[:, None], a], dim=1)
        return self.a_out(self.a_dec(seq)[:, -x_t.shape[1]:]).float()

    # ---- the stage-1 loss ---------------------------------------------------------------------
    def loss(self, frames: list[tuple[torch.Tensor, torch.Tensor]], future_ok: torch.Tensor, actions: torch.Tensor,
             act_mask: torch.Tensor, has: torch.Tensor, state: torch.Tensor, align_weight: float,
             recon_weight: float, beta_a: float) -> tuple[torch.Tensor, dict[str, float]]:
        """``frames``: per camera (frame t, frame t+k) uint8 (B, 3, H, W); ``actions`` normalized (B, H, MAX_DIM)
        with ``act_mask`` (B, H, MAX_DIM) its real entries; ``has`` (B,) samples with actions."""
        logs: dict[str, float] = {}
        v_logits, recon, commit = [], 0.0, 0.0
        keep = future_ok.float()[:, None, None, None]
        for cam, (now, fut) in enumerate(frames):
            qv, tok = self.encode_vision(now, fut, cam)
            pred = self.decode_vision(qv.quantized, tok)
            err = ((pred - to_signed_unit(fut)) ** 2 * keep).sum() / (keep.sum() * pred[0].numel()).clamp_min(1)
            recon, commit = recon + err / len(frames), commit + qv.loss / len(frames)
            v_logits.append(qv.logits)
            logs.update({f"vision_{k}": v for k, v in usage(qv.indices, self.vision_vq.codebook_size).items()})
        loss = recon_weight * recon + commit
        logs.update(loss_vision_recon=recon.item(), loss_vision_commit=commit.item())
        if bool(has.any()):
            a = (actions * act_mask)[has]
            qm = self.encode_motion(a)
            tau = sample_time(a.shape[0], "beta", device=a.device, beta_a=beta_a)
            noise = torch.randn_like(a)
            v = self.motion_velocity(qm.quantized, state[has], interpolate(a, noise, 1 - tau), 1 - tau)
            m = act_mask[has]
            flow = ((v - flow_target(a, noise, "velocity")) ** 2 * m).sum() / m.sum().clamp_min(1)
            p_m = F.softmax(qm.logits, dim=-1)
            kl = sum(F.kl_div(F.log_softmax(lv[has], dim=-1), p_m, reduction="batchmean") / qm.logits.shape[1]
                     for lv in v_logits) / len(v_logits)
            loss = loss + flow + qm.loss + align_weight * kl
            logs.update(loss_motion_flow=flow.item(), loss_motion_commit=qm.loss.item(), loss_align_kl=kl.item(),
                        **{f"motion_{k}": v for k, v in usage(qm.indices, self.motion_vq.codebook_size).items()})
        logs["loss"] = loss.item()
        return loss, logs
