"""Service-process tuning: a garbage collection long enough to show in reply times is logged."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from api.process import _SlowCollections, watch_collections
from knowledge.infra import logs


@pytest.fixture
def restore_callbacks() -> Iterator[None]:
    """No slow-collection watcher during the test (the process may have one); all back after."""
    saved = list(gc.callbacks)
    gc.callbacks[:] = [cb for cb in saved if not isinstance(cb, _SlowCollections)]
    yield
    gc.callbacks[:] = saved


def test_a_slow_collection_is_logged_with_its_generation(
    capsys: pytest.CaptureFixture[str], restore_callbacks: None
) -> None:
    logs.configure(json_lines=True)
    watch_collections(slow_ms=0.0)  # every collection counts as slow
    watch_collections(slow_ms=0.0)  # a second call adds nothing
    assert sum(isinstance(cb, _SlowCollections) for cb in gc.callbacks) == 1
    gc.collect(1)
    err = capsys.readouterr().err
    assert "slow garbage collection" in err and '"generation": 1' in err


def test_an_ordinary_collection_is_not_logged(
    capsys: pytest.CaptureFixture[str], restore_callbacks: None
) -> None:
    logs.configure(json_lines=True)
    watch_collections(slow_ms=60_000.0)
    gc.collect(0)
    assert "slow garbage collection" not in capsys.readouterr().err
