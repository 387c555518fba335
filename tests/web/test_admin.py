"""/admin: the token check, and the dashboard's figures from logs seeded in a real S3 store."""

from __future__ import annotations

import asyncio
import hmac
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.types import FeedbackLabel
from ops.api import create_app
from ops.settings import EmbeddingSettings, Settings, StorageSettings, WebSettings
from tests.support.seaweedfs import SeaweedServer
from tests.web.seeds import TODAY, Seed, put_interaction, put_label
from web.security import CONTENT_SECURITY_POLICY

TOKEN = "dashboard-token-7f3a9c1e5b"
CHAMPION, CHALLENGER = "adapter-v1", "adapter-v2"
SEEDS = [
    Seed("a1000001", 2, "slack", "Set it in the config [1].", ("a.md", "b.md"), CHAMPION),
    Seed("a1000002", 2, "web", "See [1] and [2].", ("a.md", "b.md"), CHALLENGER),
    Seed(
        "a1000003",
        1,
        "discord",
        "I don't know.",
        ("d.md",),
        CHAMPION,
        abstained=True,
        question='<script>alert("q")</script> where is the <img src=x onerror=alert(1)> flag?',
    ),
    Seed("a1000004", 1, "github", "It is configured there.", ("c.md",), CHAMPION),
    Seed("a1000005", 1, "api", "Use [1].", ("a.md",), CHAMPION, kb="other"),
    Seed("a1000006", 0, "web", "Yes [1].", ("b.md", "a.md"), CHALLENGER),
    Seed("a1000007", 10, "api", "Long ago [1].", ("a.md",), CHAMPION),  # outside the period
]
# (interaction, user) -> label; None: a label that was taken back.
LABELS: dict[tuple[str, str], FeedbackLabel | None] = {
    ("a1000002", "1" * 32): FeedbackLabel.NEGATIVE,
    ("a1000002", "2" * 32): FeedbackLabel.POSITIVE,
    ("a1000004", "1" * 32): FeedbackLabel.POSITIVE,
    ("a1000006", "3" * 32): FeedbackLabel.NEGATIVE,
    ("a1000006", "4" * 32): None,
}


