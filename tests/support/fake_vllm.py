"""A small fake of vLLM's OpenAI API with runtime LoRA loading, on a loopback port.

Serves `/v1/models`, `/v1/chat/completions`, `/v1/load_lora_adapter` and
`/v1/unload_lora_adapter` like vLLM does (same status codes and shapes for what Leximind
uses). What a model answers is scripted: the base model from `base_answers`, an adapter from
`answers.json` in the folder it was loaded from ({prompt: answer}); an unknown prompt gets
`default_answer`. Every chat request is kept in `requests`; `in_flight_peak` is the most
requests it was answering at once, and with `barrier` set the first requests wait until that
many are in flight together.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

ANSWERS_FILE = "answers.json"


def write_fake_adapter(folder: Path, answers: dict[str, str]) -> Path:
    """An adapter folder the fake can load: a PEFT-style config and the scripted answers."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    (folder / ANSWERS_FILE).write_text(json.dumps(answers))
    return folder


class FakeVllm:
    """The fake server's state; `root_url` and `base_url` as for a real vLLM."""

    def __init__(self, server: HTTPServer, base_model: str) -> None:
        self.server = server
        self.base_model = base_model
        self.base_answers: dict[str, str] = {}
        self.default_answer = "I cannot say."
        self.adapters: dict[str, dict[str, str]] = {}
        self.requests: list[dict[str, Any]] = []
        self.failing: set[str] = set()
        self.lora_routes = True
        self.barrier: threading.Barrier | None = None
        self.in_flight_peak = 0
        self._in_flight = 0
        self._lock = threading.Lock()

    @property
    def root_url(self) -> str:
        return self.server.url_for("").rstrip("/")

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def handle(self, request: Request) -> Response:
        """Routes one request."""
        path = request.path
        if path == "/v1/models":
            return self._models()
        if path == "/v1/chat/completions":
            return self._chat(request)
        if path in ("/v1/load_lora_adapter", "/v1/unload_lora_adapter") and self.lora_routes:
            body = request.get_json()
            return self._load(body) if path.endswith("/load_lora_adapter") else self._unload(body)
        return _json(404, {"detail": "Not Found"})

    def _models(self) -> Response:
        data = [{"id": self.base_model, "object": "model", "parent": None}]
        data += [
            {"id": name, "object": "model", "parent": self.base_model} for name in self.adapters
        ]
        return _json(200, {"object": "list", "data": data})

    def _load(self, body: dict[str, Any]) -> Response:
        name, path = body["lora_name"], Path(body["lora_path"])
        if name in self.adapters:
            return _error(400, f"The lora adapter '{name}' has already been loaded.")
        try:
            answers = json.loads((path / ANSWERS_FILE).read_text())
        except OSError:
            return _error(404, f"Loading lora {name} failed: No adapter found for {path}")
        self.adapters[name] = answers
        return Response(f"Success: LoRA adapter '{name}' added successfully.", status=200)

    def _unload(self, body: dict[str, Any]) -> Response:
        name = body["lora_name"]
        if self.adapters.pop(name, None) is None:
            return _error(404, f"The lora adapter '{name}' cannot be found.")
        return Response(f"Success: LoRA adapter '{name}' removed successfully.", status=200)

    def _chat(self, request: Request) -> Response:
        body = request.get_json()
        with self._lock:
            self.requests.append(body)
            self._in_flight += 1
            self.in_flight_peak = max(self.in_flight_peak, self._in_flight)
        try:
            if self.barrier is not None:
                self.barrier.wait()
            return self._reply(body)
        except threading.BrokenBarrierError:
            return _error(500, "requests did not arrive together")
        finally:
            with self._lock:
                self._in_flight -= 1

    def _reply(self, body: dict[str, Any]) -> Response:
        model = body["model"]
        if model in self.failing:
            return _error(500, "the engine died")
        if model == self.base_model:
            answers = self.base_answers
        elif model in self.adapters:
            answers = self.adapters[model]
        else:
            return _error(404, f"The model `{model}` does not exist.")
        prompt = body["messages"][-1]["content"]
        text = answers.get(prompt, self.default_answer)
        return _json(
            200,
            {
                "object": "chat.completion",
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
            },
        )


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json(status, {"error": {"message": message, "code": status}})


@contextmanager
def fake_vllm(base_model: str = "base-model") -> Iterator[FakeVllm]:
    """A running fake on a free loopback port, answering concurrent requests in threads."""
    server = HTTPServer(host="127.0.0.1", threaded=True)
    fake = FakeVllm(server, base_model)
    server.expect_request("/v1/models", method="GET").respond_with_handler(fake.handle)
    for path in ("/v1/chat/completions", "/v1/load_lora_adapter", "/v1/unload_lora_adapter"):
        server.expect_request(path, method="POST").respond_with_handler(fake.handle)
    server.start()
    try:
        yield fake
    finally:
        server.clear()
        if server.is_running():
            server.stop()
