"""Real servers and a real browser for the web tests: the app under uvicorn in a thread, a
static host site on another loopback origin, and Debian's headless Chromium via Selenium."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

HOST = "127.0.0.1"
CHROMIUM = ("chromium", "chromium-browser")
CHROMEDRIVER = "chromedriver"
# A closed network: nothing but the loopback servers of the test may be called.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1200,900",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def require_chromium() -> tuple[str, str]:
    """(chromium, chromedriver) on the PATH; the calling test is skipped, with the reason,
    when either is absent."""
    browser = next((found for name in CHROMIUM if (found := shutil.which(name))), None)
    driver = shutil.which(CHROMEDRIVER)
    if browser is None or driver is None:
        pytest.skip(
            "needs Debian's chromium and chromium-driver on the PATH "
            "(apt-get install chromium chromium-driver; .ci/run does)"
        )
    return browser, driver


@contextmanager
def chromium(profile: Path) -> Iterator[Any]:
    """A headless Chromium with a fresh profile, driven by Selenium; quit on exit."""
    browser, driver_path = require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@contextmanager
def serve_app(app: FastAPI, port: int, *, deadline_s: float = 120.0) -> Iterator[str]:
    """`app` under uvicorn on 127.0.0.1:`port` in a thread (lifespan included); its URL."""
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    stop_at = time.monotonic() + deadline_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > stop_at:
            server.should_exit = True
            raise RuntimeError("the app did not start under uvicorn")
        time.sleep(0.05)
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class _HostSiteHandler(SimpleHTTPRequestHandler):
    """Serves a folder with fixed extra headers (the host page's own CSP)."""

    extra_headers: Mapping[str, str] = {}

    def end_headers(self) -> None:
        for name, value in self.extra_headers.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def static_site(folder: Path, port: int, headers: Mapping[str, str]) -> Iterator[str]:
    """`folder` served on 127.0.0.1:`port` with `headers` on every response; its URL."""
    handler = type("Handler", (_HostSiteHandler,), {"extra_headers": dict(headers)})
    httpd = ThreadingHTTPServer((HOST, port), partial(handler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, name=f"site-{port}", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