@pytest.fixture
def admin(tmp_path: Path, model_cache: Path, seaweedfs: SeaweedServer) -> Iterator[TestClient]:
    """The app over a fresh bucket of the session's SeaweedFS, with a canary staged."""
    storage = StorageSettings(
        backend="s3",
        endpoint=seaweedfs.endpoint,
        access_key=seaweedfs.access_key,
        secret_key=seaweedfs.secret_key,
        secure=False,
        bucket=f"web-admin-{uuid.uuid4().hex[:12]}",
    )
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        embedding=EmbeddingSettings(cache_dir=model_cache),
        storage=storage,
        web=WebSettings(admin_token=TOKEN),
    )
    with TestClient(create_app(settings)) as client:
        services = client.app.state.services  # type: ignore[attr-defined]
        asyncio.run(services.active_model.switch(CHAMPION))
        asyncio.run(services.active_model.stage(CHALLENGER, 0.25))
        for seed in SEEDS:
            put_interaction(services.object_store, seed)
        for (interaction, user), label in LABELS.items():
            put_label(services.object_store, interaction, user, label)
        yield client


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def table(html: str, table_id: str) -> list[list[str]]:
    """The body rows of the table with this id, as cell texts (tags stripped)."""
    body = html.split(f'id="{table_id}"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    cells = (re.findall(r"<td>(.*?)</td>", r, re.S) for r in rows)
    return [[re.sub(r"<[^>]+>", "", c) for c in row] for row in cells]


def card(html: str, card_id: str) -> str:
    found = re.search(rf'id="{card_id}">([^<]*)<', html)
    assert found, card_id
    return found.group(1)


def test_admin_needs_the_token(admin: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the token, with a wrong one (also of another length or non-ASCII) /admin is a
    401 sign-in page; the check is hmac.compare_digest; the token is never rendered."""
    compared: list[bytes] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append(b)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    wrong = (None, b"x" * len(TOKEN), b"short", "tökén-ünïcode-wrong".encode())
    for token in wrong:
        headers = [] if token is None else [(b"authorization", b"Bearer " + token)]
        r = admin.get("/admin", headers=headers)
        assert r.status_code == 401, token
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert 'name="token"' in r.text and "Questions per day" not in r.text
        assert TOKEN not in r.text
    assert TOKEN.encode() in compared
    cookie = admin.get("/admin", cookies={"leximind_admin": "forged"})
    assert cookie.status_code == 401

    ok = admin.get("/admin", headers=bearer())
    assert ok.status_code == 200 and "Questions per day" in ok.text
    assert ok.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert TOKEN not in ok.text and "leximind-test-secret" not in ok.text


def test_sign_in_form_sets_a_session_cookie(admin: TestClient) -> None:
    """The sign-in form needs the page's CSRF token and the right token; then a cookie scoped
    to /admin (not the token itself) opens the dashboard."""
    page = admin.get("/admin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    wrong = admin.post("/admin/login", data={"csrf": csrf.group(1), "token": "nope"})
    assert wrong.status_code == 401 and "not the dashboard" in wrong.text
    no_csrf = admin.post("/admin/login", data={"token": TOKEN})
    assert no_csrf.status_code == 401
    r = admin.post(
        "/admin/login", data={"csrf": csrf.group(1), "token": TOKEN}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    set_cookie = r.headers["set-cookie"]
    assert "Path=/admin" in set_cookie and "HttpOnly" in set_cookie and TOKEN not in set_cookie
    assert admin.get("/admin").status_code == 200  # the client keeps the cookie


def test_dashboard_off_without_a_token(tmp_path: Path, model_cache: Path) -> None:
    """With no LEXIMIND_WEB__ADMIN_TOKEN there is no dashboard at all: a 404."""
    settings = Settings(
        _env_file=None, data_dir=tmp_path, embedding=EmbeddingSettings(cache_dir=model_cache)
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/admin", headers=bearer()).status_code == 404


def test_dashboard_figures_from_the_logs(admin: TestClient) -> None:
    """Questions per day by surface, the shares, the pages cited most, the declined and
    disliked questions and the answers and feedback per model, over three days, all bases."""
    r = admin.get("/admin", params={"days": 3}, headers=bearer())
    assert r.status_code == 200
    html = r.text
    assert card(html, "total") == "6"
    assert (card(html, "answered"), card(html, "declined"), card(html, "disliked")) == (
        "83%", "17%", "33%",
    )  # fmt: skip
    day = {n: (TODAY - timedelta(days=n)).date().isoformat() for n in range(3)}
    bars = set(re.findall(r"<title>(\d{4}-\d\d-\d\d [a-z]+: \d+)</title>", html))
    assert bars == {
        f"{day[2]} slack: 1", f"{day[2]} web: 1",
        f"{day[1]} discord: 1", f"{day[1]} github: 1", f"{day[1]} api: 1",
        f"{day[0]} web: 1",
    }  # fmt: skip
    assert table(html, "top-pages") == [
        ["a.md", "3", "50.0%"],
        ["b.md", "2", "33.3%"],
        ["c.md", "1", "16.7%"],
    ]
    declined = table(html, "declined-questions")
    assert [row[1] for row in declined] == ["discord"]
    assert "&lt;script&gt;" in declined[0][2] and "<script>" not in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in declined[0][2]
    disliked = table(html, "disliked-questions")
    assert [(row[1], row[2]) for row in disliked] == [("web", CHALLENGER), ("web", CHALLENGER)]
    assert table(html, "models") == [
        [CHAMPION, "4", "1", "1", "0"],
        [CHALLENGER, "2", "0", "1", "2"],
    ]
    rollout = html.split('id="rollout">', 1)[1].split("</p>", 1)[0]
    assert "Canary running" in rollout and CHALLENGER in rollout and "25%" in rollout
    assert html.count("<svg") == 3 and "<script" not in html

    one = admin.get("/admin", params={"days": 3, "kb": "other"}, headers=bearer()).text
    assert card(one, "total") == "1" and table(one, "top-pages") == [["a.md", "1", "100.0%"]]
    longer = admin.get("/admin", params={"days": 11}, headers=bearer()).text
    assert card(longer, "total") == "7"


def test_dashboard_reads_new_records_incrementally(admin: TestClient) -> None:
    """After a first view, a new interaction and changed labels show on the next one; the
    aggregate is kept in the store under analytics/."""
    first = admin.get("/admin", params={"days": 3}, headers=bearer()).text
    assert card(first, "total") == "6" and card(first, "disliked") == "33%"
    store = admin.app.state.services.object_store  # type: ignore[attr-defined]
    assert any(k.startswith("analytics/interactions/") for k in store.list("analytics/"))
    put_interaction(store, Seed("a1000008", 0, "slack", "Here [1].", ("c.md",), CHAMPION))
    put_label(store, "a1000002", "1" * 32, None)  # the 👎 taken back
    put_label(store, "a1000001", "5" * 32, FeedbackLabel.NEGATIVE)
    again = admin.get("/admin", params={"days": 3}, headers=bearer()).text
    assert card(again, "total") == "7"
    assert [r[0] for r in table(again, "top-pages")] == ["a.md", "b.md", "c.md"]
    assert table(again, "top-pages")[2] == ["c.md", "2", "28.6%"]
    assert card(again, "disliked") == "29%"  # a1000001 and a1000006 of 7
    assert table(again, "models")[0] == [CHAMPION, "5", "1", "1", "1"]


def test_damaged_aggregate_is_rebuilt_from_the_logs(admin: TestClient) -> None:
    """A sealed day's stored summary and rows, both damaged between two views, are rebuilt
    from the logs: the same figures, no error, and a new summary stored in S3."""
    params = {"days": 11}
    first = admin.get("/admin", params=params, headers=bearer()).text
    assert card(first, "total") == "7"
    store = admin.app.state.services.object_store  # type: ignore[attr-defined]
    sealed = (TODAY - timedelta(days=10)).strftime("%Y/%m/%d")
    summary, rows = f"analytics/days/{sealed}.json", f"analytics/interactions/{sealed}.json"
    assert store.exists(summary)
    for key in (summary, rows):
        store.put(key, store.get(key)[:40])
    again = admin.get("/admin", params=params, headers=bearer())
    assert again.status_code == 200
    assert card(again.text, "total") == "7"
    assert table(again.text, "top-pages") == table(first, "top-pages")
    assert len(store.get(summary)) > 40
