"""Dataset errors. Each message names the file, what is wrong and what to do about it."""

from __future__ import annotations


class DatasetError(RuntimeError):
    """A LeRobot dataset on disk is missing, broken or does not match what was asked of it."""


class NotFinalizedError(DatasetError):
    """The writer never reached ``finalize()`` (a killed or still running collection)."""


class UnsupportedVersionError(DatasetError):
    """``meta/info.json`` declares a codebase_version other than v3.0."""


class MissingFileError(DatasetError):
    """A file the metadata points to does not exist."""


class CorruptFileError(DatasetError):
    """A file exists but cannot be read (truncated parquet or MP4, bad JSON)."""


class FeatureMismatchError(DatasetError):
    """Stored data disagrees with the features declared in ``meta/info.json``."""


class EpisodeIndexError(DatasetError, IndexError):
    """An episode or frame index outside the dataset."""
