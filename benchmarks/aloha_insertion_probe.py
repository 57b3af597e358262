"""Insertion expert probe, no rendering: per seed, does the end-effector twin succeed, does the ILC-corrected
joint replay succeed, and where does the peg end up relative to the socket (axial offset of the centres, the
perpendicular miss, the cosine between their long axes)?

    python benchmarks/aloha_insertion_probe.py [N=20] [FIRST_SEED=10000]
"""
import sys, time
import numpy as np
import vlaforge.sim.aloha as A

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
start = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
twin_ok = rep_ok = 0
t0 = time.time()
for seed in range(start, start + n):
    obj = A.sample_objects("insertion", seed)
    traj, tw = A.joint_trajectory("insertion", obj)
    sc = A._ee_scene("insertion")
    d = sc.data
    peg, sock = d.body("peg"), d.body("socket")
    axial = float((peg.xpos - sock.xpos) @ sock.xmat.reshape(3, 3)[:, 0])
    perp = (peg.xpos - sock.xpos) - axial * sock.xmat.reshape(3, 3)[:, 0]
    cosang = float(abs(peg.xmat.reshape(3, 3)[:, 0] @ sock.xmat.reshape(3, 3)[:, 0]))
    acts, info = A.expert_actions("insertion", obj)
    twin_ok += tw; rep_ok += info["replay_success"]
    print(f"seed {seed}: twin {int(tw)} replay {int(info['replay_success'])} ilc {info['ilc_iterations']} "
          f"twin-end: peg-centre axial {axial:+.3f} perp {np.linalg.norm(perp):.3f} cos {cosang:.3f}", flush=True)
print(f"twin {twin_ok}/{n}  replay {rep_ok}/{n}  {time.time()-t0:.0f}s")
