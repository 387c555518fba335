"""`leximind gaps`: the questions the docs could not answer, grouped and ranked (rag.gaps);
`--open-issue` keeps one GitHub issue per knowledge base up to date."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from core.errors import LeximindError
from core.object_keys import CORRECTIONS, interaction_key
from core.types import ChunkKind
from ops.cli_support import console, kb_name, with_services
from ops.cli_support import fail as _fail
from ops.cli_support import load_cli_settings as _settings
from rag.gaps import (
    CLUSTER_THRESHOLD,
    ISSUE_LABEL,
    FailedQuestion,
    GapReport,
    PageMatch,
    failure_reason,
    find_gaps,
    issue_body,
    issue_marker,
    issue_title,
    with_pages,
)

if TYPE_CHECKING:
    from core.ports import ObjectStore
    from ops.settings import Settings
    from ops.wiring import Process, Services

_log = logging.getLogger(__name__)

_SINCE = re.compile(r"(\d{1,4})([dw])")
PAGES_SHOWN = 3


def parse_since(value: str, *, today: date) -> date:
    """The first day of `--since`: `30d`, `2w` or a day (YYYY-MM-DD); ValueError otherwise."""
    found = _SINCE.fullmatch(value.strip())
    if found:
        days = int(found.group(1)) * (7 if found.group(2) == "w" else 1)
        return today - timedelta(days=max(days - 1, 0))
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"--since {value!r}: use a number of days (30d), weeks (2w) or a day"
        ) from None


def failed_questions(
    objects: ObjectStore,
    *,
    start: date,
    end: date,
    kb: str | None,
    default_kb: str,
    min_relevance: float,
) -> list[FailedQuestion]:
    """The questions asked from `start` to `end` whose answers were declined, disliked or
    corrected; blocking (reads the logs through the dashboard's aggregate)."""
    from web.analytics import LogAggregate

    aggregate = LogAggregate(objects, default_kb=default_kb)
    rows = [r for r in aggregate.rows(start, end) if kb is None or r.kb == kb]
    labels = aggregate.labels()
    corrected = {key[len(CORRECTIONS) :].removesuffix(".json") for key in objects.list(CORRECTIONS)}
    failed = []
    for row in rows:
        votes = labels.get(row.id)
        if not (row.abstained or row.id in corrected or (votes and votes["negative"])):
            continue
        record = _record(objects, interaction_key(row.id, row.at))
        if record is None:
            continue
        answer, question = record.get("answer") or {}, record.get("question") or {}
        best = max((float(s.get("score") or 0) for s in answer.get("sources") or []), default=0.0)
        reason = failure_reason(
            abstained=row.abstained,
            best_score=best,
            min_relevance=min_relevance,
            positive=votes["positive"] if votes else 0,
            negative=votes["negative"] if votes else 0,
            corrected=row.id in corrected,
        )
        if reason is None:
            continue
        failed.append(
            FailedQuestion(
                interaction_id=row.id,
                kb=row.kb,
                question=str(question.get("text") or row.question),
                asked_at=row.at,
                platform=row.platform,
                user=str(question["user_hash"]) if question.get("user_hash") else None,
                reason=reason,
                best_score=best,
            )
        )
    return failed


def _record(objects: ObjectStore, key: str) -> dict[str, Any] | None:
    try:
        record = json.loads(objects.get(key))
    except KeyError:
        return None
    except ValueError as exc:
        _log.error("skipping unreadable interaction %s: %s", key, exc)
        return None
    return record if isinstance(record, dict) else None


async def gap_report(
    services: Services,
    *,
    start: date,
    end: date,
    kb: str | None,
    default_kb: str,
    threshold: float = CLUSTER_THRESHOLD,
) -> GapReport:
    """The gaps of a period: failed questions clustered, each with the docs pages closest to
    its representative question in the index as it is now."""
    min_relevance = services.answers.policy.min_relevance
    failed = await asyncio.to_thread(
        failed_questions,
        services.object_store,
        start=start,
        end=end,
        kb=kb,
        default_kb=default_kb,
        min_relevance=min_relevance,
    )
    vectors = await asyncio.to_thread(services.embedder.embed, [q.question for q in failed])
    gaps = find_gaps(failed, vectors, threshold=threshold)
    placed = []
    for gap in gaps:
        pages = await _closest_pages(services, gap.representative, gap.kb)
        placed.append(with_pages(gap, pages, min_relevance=min_relevance))
    return GapReport(since=start.isoformat(), until=end.isoformat(), kb=kb, gaps=tuple(placed))


async def _closest_pages(services: Services, question: str, kb: str) -> list[PageMatch]:
    try:
        found = await services.retriever.search(question, kb=kb, k=10, kind=ChunkKind.DOC)
    except LeximindError as exc:
        _log.warning("no pages for a gap of %s: %s", kb, exc)
        return []
    pages: dict[str, PageMatch] = {}
    for source in found:
        chunk = source.chunk
        if chunk.path not in pages:
            pages[chunk.path] = PageMatch(chunk.path, chunk.title, round(source.score, 3))
    return list(pages.values())[:PAGES_SHOWN]


def print_report(report: GapReport) -> None:
    table = Table("#", "kb", "asked", "users", "why", "question", "closest pages", "belongs")
    for n, gap in enumerate(report.gaps, start=1):
        pages = "\n".join(f"{p.path} ({p.score:.2f})" for p in gap.pages) or "-"
        why = ", ".join(f"{r} {c}" for r, c in gap.reasons.items())
        table.add_row(
            str(n), gap.kb, str(len(gap.questions)), str(gap.users), why, gap.representative,
            pages, gap.belongs,
        )  # fmt: skip
    console.print(table)
    console.print(
        f"{report.questions} questions in {len(report.gaps)} gaps, {report.since} to {report.until}"
    )


async def open_issues(
    settings: Settings, process: Process, report: GapReport
) -> list[tuple[str, int, bool]]:
    """Opens or updates the gaps issue of each knowledge base with gaps in LEXIMIND_MEMORY__
    GAPS_REPO, through the process's GitHub client: (kb, issue number, opened now) each."""
    repo = settings.memory.gaps_repo
    assert repo is not None  # checked by the callers
    api = process.github_api()
    kept = []
    installation = await api.installation_for(repo)
    for kb in sorted({g.kb for g in report.gaps}):
        part = report.for_kb(kb)
        number, opened = await api.keep_issue(
            repo,
            marker=issue_marker(kb),
            title=issue_title(part),
            body=issue_body(part),
            label=ISSUE_LABEL,
            installation=installation,
        )
        kept.append((kb, number, opened))
    return kept


def issue_settings_problem(settings: Settings) -> str | None:
    """Why gap issues cannot be kept with these settings, or None."""
    if not settings.memory.gaps_repo:
        return "set LEXIMIND_MEMORY__GAPS_REPO (owner/name) to keep the gaps issue"
    if not settings.github.signs_in:
        return "GitHub is not configured: set LEXIMIND_GITHUB__TOKEN (or the App)"
    return None


def report_and_keep_issues(settings: Settings, *, days: int) -> str:
    """The scheduled run: the last `days` days' gaps, each knowledge base's issue kept."""
    from ops.wiring import run_in_services

    async def work(process: Process) -> str:
        end = datetime.now(UTC).date()
        start = end - timedelta(days=days - 1)
        report = await gap_report(
            process.services, start=start, end=end, kb=None, default_kb=settings.default_kb
        )
        return _kept_line(report, await open_issues(settings, process, report))

    return run_in_services(settings, "cli", work)


def _kept_line(report: GapReport, kept: list[tuple[str, int, bool]]) -> str:
    issues = ", ".join(f"{kb} #{n} ({'opened' if new else 'updated'})" for kb, n, new in kept)
    return f"{report.questions} questions in {len(report.gaps)} gaps; issues: {issues or 'none'}"


def gaps_command(
    since: Annotated[str, typer.Option(help="period: 30d, 2w or a day (YYYY-MM-DD)")] = "30d",
    kb: Annotated[str | None, typer.Option(help="knowledge base", callback=kb_name)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    open_issue: Annotated[
        bool, typer.Option("--open-issue", help="open or update the gaps issue on GitHub")
    ] = False,
) -> None:
    """The questions the docs could not answer (declined, disliked, corrected), grouped and
    ranked by how many asked, with the closest pages and where a section would belong."""

    settings = _settings()
    today = datetime.now(UTC).date()
    try:
        start = parse_since(since, today=today)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    problem = issue_settings_problem(settings) if open_issue else None
    if problem:
        raise _fail(problem)

    async def work(process: Process) -> tuple[GapReport, list[tuple[str, int, bool]] | None]:
        report = await gap_report(
            process.services, start=start, end=today, kb=kb, default_kb=settings.default_kb
        )
        return report, (await open_issues(settings, process, report) if open_issue else None)

    report, kept = with_services("cli", work, settings=settings)
    if as_json:
        record = report.to_record()
        if kept is not None:
            record["issues"] = [{"kb": k, "number": n, "opened": new} for k, n, new in kept]
        console.print_json(json.dumps(record, ensure_ascii=False))
        return
    print_report(report)
    if kept is not None:
        console.print(_kept_line(report, kept))
