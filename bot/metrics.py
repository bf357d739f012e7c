"""Prometheus metrics of one running service (its own registry, so that tests may run several side by side)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("vve_http_requests_total", "HTTP requests by route, method and status",
                                ("route", "method", "status"), registry=self.registry)
        self.latency = Histogram("vve_http_request_seconds", "HTTP request latency by route", ("route",),
                                 registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
        self.questions = Counter("vve_questions_total", "Questions, answered or not", ("outcome",),
                                 registry=self.registry)
        self.feedback = Counter("vve_feedback_total", "Feedback on answers", ("value",), registry=self.registry)
        self.ingestions = Counter("vve_ingestions_total", "Ingestion runs by result", ("result",),
                                  registry=self.registry)
        self.index_documents = Gauge("vve_index_documents", "Documents in the served index", registry=self.registry)
        self.index_passages = Gauge("vve_index_passages", "Passages in the served index", registry=self.registry)
        for outcome in ("answered", "unanswered"):
            self.questions.labels(outcome)
        for value in ("up", "down"):
            self.feedback.labels(value)
        for result in ("ok", "failed"):
            self.ingestions.labels(result)

    def __repr__(self) -> str:
        return "Metrics()"

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
