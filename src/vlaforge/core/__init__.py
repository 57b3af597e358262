"""Contracts shared by every family: batch keys, the policy interface, the registry, checkpoints."""
