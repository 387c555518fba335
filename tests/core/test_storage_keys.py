"""The key layout: where interactions and feedback live, and which keys are refused."""

from __future__ import annotations

import pytest

from core.object_keys import adapter_key, feedback_key, interaction_key, validate_key


def test_interaction_key_is_dated_by_the_utc_day() -> None:
    """interactions/YYYY/MM/DD/<id>.json, the day taken in UTC."""
    assert interaction_key("abc", "2026-11-25T10:00:00+00:00") == "interactions/2026/11/25/abc.json"
    assert interaction_key("abc", "2026-11-25T23:00:00-05:00") == "interactions/2026/11/26/abc.json"


def test_feedback_key_is_one_file_per_user_and_answer() -> None:
    """feedback/<interaction id>/<user hash>.json."""
    assert feedback_key("abc", "f" * 64) == f"feedback/abc/{'f' * 64}.json"


@pytest.mark.parametrize("iid", ["", "a/b", "..", ".hidden", "a\\b"])
def test_ids_that_would_change_the_layout_are_refused(iid: str) -> None:
    """An id must be one key segment: no '/', no dot-names."""
    with pytest.raises(ValueError, match="interaction id"):
        interaction_key(iid, "2026-11-25T10:00:00Z")
    with pytest.raises(ValueError, match="interaction id"):
        feedback_key(iid, "f" * 64)


@pytest.mark.parametrize("at", ["yesterday", "2026-11-25T10:00:00", ""])
def test_times_must_be_iso_with_an_offset(at: str) -> None:
    """A naive or unparsable time cannot be placed on a UTC day."""
    with pytest.raises(ValueError, match="created_at"):
        interaction_key("abc", at)


def test_valid_keys_pass_through() -> None:
    """Ordinary keys, with any Unicode letters, are returned unchanged."""
    for key in ("a", "datasets/v1/train.json", "datasets/ü/x-1_2.json"):
        assert validate_key(key) == key


def test_adapter_key_is_one_file_of_a_version() -> None:
    """adapters/<version>/<file>; a version or file name that would nest or hide is refused."""
    assert (
        adapter_key("leximind-1", "adapter_config.json")
        == "adapters/leximind-1/adapter_config.json"
    )
    for version, name in (("a/b", "x.json"), ("v1", ".hidden"), ("", "x.json"), ("v1", "")):
        with pytest.raises(ValueError):
            adapter_key(version, name)
