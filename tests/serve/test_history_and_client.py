"""Per-connection history mirrors Policy._push_history; the client package never imports torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import torch
from serve_dummy import make_obs, make_policy, to_batch_obs

from vlaforge.serve.inputs import ObsHistory


def test_obs_history_matches_policy_push_history():
    policy = make_policy(n_obs_steps=3, obs_stride=2)
    hist = ObsHistory(3, 2)
    rng = np.random.default_rng(0)
    for t in range(7):
        o = to_batch_obs(make_obs(rng))
        want, got = policy._push_history(o), hist.push(o)
        assert set(want) == set(got)
        for k in want:
            if torch.is_tensor(want[k]):
                torch.testing.assert_close(got[k], want[k], rtol=0, atol=0)
            else:
                assert got[k] == want[k]
    hist.reset()
    policy.reset()
    o = to_batch_obs(make_obs(rng))
    torch.testing.assert_close(hist.push(o)["observation.is_pad"], policy._push_history(o)["observation.is_pad"])


def test_client_imports_without_torch():
    code = ("import sys; import vlaforge.serve.client, vlaforge.serve.broker, vlaforge.serve.protocol; "
            "assert 'torch' not in sys.modules, 'torch imported'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
