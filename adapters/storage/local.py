"""The local-folder object store: the zero-setup default for interactions, feedback and datasets."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from core.errors import StoreUnavailable
from core.object_keys import validate_key


def fsync_dir(path: Path) -> None:
    """Makes the names in a directory (a rename, a new link, a new file) survive a crash."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes) -> None:
    """Writes through a synced temporary file and a rename, so readers never see half.

    The directory is synced too, so the new name survives a crash once this returns.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


class LocalObjectStore:
    """Implements core.ports.ObjectStore on a local folder; keys are relative paths.

    Keys follow core.object_keys.validate_key (ValueError otherwise). A key cannot also be a
    prefix folder of another key here ("a" and "a/b"), which S3 would allow: such a write is
    refused with ValueError.
    """

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*validate_key(key).split("/"))

    def put(self, key: str, data: bytes, *, content_type: str = "application/json") -> None:
        path = self._path(key)
        try:
            write_atomically(path, data)
        except (NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
            raise ValueError(f"key {key!r} clashes with another key's folder: {exc}") from exc
        except OSError as exc:
            raise StoreUnavailable(f"cannot write {key}: {exc}") from exc

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise KeyError(key) from None
        except OSError as exc:
            raise StoreUnavailable(f"cannot read {key}: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except (NotADirectoryError, IsADirectoryError):
            return
        except OSError as exc:
            raise StoreUnavailable(f"cannot delete {key}: {exc}") from exc

    def list(self, prefix: str = "") -> Iterator[str]:
        yield from sorted(key for key, _ in self._entries(prefix))

    def list_versions(self, prefix: str = "") -> Iterator[tuple[str, str]]:
        """Keys with a version made of the file's inode, modification time (ns) and size.

        Every write renames a new file into place, so a rewrite gets a new inode.
        """
        found = {}
        for key, entry in self._entries(prefix):
            try:
                stat = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # deleted while listing
            except OSError as exc:
                raise StoreUnavailable(f"cannot list {prefix!r}: {exc}") from exc
            found[key] = f"{stat.st_ino}-{stat.st_mtime_ns}-{stat.st_size}"
        yield from sorted(found.items())

    def _entries(self, prefix: str) -> tuple[tuple[str, os.DirEntry[str]], ...]:
        """(key, directory entry) of the files whose keys start with `prefix`, unordered."""
        # Only the folder the prefix names is walked, not the whole store, and below it only
        # the folders whose keys can start with the prefix. A prefix with a segment no key
        # can have ("..", "", ".x") matches nothing, as on S3.
        folders = prefix.split("/")[:-1]
        if any(not f or f.startswith(".") or "\\" in f for f in folders):
            return ()
        start = "".join(f"{f}/" for f in folders)
        try:
            return tuple(_files(str(self._root.joinpath(*folders)), start, prefix))
        except OSError as exc:
            raise StoreUnavailable(f"cannot list {prefix!r}: {exc}") from exc


def _files(folder: str, key_prefix: str, wanted: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(key, entry) of the files under `folder` (whose keys start with `key_prefix`) with keys
    that start with `wanted`, skipping hidden names (temporary files of a write in progress)
    and folders gone while listing."""
    try:
        entries = os.scandir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    with entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            key = key_prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                below = f"{key}/"
                if below.startswith(wanted) or wanted.startswith(below):
                    yield from _files(entry.path, below, wanted)
            elif entry.is_file(follow_symlinks=False) and key.startswith(wanted):
                yield key, entry


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[bool]:
    """Tries to take the lock file `path` without waiting; yields whether this holder got it.

    The lock belongs to the open file, so it also excludes other threads of this process,
    and the operating system releases it when a holder dies.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
