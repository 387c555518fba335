"""The ask page, the widget and /admin in a real headless Chromium over loopback servers.

Set LEXIMIND_SCREENSHOTS=docs/img to save the screenshots that docs/web.md shows.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.types import FeedbackLabel
from ops.api import create_app
from ops.settings import (
    AnswerSettings,
    BotSettings,
    EmbeddingSettings,
    LLMSettings,
    RetrievalSettings,
    Settings,
    WebSettings,
)
from rag.sources import read_tree
from tests.support.browser import chromium, free_port, serve_app, static_site
from tests.support.services import index_tree
from tests.support.vllm_server import VllmServer
from tests.web.seeds import Seed, put_interaction, put_label

SCREENSHOTS = os.environ.get("LEXIMIND_SCREENSHOTS", "")
TOKEN = "browser-dashboard-token-52e1"
WAIT_S = 60
HOSTILE_DOC = """# Banner

How to show the banner: <script>window.__xss = 1</script> and
<img src="x" onerror="window.__xss = 2"> then [open the banner](javascript:window.__xss=3)
and <a href="javascript:window.__xss=4" onclick="window.__xss=5">the banner page</a>.
"""


@dataclass
class Site:
    """The app and the two host sites of this module."""

    app: str
    allowed: str
    refused: str
    data: Path


def screenshot(driver: Any, name: str) -> None:
    """Saves a PNG to $LEXIMIND_SCREENSHOTS/name when that variable is set."""
    if SCREENSHOTS:
        folder = Path(SCREENSHOTS)
        folder.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(folder / name))


def host_page(folder: Path, app: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.html").write_text(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Project docs</title>"
        '<link rel="stylesheet" href="docs.css"></head><body><main><h1>Project docs</h1>'
        "<p>Install the package, then read the tutorial.</p></main>"
        f'<script src="{app}/widget.js" data-kb="default" async></script></body></html>',
        encoding="utf-8",
    )
    (folder / "docs.css").write_text(
        "body{font:16px/1.5 Georgia,serif;margin:2rem 4rem;color:#222;background:#fafaf7}",
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def site(
    indexed_data: Path, model_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """The app (the FastAPI index plus a knowledge base with hostile Markdown) and two static
    host sites on other loopback ports, of which only the first is an allowed origin."""
    data = tmp_path_factory.mktemp("browser") / "data"
    shutil.copytree(indexed_data, data)
    hostile = tmp_path_factory.mktemp("hostile")
    (hostile / "banner.md").write_text(HOSTILE_DOC, encoding="utf-8")
    app_port, allowed_port, refused_port = free_port(), free_port(), free_port()
    allowed = f"http://127.0.0.1:{allowed_port}"
    settings = Settings(
        _env_file=None,
        data_dir=data,
        embedding=EmbeddingSettings(cache_dir=model_cache),
        web=WebSettings(allowed_origins=[allowed], admin_token=TOKEN),
        # One browser asks every question of the module: no per-browser limit.
        bots=BotSettings(rate_limit=0),
    )
    tree = read_tree(hostile, max_bytes=1_000_000)
    index_tree(settings, tree, kb="hostile", source=str(hostile))
    app = f"http://127.0.0.1:{app_port}"
    pages = tmp_path_factory.mktemp("host")
    host_page(pages, app)
    # The host page's own strict CSP: scripts and requests only from itself and Leximind.
    csp = {
        "Content-Security-Policy": f"default-src 'self'; script-src 'self' {app}; "
        f"connect-src 'self' {app}; style-src 'self'"
    }
    with (
        serve_app(create_app(settings), app_port) as app_url,
        static_site(pages, allowed_port, csp) as allowed_url,
        static_site(pages, refused_port, csp) as refused_url,
    ):
        yield Site(app_url, allowed_url, refused_url, data)


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as found:
        yield found


def wait_for(driver: Any, script: str, *args: Any) -> Any:
    """Polls a JavaScript expression (`return ...`) until it is truthy; its value."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(
        lambda d: d.execute_script(script, *args)
    )


