"""Prometheus metrics of one process, in a registry of its own so apps don't share counters.

`leximind serve` exposes them at /metrics; `leximind discord` and the scheduler, which serve
no HTTP API, expose theirs with `serve_metrics` on LEXIMIND_METRICS__PORT. The dashboards in
ops/deploy/grafana/ query these names; tests/ops/test_deploy.py checks that they exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily

from core.rollout import RolloutState
from core.types import Answer, Feedback

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_SUPPORT_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
RETRACTED = "retracted"
GROUNDED = "sent"


class RolloutStatus(Protocol):
    """What the rollout gauge reads at scrape time (core.ports.Rollout)."""

    def state(self) -> RolloutState: ...


class SpoolStatus(Protocol):
    """What the spool gauges read at scrape time (adapters.storage.writer.SpooledWriter)."""

    def status(self) -> dict[str, object]: ...

    @property
    def store_down(self) -> bool: ...


@dataclass
class Metrics:
    """Request counts, latencies by stage, and per model (champion and challenger alike):
    generation time, answers, abstentions, fallbacks and feedback."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "leximind_requests_total", "HTTP requests", ["endpoint", "status"], registry=r
        )
        self.latency = Histogram(
            "leximind_request_seconds",
            "HTTP request latency",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.retrieval = Histogram(
            "leximind_retrieval_seconds", "Retrieval time", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.generation = Histogram(
            "leximind_generation_seconds",
            "Answer generation time, by the model that wrote the answer (or extractive / "
            "abstained)",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.answers = Counter(
            "leximind_answers_total",
            "Answers given, by model (or extractive / abstained)",
            ["model"],
            registry=r,
        )
        self.abstentions = Counter(
            "leximind_abstentions_total",
            "Questions the service declined to answer, by the model they were routed to",
            ["model"],
            registry=r,
        )
        self.fallbacks = Counter(
            "leximind_model_fallbacks_total",
            "Answers given extractively because the model they were routed to failed",
            ["model"],
            registry=r,
        )
        self.grounding = Counter(
            "leximind_grounding_checks_total",
            "Generated answers checked against their sources, by the model that wrote them and "
            "outcome: sent, or replaced by the extractive answer or an abstention",
            ["model", "outcome"],
            registry=r,
        )
        self.grounding_fallbacks = Counter(
            "leximind_grounding_fallbacks_total",
            "Generated answers not sent as written, by the model that wrote them and cause: "
            "low_support, no_sentence, off_topic (the answer does not relate to the question), "
            "invented_source (it names a source no passage comes from) or repetitive",
            ["model", "cause"],
            registry=r,
        )
        self.support = Histogram(
            "leximind_grounding_support",
            "Support of generated answers by the passages they cite (0..1), by model",
            ["model"],
            buckets=_SUPPORT_BUCKETS,
            registry=r,
        )
        self.citations_removed = Counter(
            "leximind_citations_removed_total",
            "Citation markers in generated answers that named no passage, by model",
            ["model"],
            registry=r,
        )
        self.feedback = Counter(
            "leximind_feedback_total",
            "Reaction labels recorded on answers: positive, negative or retracted, by the model "
            "that wrote the answer (unknown when the bot state no longer knows it)",
            ["label", "model", "platform"],
            registry=r,
        )
        self.gateway_connected = Gauge(
            "leximind_gateway_connected",
            "1 while the chat gateway (Discord) is connected and ready, else 0",
            registry=r,
        )

    def count_answer(self, answer: Answer) -> None:
        """Counts one answer: its stages' times, its model, and whether it abstained or fell
        back to an extractive answer because the model failed (both by the model it was
        routed to); for a generated answer, its grounding check (by the model that wrote it)."""
        routed = answer.routed_model or answer.model
        self.retrieval.observe(answer.timings.retrieval)
        self.generation.labels(answer.model).observe(answer.timings.generation)
        self.answers.labels(answer.model).inc()
        grounding = answer.grounding
        if grounding is not None:
            self.grounding.labels(grounding.model, grounding.fallback or GROUNDED).inc()
            if grounding.fallback is not None and grounding.cause:
                self.grounding_fallbacks.labels(grounding.model, grounding.cause).inc()
            self.support.labels(grounding.model).observe(grounding.support)
            self.citations_removed.labels(grounding.model).inc(grounding.removed_citations)
        if answer.abstained:
            self.abstentions.labels(routed).inc()
        elif answer.extractive and routed != answer.model and grounding is None:
            self.fallbacks.labels(routed).inc()

    def count_feedback(self, feedback: Feedback, model: str) -> None:
        """Counts one recorded reaction label; a removed reaction counts as `retracted`."""
        label = feedback.label.value if feedback.label is not None else RETRACTED
        self.feedback.labels(label, model, feedback.platform).inc()

    def watch_rollout(self, rollout: RolloutStatus) -> None:
        """Adds `leximind_rollout_share{model,role}`, read at each scrape. Call it once."""
        self.registry.register(_RolloutCollector(rollout))

    def watch_spool(self, writer: SpoolStatus) -> None:
        """Adds gauges read from `writer` at each scrape: spool depth, rejected entries and
        whether the object store is up. Call it once per writer."""
        self.registry.register(_SpoolCollector(writer))


class _SpoolCollector:
    """Reads the spooled writer's status when Prometheus scrapes, not on every write."""

    def __init__(self, writer: SpoolStatus) -> None:
        self._writer = writer

    def collect(self) -> Iterator[GaugeMetricFamily]:
        status = self._writer.status()
        yield GaugeMetricFamily(
            "leximind_spool_depth",
            "Records waiting in the local spool for the object store",
            value=_number(status.get("spool_depth")),
        )
        yield GaugeMetricFamily(
            "leximind_spool_rejected",
            "Spool entries that could never be applied (kept in spool/rejected/)",
            value=_number(status.get("spool_rejected")),
        )
        yield GaugeMetricFamily(
            "leximind_object_store_up",
            "1 unless the last write to the object store failed",
            value=0.0 if self._writer.store_down else 1.0,
        )


class _RolloutCollector:
    """The share of users each model serves, read from the rollout state at each scrape."""

    def __init__(self, rollout: RolloutStatus) -> None:
        self._rollout = rollout

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "leximind_rollout_share",
            "Share of users each model answers: the champion, and a challenger during a canary",
            labels=["model", "role"],
        )
        state = self._rollout.state()
        champion = state.champion or "configured"
        share = state.share if state.canary and state.challenger else 0.0
        gauge.add_metric([champion, "champion"], 1.0 - share)
        if share and state.challenger:
            gauge.add_metric([state.challenger, "challenger"], share)
        yield gauge


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


# Outcomes of a scheduler job run, as the scheduler records them.
JOB_OUTCOMES = ("ok", "failed", "skipped")


@dataclass
class JobMetrics:
    """The scheduler's job outcomes: `leximind_job_runs_total{job,outcome}` and the time each
    job last finished with each outcome."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.runs = Counter(
            "leximind_job_runs_total",
            "Scheduler job runs by job and outcome (ok, failed, skipped)",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.last_run = Gauge(
            "leximind_job_last_run_timestamp_seconds",
            "Unix time at which each job last finished, by outcome",
            ["job", "outcome"],
            registry=self.registry,
        )

    def record(self, job: str, outcome: str) -> None:
        """Counts one finished run; ValueError for an outcome the scheduler does not use."""
        if outcome not in JOB_OUTCOMES:
            raise ValueError(f"job outcome {outcome!r} is not one of {', '.join(JOB_OUTCOMES)}")
        self.runs.labels(job, outcome).inc()
        self.last_run.labels(job, outcome).set_to_current_time()


def serve_metrics(registry: CollectorRegistry, *, host: str, port: int) -> Callable[[], None]:
    """Serves `registry` at http://host:port/metrics from a daemon thread; returns the stop.

    For processes without an HTTP API of their own. OSError when the port is taken.
    """
    server, thread = start_http_server(port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
