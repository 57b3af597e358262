"""Insertion expert, where it fails: the peg's and socket's long axes (world frame) and the staged reward at
a few steps of the end-effector twin's episode, for three failing seeds.

    python benchmarks/aloha_insertion_tilt.py
"""
import numpy as np, vlaforge.sim.aloha as A
for seed in (10000, 10001, 10003):
    obj = A.sample_objects("insertion", seed)
    sc = A._ee_scene("insertion"); sc.reset(obj)
    start = [sc.grasp_pose(0), sc.grasp_pose(1)]
    left, right = A.insertion_waypoints(obj, start)
    d = sc.data
    for t in range(400):
        if t == 300:
            held = {b: (d.body(b).xpos.copy(), d.body(b).xmat.reshape(3, 3).copy()) for b in ("peg", "socket")}
            left, right = A.insertion_waypoints(obj, start, held)
        (lp, lq, lg), (rp, rq, rg) = A.interpolate(left, t), A.interpolate(right, t)
        sc.set_grasp_pose(0, lp, lq); sc.set_grasp_pose(1, rp, rq)
        lc, rc = A.unnormalize_gripper(lg), A.unnormalize_gripper(rg)
        d.ctrl[:] = [lc, -lc, rc, -rc]; sc.step()
        if t in (215, 250, 299, 330, 360, 399):
            P, S = d.body("peg").xmat.reshape(3,3), d.body("socket").xmat.reshape(3,3)
            print(seed, t, "peg x", np.round(P[:,0],2), "sock x", np.round(S[:,0],2), "cos", round(float(P[:,0]@S[:,0]),3), "r", sc.reward())
