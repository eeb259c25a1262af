"""Reading this process's metrics in tests (its default registry: tests run turns in-process)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from knowledge.infra import metrics


def counted(name: str, **labels: str) -> float:
    """The current value of one sample, 0 before its first event."""
    metrics.instruments()
    return REGISTRY.get_sample_value(name, labels) or 0.0
