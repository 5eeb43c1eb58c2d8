"""Python's garbage collector, set for a long-running server.

CPython collects its youngest generation of container objects every 700 net
allocations, every tenth of those collections the middle one too, and now and
then all of them. A request to zulipd allocates hundreds of such objects (dicts,
lists, coroutines, Deferreds), so with those defaults the collector ran several
times a request and, with the hundred thousand objects a running zulipd holds,
took about a fifth of zulipd's CPU time over a run of the fan-out benchmark (a
third in its bursts at a thousand listeners). Once zulipd has started, ``tune_for_serving``:

- freezes every object alive by then (modules, classes, configuration, the
  caches filled at start), which lives as long as the process: no collection
  looks at them again;
- collects the youngest generation only every ``YOUNG_GENERATION_THRESHOLD``
  allocations. Garbage in reference cycles then waits a little longer; every
  other object is freed as soon as nothing refers to it, as before.
"""

from __future__ import annotations

import gc

YOUNG_GENERATION_THRESHOLD = 20_000


def tune_for_serving() -> None:
    """Freeze what exists now and collect less often. Call once, when zulipd has started."""
    gc.collect()  # so that no garbage of the start is frozen with the rest
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, oldest)
