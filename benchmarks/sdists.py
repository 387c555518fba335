"""Source distributions of released projects, as whole repositories to benchmark on.

A release's sdist from PyPI holds what its maintainers ship in the source tree (the docs,
tests, examples and changelog for most projects). Each is pinned by version and sha256,
fetched once with pip into .bench/sdists/ and unpacked there; nothing in the product reads
them.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import BENCH_DIR

SDISTS = BENCH_DIR / "sdists"


class SdistUnavailable(RuntimeError):
    """The sdist could not be fetched (no index reachable) or is not the pinned file."""


@dataclass(frozen=True, slots=True)
class Sdist:
    """One pinned release: `name==version` whose .tar.gz has digest `sha256`."""

    name: str
    version: str
    sha256: str

    @property
    def folder(self) -> Path:
        """Where the unpacked tree lies (its top folder, `<name>-<version>/`)."""
        return SDISTS / f"{self.name}-{self.version}"

    def unpacked(self) -> Path:
        """The unpacked tree, fetched and checked first if it is not there yet."""
        marker = SDISTS / f"{self.name}-{self.version}.complete"  # beside it, not indexed
        if marker.is_file() and self.folder.is_dir():
            return self.folder
        SDISTS.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=SDISTS) as scratch:
            archive = self._download(Path(scratch))
            digest = hashlib.sha256(archive.read_bytes()).hexdigest()
            if digest != self.sha256:
                raise SdistUnavailable(f"{archive.name}: sha256 {digest}, pinned {self.sha256}")
            target = Path(scratch) / "tree"
            with tarfile.open(archive) as tar:
                tar.extractall(target, filter="data")
            tops = list(target.iterdir())
            if len(tops) != 1 or not tops[0].is_dir():
                raise SdistUnavailable(f"{archive.name}: not one top folder")
            if self.folder.exists():
                shutil.rmtree(self.folder)
            tops[0].rename(self.folder)
        marker.write_text(self.sha256)
        return self.folder

    def _download(self, into: Path) -> Path:
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--no-binary", ":all:", "--dest", str(into), f"{self.name}=={self.version}",
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        archives = sorted(into.glob("*.tar.gz"))
        if done.returncode != 0 or len(archives) != 1:
            last = (done.stderr.strip().splitlines() or ["no archive"])[-1]
            raise SdistUnavailable(f"{self.name}=={self.version}: {last}")
        return archives[0]