def ask(driver: Any, question: str) -> Any:
    """Types the question in the ask box, presses Enter, waits for the answer's feedback bar;
    the turn's element."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    turns = len(driver.find_elements(By.CSS_SELECTOR, "#conversation .turn"))
    box = driver.find_element(By.ID, "question")
    box.send_keys(question)
    box.send_keys(Keys.ENTER)
    wait_for(
        driver,
        "const t = document.querySelectorAll('#conversation .turn');"
        "return t.length > arguments[0] && t[t.length - 1].querySelector('.feedback, .error');",
        turns,
    )
    return driver.find_elements(By.CSS_SELECTOR, "#conversation .turn")[-1]


def stored_interaction(data: Path, interaction_id: str) -> dict[str, Any]:
    found = list(data.glob(f"objects/interactions/*/*/*/{interaction_id}.json"))
    assert len(found) == 1, interaction_id
    record: dict[str, Any] = json.loads(found[0].read_text(encoding="utf-8"))
    return record


def test_ask_and_read_an_answer_with_clickable_sources(driver: Any, site: Site) -> None:
    """The answer shows as HTML with its confidence, a feedback bar and numbered sources that
    link to their commit permalinks in a new tab."""
    from selenium.webdriver.common.by import By

    driver.get(site.app + "/")
    turn = ask(driver, "How do I enable CORS in FastAPI?")
    answer = turn.find_element(By.CSS_SELECTOR, ".answer")
    assert answer.text.strip() and "streaming" not in answer.get_attribute("class")
    assert "confidence" in turn.find_element(By.CSS_SELECTOR, ".meta").text.lower()
    links = turn.find_elements(By.CSS_SELECTOR, ".sources a.source-link")
    assert links and "cors.md" in links[0].text
    href = links[0].get_attribute("href")
    assert href.startswith("https://github.com/fastapi/fastapi/blob/") and "cors.md" in href
    assert links[0].get_attribute("target") == "_blank"
    assert "noopener" in links[0].get_attribute("rel")
    screenshot(driver, "ask-page.png")
    before = set(driver.window_handles)
    links[0].click()
    wait_for(driver, "return true")
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT_S).until(lambda d: len(d.window_handles) > len(before))
    (opened,) = set(driver.window_handles) - before
    main = driver.current_window_handle
    driver.switch_to.window(opened)
    try:
        # The network is closed: the tab shows an error page, but it went to the permalink.
        WebDriverWait(driver, WAIT_S).until(lambda d: d.current_url != "about:blank")
        shown = driver.execute_script("return location.href")
        assert driver.current_url == href or shown.startswith("chrome-error://")
    finally:
        driver.close()
        driver.switch_to.window(main)


def test_a_follow_up_sends_the_conversation_so_far(driver: Any, site: Site) -> None:
    """A second question in the same conversation carries the first question and answer
    (kept in the page) as history; "New conversation" starts again without it."""
    from selenium.webdriver.common.by import By

    driver.get(site.app + "/")
    first = ask(driver, "How do I run background tasks?")
    first_text = stored_interaction(site.data, first.get_attribute("data-interaction"))
    second = ask(driver, "And how do I test them?")
    record = stored_interaction(site.data, second.get_attribute("data-interaction"))
    history = record["question"]["history"]
    assert [h["question"] for h in history] == ["How do I run background tasks?"]
    assert history[0]["answer"] == first_text["answer"]["text"]
    assert record["question"]["platform"] == "web"
    driver.find_element(By.ID, "new-conversation").click()
    third = ask(driver, "And how do I test them?")
    assert (
        stored_interaction(site.data, third.get_attribute("data-interaction"))["question"][
            "history"
        ]
        == []
    )


def test_thumbs_down_is_stored_as_negative_feedback(driver: Any, site: Site) -> None:
    """👎 on an answer writes one negative label for this browser to the object store."""
    from selenium.webdriver.common.by import By

    driver.get(site.app + "/")
    turn = ask(driver, "How do I declare a request body?")
    interaction = turn.get_attribute("data-interaction")
    down = turn.find_element(By.CSS_SELECTOR, "button.feedback-down")
    down.click()
    wait_for(driver, "return arguments[0].getAttribute('aria-pressed') === 'true'", down)
    assert turn.find_element(By.CSS_SELECTOR, ".feedback-note").text == "Thanks, noted."
    records = list((site.data / "objects" / "feedback" / interaction).glob("*.json"))
    assert len(records) == 1
    stored = json.loads(records[0].read_text(encoding="utf-8"))
    assert (stored["label"], stored["platform"], stored["emoji"]) == ("negative", "web", "👎")
    client = driver.execute_script("return localStorage.getItem('leximind-client')")
    assert client and client not in records[0].name and client not in records[0].read_text()


def test_model_text_is_rendered_inert(driver: Any, site: Site) -> None:
    """A question and an answer quoting Markdown with <script>, an onerror image and
    javascript: links show as text: nothing runs, no such element or link is on the page."""
    from selenium.webdriver.common.by import By

    driver.get(site.app + "/?kb=hostile")
    question = '<script>window.__xss=9</script><img src=x onerror="window.__xss=8"> banner?'
    turn = ask(driver, "How do I show the banner? " + question)
    assert question in turn.find_element(By.CSS_SELECTOR, ".question").text
    answer = turn.find_element(By.CSS_SELECTOR, ".answer")
    assert "banner" in answer.text.lower()
    found = driver.execute_script(
        "const c = document.getElementById('conversation');"
        "return {xss: window.__xss === undefined ? null : window.__xss,"
        " scripts: c.querySelectorAll('script, img, iframe').length,"
        " handlers: Array.from(c.querySelectorAll('*')).filter("
        "   (e) => Array.from(e.attributes).some((a) => a.name.startsWith('on'))).length,"
        " js: Array.from(c.querySelectorAll('a')).filter("
        "   (a) => a.href.toLowerCase().startsWith('javascript:')).length};"
    )
    assert found == {"xss": None, "scripts": 0, "handlers": 0, "js": 0}


def test_keyboard_only_use_of_the_ask_box(driver: Any, site: Site) -> None:
    """The box has focus on load; Shift+Enter is a new line, Enter asks, Tab reaches the Ask
    button, and Shift+Tab from the box reaches the answer's feedback buttons."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    driver.get(site.app + "/")
    assert driver.switch_to.active_element.get_attribute("id") == "question"
    keys = ActionChains(driver)
    keys.send_keys("How do I enable CORS?").key_down(Keys.SHIFT).send_keys(Keys.ENTER)
    keys.key_up(Keys.SHIFT).send_keys("With credentials").perform()
    assert driver.execute_script("return document.getElementById('question').value") == (
        "How do I enable CORS?\nWith credentials"
    )
    ActionChains(driver).send_keys(Keys.TAB).perform()
    assert driver.switch_to.active_element.get_attribute("id") == "ask"
    ActionChains(driver).send_keys(Keys.SPACE).perform()
    wait_for(driver, "return document.querySelector('#conversation .turn .feedback')")
    assert driver.switch_to.active_element.get_attribute("id") == "question"
    ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
    focused = driver.switch_to.active_element
    assert focused.get_attribute("data-button") == "fixed"
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    wait_for(driver, "return arguments[0].getAttribute('aria-pressed') === 'true'", focused)


