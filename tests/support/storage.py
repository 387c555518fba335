"""Interaction and feedback logs over a local folder, as the zero-setup wiring builds them."""

from __future__ import annotations

from pathlib import Path

from adapters.storage.local import LocalObjectStore
from adapters.storage.logs import ObjectFeedbackLog, ObjectInteractionLog
from adapters.storage.spool import Spool
from adapters.storage.writer import SpooledWriter


def local_writer(root: Path) -> SpooledWriter:
    """Objects under `root/objects`, the spool under `root/spool`."""
    return SpooledWriter(LocalObjectStore(root / "objects"), Spool(root / "spool"))


def local_interaction_log(root: Path) -> ObjectInteractionLog:
    return ObjectInteractionLog(local_writer(root))


def local_feedback_log(root: Path) -> ObjectFeedbackLog:
    return ObjectFeedbackLog(local_writer(root))
