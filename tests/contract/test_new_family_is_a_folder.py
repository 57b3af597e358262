"""A new family is a folder: a throwaway package, found through its entry point, trains (one stage and
a two-stage chain), evaluates, saves, loads and serves without a line changed in vlaforge."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PACKAGE = {
    "__init__.py": '''
        """A throwaway family: mean-pooled pixels + state -> a linear chunk head."""
        from dataclasses import dataclass
        from typing import ClassVar

        from vlaforge.core.config import PolicyConfig
        from vlaforge.core.registry import register_family


        @register_family("toyfam")
        @dataclass
        class ToyConfig(PolicyConfig):
            PRESETS: ClassVar[dict] = {"tiny": {}, "paper": {"hidden": 256}}
            PAPER_PARAMS: ClassVar[tuple] = (9.0e4, "toy")
            hidden: int = 32
            chunk_size: int = 4
            n_action_steps: int = 2
            text_encoder: str = "hash"

            def create(self, normalizer, embodiments):
                from toyfam.model import ToyPolicy

                return ToyPolicy(self, normalizer, embodiments)
    ''',
    "model.py": '''
        import torch
        from torch import nn

        from vlaforge.core.keys import ACTION, ACTION_IS_PAD, EMBODIMENT, IMAGE_PREFIX, MAX_DIM, STATE
        from vlaforge.core.policy import Policy


        class ToyPolicy(Policy):
            def __init__(self, config, normalizer, embodiments):
                super().__init__(config, normalizer, embodiments)
                n = 3 * len(config.cameras) + MAX_DIM
                self.net = nn.Sequential(nn.Linear(n, config.hidden), nn.ReLU(),
                                         nn.Linear(config.hidden, config.chunk_size * MAX_DIM))

            def _pred(self, b):
                row = self.normalizer.index(b[EMBODIMENT], len(b[EMBODIMENT]))
                px = [b[IMAGE_PREFIX + c][:, -1].float().mean((2, 3)) / 255 for c in self.config.cameras]
                x = torch.cat(px + [self.normalizer.normalize(STATE, b[STATE][:, -1], row)], 1)
                return self.net(x).view(x.shape[0], self.config.chunk_size, MAX_DIM), row

            def forward(self, batch):
                b = self.check_batch(batch, training=True)
                pred, row = self._pred(b)
                tgt = self.normalizer.normalize(ACTION, b[ACTION], row)
                m = self.normalizer.mask(ACTION, row)[:, None] & ~b[ACTION_IS_PAD][:, :, None]
                loss = ((pred - tgt).abs() * m).sum() / m.sum()
                return loss, {"loss": loss.item()}

            @torch.no_grad()
            def predict_action_chunk(self, obs, generator=None):
                b = self.check_batch(obs, training=False)
                pred, row = self._pred(b)
                return self.normalizer.unnormalize(ACTION, pred, row, 4)
    ''',
    "recipes.py": '''
        from vlaforge.train.config import DataConfig, OptimConfig, TrainConfig
        from vlaforge.train.recipes import register_recipe


        def _cfg(out, steps):
            from toyfam import ToyConfig

            return TrainConfig(policy=ToyConfig.from_preset("tiny"), data=DataConfig(roots=("DATA",), batch_size=4),
                               optim=OptimConfig(warmup_steps=1), steps=steps, precision="fp32", out_dir=out,
                               progress=False, tensorboard=False, num_threads=1)


        @register_recipe("toyfam_pre")
        def toyfam_pre():
            """Toy stage 1."""
            return _cfg("OUT/pre", 2)


        @register_recipe("toyfam_tiny", after="toyfam_pre")
        def toyfam_tiny():
            """Toy stage 2, from stage 1."""
            return _cfg("OUT/tiny", 3)
    ''',
}

SCRIPT = '''
import json, sys
import numpy as np
from vlaforge.cli.main import main
from vlaforge.core.checkpoint import load_policy
from vlaforge.core.registry import list_families
from vlaforge.data.lerobot import LeRobotDatasetWriter
from vlaforge.serve.client import WebsocketClientPolicy
from vlaforge.serve.server import ServerConfig, load_server

assert "toyfam" in list_families(), list_families()
w = LeRobotDatasetWriter("DATA", fps=80, robot_type="metaworld_sawyer", cameras=("corner2", "gripperPOV"),
                         image_size=(64, 64), overwrite=True)
rng = np.random.default_rng(0)
for e in range(2):
    ep = {f"observation.images.{c}": rng.integers(0, 255, (10, 64, 64, 3), dtype=np.uint8)
          for c in ("corner2", "gripperPOV")}
    ep.update({"observation.state": rng.normal(size=(10, 4)).astype(np.float32),
               "action": rng.uniform(-1, 1, (10, 4)).astype(np.float32)})
    w.add_episode(ep, task="reach the red goal point")
w.finalize()
assert main(["train", "--chain", "toyfam_tiny"]) == 0
assert main(["recipes"]) == 0
ckpt = "OUT/tiny/checkpoints/last"
assert main(["eval", "--policy", ckpt, "--suite", "reach", "--episodes-per-task", "1", "--max-steps", "5",
             "--workers", "1", "--videos-per-task", "0", "--out", "OUT/eval"]) == 0
policy = load_policy(ckpt)
srv = load_server(ckpt, config=ServerConfig(port=0)).start()
with WebsocketClientPolicy(srv.url) as client:
    obs = {"observation/image": np.zeros((64, 64, 3), np.uint8), "observation/wrist_image": np.zeros((64, 64, 3), np.uint8),
           "observation/state": np.zeros(4, np.float32), "prompt": "reach the red goal point"}
    actions = client.infer(obs)["actions"]
srv.stop()
print(json.dumps({"family": type(policy).__module__, "actions": list(actions.shape)}))
'''


def test_throwaway_family_package_trains_evaluates_and_serves(tmp_path):
    site = tmp_path / "site"
    pkg = site / "toyfam"
    pkg.mkdir(parents=True)
    out, data = tmp_path / "out", tmp_path / "data"
    for name, body in PACKAGE.items():
        (pkg / name).write_text(textwrap.dedent(body).replace("OUT", str(out)).replace("DATA", str(data)))
    dist = site / "toyfam-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toyfam\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[vlaforge.families]\ntoyfam = toyfam\n")
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1", "MUJOCO_GL": "egl"}
    script = SCRIPT.replace("OUT", str(out)).replace("DATA", str(data))
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    last = json.loads(run.stdout.strip().splitlines()[-1])
    assert last == {"family": "toyfam.model", "actions": [4, 4]}
    summary = json.loads((out / "tiny" / "train_summary.json").read_text())
    assert summary["steps"] == 3 and "initialised from" in run.stdout  # stage 2 started from stage 1
    assert json.loads((out / "eval" / "results.json").read_text())["per_task"]["reach-v3"]["n_episodes"] == 1
    assert Path(summary["checkpoint"]).is_dir()
