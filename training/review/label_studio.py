"""A small client for Label Studio's REST API, with legacy token authentication.

Only what the review loop needs: find or create a project, list its tasks page by page (with
their annotations if asked), import tasks, and list users. Every request has a timeout, and
failures become LabelStudioError (refused: bad token, unknown project, invalid request) or
LabelStudioUnavailable (unreachable, timed out, server error). The token is never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any, Literal

import httpx

from core.errors import LeximindError, ServiceUnavailable

_log = logging.getLogger(__name__)

IMPORT_BATCH = 200


class LabelStudioError(LeximindError):
    """Label Studio refused a request: a bad token, an unknown project, invalid data."""


class LabelStudioUnavailable(ServiceUnavailable):
    """Label Studio could not be reached, timed out, or failed with a server error."""


class LabelStudioClient:
    """Talks to one Label Studio server as the user who owns `token`.

    `url` is the server root (e.g. `http://127.0.0.1:8080`); `timeout` applies to each
    request. Use as a context manager or call `close()`.
    """

    def __init__(self, *, url: str, token: str, timeout: float, page_size: int = 100) -> None:
        self._url = url.rstrip("/")
        self._page_size = page_size
        self._http = httpx.Client(
            base_url=self._url,
            headers={"Authorization": f"Token {token}", "Accept": "application/json"},
            timeout=timeout,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LabelStudioClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def project(self, project_id: int) -> dict[str, Any] | None:
        """The project with that id, or None when there is none (or the user cannot see it)."""
        try:
            return _object(self._request("GET", f"/api/projects/{project_id}"))
        except _NotFound:
            return None

    def find_project(self, title: str) -> dict[str, Any] | None:
        """The first project whose title is exactly `title`, or None."""
        page = 1
        while True:
            body = _object(
                self._request(
                    "GET",
                    "/api/projects",
                    params={"title": title, "page": page, "page_size": self._page_size},
                )
            )
            for project in body.get("results") or []:
                if isinstance(project, dict) and project.get("title") == title:
                    return project
            if not body.get("next"):
                return None
            page += 1

    def create_project(self, *, title: str, label_config: str, description: str) -> dict[str, Any]:
        """Creates a project with that labelling config; returns it (with its `id`)."""
        body = {"title": title, "label_config": label_config, "description": description}
        project = _object(self._request("POST", "/api/projects", json=body))
        _log.info("created Label Studio project %r (id %s)", title, project.get("id"))
        return project

    def tasks(
        self, project_id: int, *, fields: Literal["task_only", "all"] = "task_only"
    ) -> Iterator[dict[str, Any]]:
        """Every task of the project, page by page; `fields="all"` includes annotations."""
        page = 1
        seen = 0
        while True:
            params = {
                "project": project_id,
                "fields": fields,
                "page": page,
                "page_size": self._page_size,
            }
            try:
                body = _object(self._request("GET", "/api/tasks", params=params))
            except _NotFound:
                if page == 1:
                    raise LabelStudioError(f"Label Studio has no project {project_id}") from None
                return  # past the last page
            tasks = [t for t in body.get("tasks") or [] if isinstance(t, dict)]
            yield from tasks
            seen += len(tasks)
            total = body.get("total")
            if not tasks or (isinstance(total, int) and seen >= total):
                return
            page += 1

    def import_tasks(self, project_id: int, tasks: Sequence[dict[str, Any]]) -> int:
        """Adds tasks (`{"data": ..., "meta": ...}` dicts) in batches; returns how many."""
        created = 0
        for start in range(0, len(tasks), IMPORT_BATCH):
            batch = list(tasks[start : start + IMPORT_BATCH])
            body = _object(self._request("POST", f"/api/projects/{project_id}/import", json=batch))
            count = body.get("task_count")
            created += count if isinstance(count, int) else len(batch)
        return created

    def users(self) -> dict[int, str]:
        """User id -> email (or username) of the users this token can see."""
        users = self._request("GET", "/api/users/")
        found: dict[int, str] = {}
        for user in users if isinstance(users, list) else []:
            if isinstance(user, dict) and isinstance(user.get("id"), int):
                found[user["id"]] = str(user.get("email") or user.get("username") or user["id"])
        return found

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise LabelStudioUnavailable(
                f"Label Studio at {self._url} did not answer {method} {path} in time"
            ) from exc
        except httpx.HTTPError as exc:
            raise LabelStudioUnavailable(
                f"cannot reach Label Studio at {self._url}: {exc.__class__.__name__}: {exc}"
            ) from exc
        if response.status_code in (401, 403):
            raise LabelStudioError(
                f"Label Studio at {self._url} refused the token ({response.status_code}: "
                f"{_detail(response)}); check LEXIMIND_LABEL_STUDIO__TOKEN, and that legacy "
                "API tokens are enabled for the organisation"
            )
        if response.status_code == 404:
            raise _NotFound(f"{method} {path}: {_detail(response)}")
        if response.status_code >= 500:
            raise LabelStudioUnavailable(
                f"Label Studio at {self._url} failed on {method} {path} "
                f"({response.status_code}: {_detail(response)})"
            )
        if response.status_code >= 400:
            raise LabelStudioError(
                f"Label Studio rejected {method} {path} ({response.status_code}: "
                f"{_detail(response)})"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise LabelStudioError(
                f"Label Studio at {self._url} answered {method} {path} with something that is "
                "not JSON; is LEXIMIND_LABEL_STUDIO__URL the server root?"
            ) from exc


class _NotFound(LabelStudioError):
    """404 from Label Studio; callers that expect it turn it into None or a clearer error."""


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise LabelStudioError(f"unexpected answer from Label Studio: {str(body)[:200]}")
    return body


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason_phrase
    if isinstance(body, dict):
        for name in ("detail", "validation_errors", "message"):
            if body.get(name):
                return str(body[name])[:300]
    return str(body)[:300]
