"""Simulation: Meta-World envs (``metaworld``), task names and suites (``tasks``), expert
collection (``collect``), the evaluation runner (``evaluate``), baselines, videos, reports.

Nothing is imported here, so ``import vlaforge.sim.tasks`` does not load MuJoCo."""
