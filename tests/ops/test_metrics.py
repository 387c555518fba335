"""Process metrics: answers, feedback per model, spool gauges, job outcomes, a metrics server."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from prometheus_client import generate_latest

from adapters.llm.active_model import FileActiveModel
from adapters.storage.spool import Spool
from adapters.storage.writer import SpooledWriter, WriteKind
from core.types import Answer, Feedback, FeedbackLabel, Grounding, Timings
from ops.metrics import JobMetrics, Metrics, serve_metrics
from tests.fakes import MemoryObjectStore


def scrape(metrics: Metrics | JobMetrics) -> str:
    return generate_latest(metrics.registry).decode()


def answer(
    *,
    model: str = "lora-3",
    abstained: bool = False,
    routed: str = "",
    generation: float = 0.7,
) -> Answer:
    return Answer(
        text="Run make test.",
        sources=(),
        confidence=0.8,
        abstained=abstained,
        model=model,
        extractive=model == "extractive",
        timings=Timings(retrieval=0.02, generation=generation, total=generation + 0.02),
        routed_model=routed,
    )


def feedback(label: FeedbackLabel | None) -> Feedback:
    return Feedback(
        interaction_id="i1",
        platform="discord",
        user_hash="h" * 64,
        emoji="👍",
        label=label,
        created_at="2026-11-25T10:00:00+00:00",
    )


def test_an_answer_counts_its_stages_model_and_abstention() -> None:
    """Retrieval and generation times go to their histograms; abstentions are counted."""
    metrics = Metrics()
    metrics.count_answer(answer())
    metrics.count_answer(answer(model="abstained", abstained=True, routed="lora-3"))
    text = scrape(metrics)
    assert 'leximind_answers_total{model="lora-3"} 1.0' in text
    assert 'leximind_abstentions_total{model="lora-3"} 1.0' in text
    assert "leximind_retrieval_seconds_count 2.0" in text
    assert 'leximind_generation_seconds_bucket{le="1.0",model="lora-3"} 1.0' in text


def test_champion_and_challenger_are_reported_apart() -> None:
    """During a canary each model has its own generation times, answers, abstentions and
    fallbacks: an answer counts for the model it was routed to when that model did not write
    it."""
    metrics = Metrics()
    metrics.count_answer(answer(model="champ", routed="champ", generation=0.2))
    metrics.count_answer(answer(model="champ", routed="champ", generation=0.2))
    metrics.count_answer(answer(model="chall", routed="chall", generation=3.0))
    metrics.count_answer(answer(model="extractive", routed="chall", generation=0.01))
    metrics.count_answer(answer(model="abstained", abstained=True, routed="chall"))
    text = scrape(metrics)
    assert 'leximind_generation_seconds_bucket{le="0.25",model="champ"} 2.0' in text
    assert 'leximind_generation_seconds_bucket{le="2.5",model="chall"} 0.0' in text
    assert 'leximind_generation_seconds_count{model="chall"} 1.0' in text
    assert 'leximind_answers_total{model="champ"} 2.0' in text
    assert 'leximind_answers_total{model="chall"} 1.0' in text
    assert 'leximind_model_fallbacks_total{model="chall"} 1.0' in text
    assert 'leximind_abstentions_total{model="chall"} 1.0' in text
    assert 'leximind_model_fallbacks_total{model="champ"}' not in text


def test_feedback_is_counted_by_label_model_and_platform() -> None:
    """A removed reaction counts as retracted, not as negative."""
    metrics = Metrics()
    metrics.count_feedback(feedback(FeedbackLabel.POSITIVE), "lora-3")
    metrics.count_feedback(feedback(FeedbackLabel.POSITIVE), "lora-3")
    metrics.count_feedback(feedback(None), "unknown")
    text = scrape(metrics)
    assert 'leximind_feedback_total{label="positive",model="lora-3",platform="discord"} 2.0' in text
    assert 'leximind_feedback_total{label="retracted",model="unknown",platform="discord"} 1.0' in (
        text
    )
    assert 'label="negative"' not in text


def test_spool_gauges_are_read_at_scrape_time(tmp_path: Path) -> None:
    """While the object store is down the spool fills and the store shows as down."""
    store = MemoryObjectStore()
    writer = SpooledWriter(store, Spool(tmp_path / "spool"))
    metrics = Metrics()
    metrics.watch_spool(writer)
    assert "leximind_spool_depth 0.0" in scrape(metrics)
    assert "leximind_object_store_up 1.0" in scrape(metrics)
    store.down = True
    for n in range(3):
        asyncio.run(writer.write(WriteKind.REPLACE, f"interactions/x/{n}.json", b"{}"))
    text = scrape(metrics)
    assert "leximind_spool_depth 3.0" in text
    assert "leximind_spool_rejected 0.0" in text
    assert "leximind_object_store_up 0.0" in text


def test_rollout_share_follows_the_canary(tmp_path: Path) -> None:
    """The champion serves everyone until a canary gives the challenger its share."""
    rollout = FileActiveModel(tmp_path / "active_model.json")
    metrics = Metrics()
    metrics.watch_rollout(rollout)
    assert 'leximind_rollout_share{model="configured",role="champion"} 1.0' in scrape(metrics)
    asyncio.run(rollout.switch("v1"))
    asyncio.run(rollout.stage("v2", 0.25))
    text = scrape(metrics)
    assert 'leximind_rollout_share{model="v1",role="champion"} 0.75' in text
    assert 'leximind_rollout_share{model="v2",role="challenger"} 0.25' in text
    asyncio.run(rollout.stage(None, 0.0))
    assert 'role="challenger"' not in scrape(metrics)


def test_job_runs_are_counted_by_outcome() -> None:
    """Each finished run counts once and stamps the time of its outcome."""
    jobs = JobMetrics()
    jobs.record("retrain", "ok")
    jobs.record("retrain", "failed")
    jobs.record("retrain", "failed")
    text = scrape(jobs)
    assert 'leximind_job_runs_total{job="retrain",outcome="failed"} 2.0' in text
    assert 'leximind_job_last_run_timestamp_seconds{job="retrain",outcome="ok"}' in text


def test_an_unknown_job_outcome_is_refused() -> None:
    """Only the scheduler's outcomes are accepted, so dashboards can rely on them."""
    with pytest.raises(ValueError, match="not one of ok, failed, skipped"):
        JobMetrics().record("retrain", "maybe")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_a_process_without_an_api_serves_its_metrics() -> None:
    """serve_metrics answers /metrics on its port until stopped."""
    metrics = Metrics()
    metrics.gateway_connected.set(1)
    port = free_port()
    stop = serve_metrics(metrics.registry, host="127.0.0.1", port=port)
    try:
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "leximind_gateway_connected 1.0" in body
    finally:
        stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)


