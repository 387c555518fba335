"""LoRA adapters loaded into and out of a running vLLM server, through its admin endpoints.

vLLM must run with `--enable-lora --max-lora-rank 8` (the adapters' rank or more) and the
environment variable `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`; without it the endpoints
`POST /v1/load_lora_adapter` and `/v1/unload_lora_adapter` do not exist. The adapter folder
is read by the server, so its path must be valid where vLLM runs (a shared volume).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx

from training.errors import DeploymentError

_log = logging.getLogger(__name__)

_EXCERPT = 300
_SETUP_HINT = (
    "start vLLM with --enable-lora --max-lora-rank 8 and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True"
)


class VllmAdapterServer:
    """Implements training.deploy.AdapterServer for vLLM; every failure is a DeploymentError.

    `root_url` is the server root (`http://host:8000`, without `/v1`).
    """

    def __init__(
        self,
        *,
        root_url: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._root = root_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = timeout
        self._transport = transport

    def __repr__(self) -> str:
        return f"VllmAdapterServer(root_url={self._root!r})"

    async def loaded(self) -> list[str]:
        """Names of the LoRA adapters the server has loaded (models with a parent)."""
        body = await self._call("GET", "/v1/models")
        try:
            return [str(m["id"]) for m in body["data"] if m.get("parent")]
        except (KeyError, TypeError, AttributeError) as exc:
            raise DeploymentError(
                f"vLLM at {self._root} answered /v1/models without a list"
            ) from exc

    async def load(self, name: str, path: Path) -> None:
        """Loads the adapter in `path` under `name`; one already loaded by that name is kept."""
        if name in await self.loaded():
            _log.info("adapter %s is already loaded", name)
            return
        await self._call(
            "POST", "/v1/load_lora_adapter", json={"lora_name": name, "lora_path": str(path)}
        )
        _log.info("loaded adapter %s from %s", name, path)

    async def unload(self, name: str) -> None:
        """Unloads the adapter; one that is not loaded is not an error."""
        if name not in await self.loaded():
            return
        await self._call("POST", "/v1/unload_lora_adapter", json={"lora_name": name})
        _log.info("unloaded adapter %s", name)

    async def _call(self, method: str, path: str, *, json: Any = None) -> Any:
        url = self._root + path
        try:
            async with httpx.AsyncClient(
                timeout=self._timeout, transport=self._transport
            ) as client:
                response = await client.request(method, url, json=json, headers=self._headers)
        except httpx.HTTPError as exc:
            raise DeploymentError(
                f"cannot reach vLLM at {self._root} ({method} {path}): {type(exc).__name__}: {exc}"
            ) from exc
        if response.status_code == 404 and _no_such_route(response):
            raise DeploymentError(f"vLLM at {self._root} has no {path} endpoint: {_SETUP_HINT}")
        if not response.is_success:
            detail = " ".join(response.text.split())[:_EXCERPT]
            raise DeploymentError(
                f"vLLM answered {method} {path} with HTTP {response.status_code}: {detail}"
            )
        if path.endswith("_lora_adapter"):
            return response.text
        try:
            return response.json()
        except ValueError as exc:
            raise DeploymentError(f"vLLM answered {method} {path} with invalid JSON") from exc


def _no_such_route(response: httpx.Response) -> bool:
    """Whether a 404 is the web framework's (no such endpoint) rather than vLLM's own."""
    try:
        return bool(response.json() == {"detail": "Not Found"})
    except ValueError:
        return False