def open_widget(driver: Any, url: str) -> Any:
    """Loads a host page, presses the widget's Ask button; the widget's shadow root."""
    driver.get(url + "/")
    host = wait_for(driver, "return document.querySelector('.leximind-widget')")
    shadow = host.shadow_root
    from selenium.webdriver.common.by import By

    shadow.find_element(By.CSS_SELECTOR, "button.open").click()
    return shadow


def test_the_widget_asks_from_an_allowed_origin(driver: Any, site: Site) -> None:
    """On an allowed docs site with its own strict CSP the widget, styled, asks the app and
    shows the answer with its sources."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    shadow = open_widget(driver, site.allowed)
    button = shadow.find_element(By.CSS_SELECTOR, "button.open")
    assert driver.execute_script("return getComputedStyle(arguments[0]).position", button) == (
        "fixed"
    )
    box = shadow.find_element(By.CSS_SELECTOR, "textarea.box")
    box.send_keys("How do I enable CORS in FastAPI?")
    box.send_keys(Keys.ENTER)
    wait_for(
        driver,
        "return arguments[0].querySelector('.turn .feedback')",
        shadow.find_element(By.CSS_SELECTOR, ".conversation"),
    )
    sources = shadow.find_elements(By.CSS_SELECTOR, ".sources a.source-link")
    assert sources and "cors.md" in sources[0].text
    assert shadow.find_element(By.CSS_SELECTOR, ".answer").text.strip()
    screenshot(driver, "widget.png")
    assert driver.execute_script("return document.cookie") == ""


def test_the_widget_is_refused_on_another_origin(driver: Any, site: Site) -> None:
    """On a site that is not an allowed origin the widget says so, and the browser blocks
    the page's own cross-site calls to the API (no CORS headers for it)."""
    from selenium.webdriver.common.by import By

    shadow = open_widget(driver, site.refused)
    wait_for(
        driver,
        "return arguments[0].classList.contains('refused')",
        shadow.find_element(By.CSS_SELECTOR, ".panel"),
    )
    assert "not allowed" in shadow.find_element(By.CSS_SELECTOR, ".status").text
    outcome = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0] + '/ask/stream', {method: 'POST', mode: 'cors',"
        " headers: {'content-type': 'application/json'}, body: '{\"question\": \"x\"}'})"
        ".then((r) => done('status ' + r.status), (e) => done('blocked ' + e.name));",
        site.app,
    )
    assert outcome == "blocked TypeError"


