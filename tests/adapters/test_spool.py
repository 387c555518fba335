"""The durable spool keeps writes in order across restarts and never loses or drops one."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from adapters.storage.spool import SUFFIX, Spool


def test_entries_come_back_in_order_after_a_restart(tmp_path: Path) -> None:
    """What was appended is read back, oldest first, by a new Spool on the same folder."""
    spool = Spool(tmp_path / "spool")
    seqs = [spool.append("replace", f"k/{n}.json", f"payload {n}\n".encode()) for n in range(5)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5

    reopened = Spool(tmp_path / "spool")
    entries = list(reopened.pending())

    assert [e.key for e in entries] == [f"k/{n}.json" for n in range(5)]
    assert [e.data for e in entries] == [f"payload {n}\n".encode() for n in range(5)]
    assert {e.kind for e in entries} == {"replace"}
    assert reopened.depth() == 5


def test_new_entries_follow_old_ones_after_a_restart(tmp_path: Path) -> None:
    """A spool reopened on old entries numbers new ones after them."""
    first = Spool(tmp_path)
    old = first.append("replace", "k/old.json", b"1")
    later = Spool(tmp_path).append("replace", "k/new.json", b"2")
    assert later > old
    assert [e.key for e in Spool(tmp_path).pending()] == ["k/old.json", "k/new.json"]


def test_remove_and_limit(tmp_path: Path) -> None:
    """pending(limit) yields the oldest entries; removed ones are gone for good."""
    spool = Spool(tmp_path)
    for n in range(4):
        spool.append("replace", f"k/{n}.json", b"x")
    oldest = list(spool.pending(limit=2))
    assert [e.key for e in oldest] == ["k/0.json", "k/1.json"]

    for entry in oldest:
        spool.remove(entry.seq)
    spool.remove(oldest[0].seq)

    assert [e.key for e in spool.pending()] == ["k/2.json", "k/3.json"]
    assert spool.depth() == 2


def test_two_spools_on_one_folder_never_collide(tmp_path: Path) -> None:
    """Two writers (as two processes would) appending at once each keep every entry."""
    spools = [Spool(tmp_path), Spool(tmp_path)]

    def append(n: int) -> int:
        return spools[n % 2].append("replace", f"k/{n}.json", str(n).encode())

    with ThreadPoolExecutor(max_workers=4) as pool:
        seqs = list(pool.map(append, range(200)))

    assert len(set(seqs)) == 200
    assert sorted(e.key for e in Spool(tmp_path).pending()) == sorted(
        f"k/{n}.json" for n in range(200)
    )


def test_a_corrupt_entry_is_set_aside_not_dropped(tmp_path: Path) -> None:
    """An entry whose bytes do not match its checksum moves to rejected/ and is skipped."""
    spool = Spool(tmp_path)
    bad = spool.append("replace", "k/bad.json", b"original")
    spool.append("replace", "k/good.json", b"fine")
    path = tmp_path / f"{bad:020d}{SUFFIX}"
    path.write_bytes(path.read_bytes().replace(b"original", b"tampered"))
    (tmp_path / f"{1:020d}{SUFFIX}").write_bytes(b"not json at all")

    assert [e.key for e in spool.pending()] == ["k/good.json"]
    assert spool.depth() == 1
    assert spool.rejected() == 2
    assert (tmp_path / "rejected" / path.name).read_bytes().endswith(b"tampered")


def test_invalid_keys_are_refused(tmp_path: Path) -> None:
    """The spool takes only keys every store can hold."""
    with pytest.raises(ValueError, match="invalid object key"):
        Spool(tmp_path).append("replace", "../escape", b"x")


def test_abandoned_temporary_files_are_cleaned_up(tmp_path: Path) -> None:
    """A temporary file left by a crash long ago is removed; a fresh one (in use) is kept."""
    old = tmp_path / ".tmp-old"
    fresh = tmp_path / ".tmp-fresh"
    old.write_bytes(b"x")
    fresh.write_bytes(b"x")
    an_hour_ago = time.time() - 2 * 3600
    os.utime(old, (an_hour_ago, an_hour_ago))

    spool = Spool(tmp_path)

    assert not old.exists() and fresh.exists()
    assert spool.depth() == 0


def test_only_one_replayer_at_a_time(tmp_path: Path) -> None:
    """While one holder has the replay lock, another (even in the same process) does not get it."""
    first, second = Spool(tmp_path), Spool(tmp_path)
    with first.exclusive() as got_first, second.exclusive() as got_second:
        assert got_first and not got_second
    with second.exclusive() as got_again:
        assert got_again
