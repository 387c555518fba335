"""Pinned sdists are unpacked only when their digest is the pinned one, and only inside
their folder."""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
from pathlib import Path

import pytest

from benchmarks import sdists
from benchmarks.sdists import Sdist, SdistUnavailable


def _archive(folder: Path, members: dict[str, bytes]) -> Path:
    path = folder / "demo-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def fetched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Sdists go under tmp_path; 'downloading' copies the last archive the test appended,
    and appends it again (so the list's length counts the downloads)."""
    monkeypatch.setattr(sdists, "SDISTS", tmp_path / "sdists")
    made: list[Path] = []

    def download(self: Sdist, into: Path) -> Path:
        target = into / made[-1].name
        target.write_bytes(made[-1].read_bytes())
        made.append(made[-1])
        return target

    monkeypatch.setattr(Sdist, "_download", download)
    return made


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_pinned_archive_is_unpacked_once(tmp_path: Path, fetched: list[Path]) -> None:
    members = {"demo-1.0/README.md": b"# Demo\n", "demo-1.0/docs/a.md": b"A\n"}
    fetched.append(_archive(tmp_path, members))
    release = Sdist("demo", "1.0", _digest(fetched[0]))
    folder = release.unpacked()
    assert folder == release.folder
    assert (folder / "docs" / "a.md").read_text() == "A\n"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "docs"]  # no marker inside
    assert release.unpacked() == folder
    assert len(fetched) == 2  # one download: the second call fetched nothing


def test_another_archive_is_refused(tmp_path: Path, fetched: list[Path]) -> None:
    fetched.append(_archive(tmp_path, {"demo-1.0/README.md": b"# Changed\n"}))
    release = Sdist("demo", "1.0", "0" * 64)
    with pytest.raises(SdistUnavailable, match="sha256"):
        release.unpacked()
    assert not release.folder.exists()


def test_a_member_outside_the_folder_is_refused(tmp_path: Path, fetched: list[Path]) -> None:
    fetched.append(_archive(tmp_path, {"../escaped.txt": b"x"}))
    release = Sdist("demo", "1.0", _digest(fetched[0]))
    with pytest.raises(tarfile.TarError):
        release.unpacked()
    assert not (tmp_path / "escaped.txt").exists()
    assert not release.folder.exists()


def test_an_unreachable_index_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sdists, "SDISTS", tmp_path / "sdists")
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "no-index").as_uri())
    monkeypatch.setenv("PIP_NO_INDEX", "0")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    with pytest.raises(SdistUnavailable, match=re.escape("demo-nothing==1.0")):
        Sdist("demo-nothing", "1.0", "0" * 64).unpacked()