def test_admin_in_the_browser(driver: Any, site: Site) -> None:
    """/admin asks for the token, refuses a wrong one, and shows the dashboard with the
    right one, its charts drawn as SVG."""
    from selenium.webdriver.common.by import By

    seed_history(site)
    driver.get(site.app + "/admin")
    assert driver.find_elements(By.ID, "token") and not driver.find_elements(By.ID, "total")
    driver.find_element(By.ID, "token").send_keys("not-the-token-at-all")
    driver.find_element(By.CSS_SELECTOR, "form.login button").click()
    alert = wait_for(driver, "return document.querySelector('[role=alert]')")
    assert "not the dashboard" in alert.text
    driver.find_element(By.ID, "token").send_keys(TOKEN)
    driver.find_element(By.CSS_SELECTOR, "form.login button").click()
    total = wait_for(driver, "return document.getElementById('total')")
    assert int(total.text) > 0
    assert len(driver.find_elements(By.CSS_SELECTOR, "svg.chart")) == 3
    assert TOKEN not in driver.page_source
    driver.set_window_size(1200, 1800)
    screenshot(driver, "dashboard.png")
    driver.set_window_size(1200, 900)


def seed_history(site: Site) -> None:
    """Two weeks of questions from every surface, for a dashboard worth looking at."""
    from adapters.storage.local import LocalObjectStore

    store = LocalObjectStore(site.data / "objects")
    surfaces = ("slack", "discord", "github", "web", "api")
    pages = ("docs/en/docs/tutorial/cors.md", "docs/en/docs/tutorial/background-tasks.md",
             "docs/en/docs/tutorial/body.md", "README.md")  # fmt: skip
    n = 0
    for days_ago in range(14):
        for i in range(3 + (days_ago * 7) % 5):
            n += 1
            surface = surfaces[(i + days_ago) % len(surfaces)]
            declined = n % 7 == 0
            path = pages[(n * 3) % len(pages)]
            seed = Seed(
                f"5eed{n:04x}", days_ago, surface, "See [1].", (path,),
                "adapter-v2" if n % 4 == 0 else "adapter-v1", abstained=declined,
                question=f"Question {n} about {path.rsplit('/', 1)[-1]}?",
            )  # fmt: skip
            put_interaction(store, seed)
            if n % 5 == 0:
                label = FeedbackLabel.NEGATIVE if n % 10 == 0 else FeedbackLabel.POSITIVE
                put_label(store, seed.id, f"{n:032x}", label)


@pytest.mark.vllm
def test_tokens_appear_before_the_answer_ends(
    driver: Any,
    site: Site,
    vllm_server: VllmServer,
    model_cache: Path,
) -> None:
    """With the real vLLM test server the answer grows on the page, token by token, while it
    is still marked as streaming; then it is replaced by the final HTML."""
    settings = Settings(
        _env_file=None,
        data_dir=site.data,
        embedding=EmbeddingSettings(cache_dir=model_cache),
        llm=LLMSettings(
            base_url=vllm_server.base_url,
            model=vllm_server.model,
            timeout=60,
            max_tokens=48,
            temperature=0,
        ),
        retrieval=RetrievalSettings(top_k=2),
        # The tiny random Llama writes noise: the test is about the plumbing (grounding off).
        answer=AnswerSettings(max_context_chars=500, grounding=False),
        bots=BotSettings(rate_limit=0),
    )
    with serve_app(create_app(settings), free_port()) as url:
        driver.get(url + "/")
        driver.execute_script(
            "window.__seen = [];"
            "new MutationObserver(() => {"
            "  const a = document.querySelector('#conversation .turn:last-child .answer');"
            "  if (a) window.__seen.push([a.classList.contains('streaming'), a.textContent]);"
            "}).observe(document.getElementById('conversation'),"
            " {subtree: true, childList: true, characterData: true, attributes: true});"
        )
        turn = ask(driver, "How do I configure CORS middleware?")
        seen = driver.execute_script("return window.__seen")
    streaming = [text for is_streaming, text in seen if is_streaming and text]
    assert len(set(streaming)) >= 2, seen
    assert all(b.startswith(a) for a, b in itertools.pairwise(streaming))
    assert not seen[-1][0]
    from selenium.webdriver.common.by import By

    assert vllm_server.model in turn.find_element(By.CSS_SELECTOR, ".meta").text
