"""Which task's behaviour does a policy fall into on push? Compare its closed-loop actions with each expert's.

    python benchmarks/closed_loop_experts.py runs/bench/xvla_tiny4_lr1e3/checkpoints/last

The policy runs push in closed loop (seeds 10,000-10,002, 48 steps); at each of its states the reach, push and
pick-place scripted experts (stateless: they act from the current observation, which in the push scene holds
the puck and the goal) say what they would do. The smallest mean |policy - expert| names the behaviour.
"""

import sys

import numpy as np
import torch

from vlaforge.core.checkpoint import load_policy
from vlaforge.sim.evaluate import policy_obs
from vlaforge.sim.simulator import get_simulator

TASKS = ("reach-v3", "push-v3", "pick-place-v3")


def main(ckpt: str) -> None:
    torch.set_num_threads(2)
    sim = get_simulator("metaworld")
    pol = load_policy(ckpt).eval()
    env = sim.make_env("push-v3", tuple(pol.config.image_size), pol.config.cameras, 500)
    experts = {t: sim.expert(t) for t in TASKS}
    try:
        for seed in (10_000, 10_001, 10_002):
            step = env.reset(seed)
            pol.reset()
            for e in experts.values():
                e.reset(env, step)
            rows = []
            for t in range(48):
                a = pol.select_action(policy_obs(step, "push-v3", sim), generator=torch.Generator().manual_seed(t))[0]
                rows.append([float(np.abs(a.numpy() - experts[x].act(step)).mean()) for x in TASKS])
                step = env.step(a.numpy())
            r = np.array(rows)
            print(seed, "gap to reach / push / pick-place expert, steps 0-15:", np.round(r[:16].mean(0), 3),
                  " steps 16-47:", np.round(r[16:].mean(0), 3), flush=True)
    finally:
        env.close()


if __name__ == "__main__":
    main(sys.argv[1])
