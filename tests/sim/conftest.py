import os

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")


@pytest.fixture(scope="module")
def push_env():
    from vlaforge.sim.metaworld import MetaWorldEnv

    env = MetaWorldEnv("push", image_size=64)
    yield env
    env.close()
