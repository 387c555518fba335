"""Prometheus metrics of one process, in a registry of its own so apps don't share counters."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


@dataclass
class Metrics:
    """Request counts, latencies by stage, answers by model, and abstentions."""

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
            "Answer generation time (model or extractive)",
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
            "leximind_abstentions_total", "Questions the service declined to answer", registry=r
        )
