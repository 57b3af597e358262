"""Dataset errors. Each message names the file, what is wrong and what to do about it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from vlaforge.core.errors import VlaforgeError


class DatasetError(VlaforgeError, RuntimeError):
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


# ---------------------------------------------------------------------------- remedies
WRITER_KEY = "vlaforge_writer"
"""Key that vlaforge's writer adds to ``meta/info.json``; LeRobot ignores unknown keys."""

RERUN = "Re-run the collection that wrote it"
RESTORE = "Restore it from where the dataset came from (copy it back, or download or export the dataset again)"


def written_by_vlaforge(path: str | os.PathLike) -> bool:
    """Whether the dataset holding ``path`` (its root or any file in it) was written by vlaforge.

    Only then can an error tell the user to re-run the collection: the owner of a
    dataset that LeRobot or another tool wrote has no collection of ours to re-run.
    """
    root = _dataset_root(Path(path))
    if root is None:
        return False
    try:
        return WRITER_KEY in json.loads((root / "meta" / "info.json").read_text())
    except (OSError, ValueError):
        return False


def remedy(path: str | os.PathLike, ours: str = RERUN, theirs: str = RESTORE) -> str:
    """The fix to print: ``ours`` for a dataset vlaforge wrote, ``theirs`` for any other."""
    return ours if written_by_vlaforge(path) else theirs


def _dataset_root(path: Path) -> Path | None:
    """The nearest of ``path`` and its ancestors (up to videos/<key>/chunk-XXX/file) holding meta/info.json."""
    for candidate in [path, *list(path.parents)[:5]]:
        if (candidate / "meta" / "info.json").is_file():
            return candidate
    return None
