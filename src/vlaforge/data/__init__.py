"""Datasets (LeRobot v3), video, frame cache, normalization and stats."""
