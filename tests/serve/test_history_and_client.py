"""The client package never imports torch; the remote policy and broker behave like local ones."""

from __future__ import annotations

import subprocess
import sys




def test_client_imports_without_torch():
    code = ("import sys; import vlaforge.serve.client, vlaforge.serve.broker, vlaforge.serve.protocol; "
            "assert 'torch' not in sys.modules, 'torch imported'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