def test_a_taken_port_is_an_error() -> None:
    """A second server on the same port fails with OSError instead of serving nothing."""
    port = free_port()
    stop = serve_metrics(Metrics().registry, host="127.0.0.1", port=port)
    try:
        with pytest.raises(OSError):
            serve_metrics(Metrics().registry, host="127.0.0.1", port=port)
    finally:
        stop()


def test_grounding_checks_are_counted_by_the_model_that_wrote_the_answer() -> None:
    """A grounding fallback counts as such (sent, extractive or abstained) with its support,
    and not as a model failure."""
    metrics = Metrics()

    def checked(fallback: str | None, support: float, removed: int) -> Grounding:
        return Grounding("small", support, 0.45, 2, 1, removed, 0, fallback=fallback)

    sent = replace(answer(model="small", routed="small"), grounding=checked(None, 0.9, 1))
    replaced = replace(
        answer(model="extractive", routed="small"), grounding=checked("extractive", 0.2, 2)
    )
    metrics.count_answer(sent)
    metrics.count_answer(replaced)
    text = scrape(metrics)
    assert 'leximind_grounding_checks_total{model="small",outcome="sent"} 1.0' in text
    assert 'leximind_grounding_checks_total{model="small",outcome="extractive"} 1.0' in text
    assert 'leximind_grounding_support_bucket{le="0.2",model="small"} 1.0' in text
    assert 'leximind_citations_removed_total{model="small"} 3.0' in text
    assert 'leximind_model_fallbacks_total{model="small"}' not in text


def test_grounding_fallbacks_are_counted_by_their_cause() -> None:
    metrics = Metrics()
    for cause in ("off_topic", "off_topic", "low_support"):
        grounding = Grounding("small", 0.9, 0.45, 2, 0, 0, 0, fallback="extractive", cause=cause)
        metrics.count_answer(
            replace(answer(model="extractive", routed="small"), grounding=grounding)
        )
    sent = Grounding("small", 0.9, 0.45, 2, 0, 0, 0)
    metrics.count_answer(replace(answer(model="small", routed="small"), grounding=sent))
    text = scrape(metrics)
    assert 'leximind_grounding_fallbacks_total{cause="off_topic",model="small"} 2.0' in text
    assert 'leximind_grounding_fallbacks_total{cause="low_support",model="small"} 1.0' in text
    assert 'cause="",' not in text
