"""Insertion: run the expert in a fresh AlohaEnv (no rendering) on seeds the runner failed, and print its
private-replay info: python benchmarks/aloha_insertion_envcheck.py"""
import numpy as np, vlaforge.sim.aloha as A
for seed in (10025, 10027, 10008):
    env = A.AlohaEnv("insertion", 64, ()); st = env.reset(seed, render=False)
    ex = A.ScriptedExpert("insertion"); ex.reset(env, st)
    ok = False
    for t in range(400):
        st = env.step(ex.act(st), render=False); ok = ok or st.success
    print(seed, "env", ok, ex.info)
