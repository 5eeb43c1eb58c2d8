"""zulipd's garbage-collector settings for serving."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from zulipd.gc_tuning import YOUNG_GENERATION_THRESHOLD, tune_for_serving


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_serving_freezes_what_exists_and_collects_the_young_less_often() -> None:
    before = gc.get_threshold()
    kept = [[object()], {"alive": []}]
    assert all(gc.is_tracked(item) for item in kept)
    tune_for_serving()
    assert gc.get_freeze_count() > 0
    collectable = {id(item) for item in gc.get_objects()}
    assert not any(id(item) in collectable for item in kept)  # frozen: in no generation any more
    assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, before[1], before[2])
