"""The CUDA path (skipped without a GPU; benchmarks/gpu_check.sh runs these): one training step per family
on the GPU with bf16 autocast, and the trainer's device handling."""

from __future__ import annotations

import pytest
import torch

from vlaforge.core.registry import FAMILIES

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]
FAMILY_NAMES = [n for n, cls in FAMILIES.items() if cls.__module__.startswith("vlaforge.models.")]


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_trainer_steps_on_cuda(family, tmp_path):
    from vlaforge.testing import fake_train_data
    from vlaforge.train.config import DataConfig, TrainConfig
    from vlaforge.train.trainer import Trainer

    cfg = FAMILIES.get(family).from_preset("tiny", text_encoder="hash")
    stage = cfg.stages()[-1].name
    tc = TrainConfig(policy=cfg, stage=stage, data=DataConfig(batch_size=4), steps=2, device="cuda",
                     out_dir=str(tmp_path), progress=False, tensorboard=False)
    result = Trainer(tc, fake_train_data(cfg, n=8, stage=stage)).fit()
    assert result.step == 2 and result.final_loss is not None
