"""Insertion expert: sweep where the right hand pinches the peg (offset from its centre along x) and the number
of ILC iterations; twin and replay success over seeds 10,000+, no rendering. (Wraps the waypoints, so it runs
against any committed PEG_GRASP_OFFSET: the offset given is added to it.)

    python benchmarks/aloha_insertion_offset.py DX [N=12] [ILC_ITERATIONS=3]
"""
import sys, numpy as np, vlaforge.sim.aloha as A
dx = float(sys.argv[1]); n = int(sys.argv[2]) if len(sys.argv) > 2 else 12
orig = A.WAYPOINTS["insertion"]
def shifted(objects, start, held=None):
    o = np.array(objects, float).copy(); o[0] += dx
    return orig(o, start, held)
A.WAYPOINTS["insertion"] = shifted
tw = rp = 0
for seed in range(10000, 10000 + n):
    obj = A.sample_objects("insertion", seed)
    _, t = A.joint_trajectory("insertion", obj)
    _, info = A.expert_actions("insertion", obj, iterations=int(sys.argv[3]) if len(sys.argv) > 3 else 3)
    tw += t; rp += info["replay_success"]
print(f"dx {dx:+.3f}: twin {tw}/{n} replay {rp}/{n}")
