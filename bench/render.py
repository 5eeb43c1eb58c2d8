"""Message rendering (``zulipd.render.render_message``) in one process on one core.

    .venv/bin/python bench/render.py [--duration 10] [--repeats 3] [--seed 1]

Renders a weighted mix of typical chat messages (mostly short plain lines; some
mentions, links, emoji, code, quotes, lists, a table, a spoiler, a linkifier
match) against a context of 50 users, a few groups, channels and custom emoji,
for --duration seconds after a warm-up, and prints the rate and the per-message
times. Then it renders each pathological input of ``tests.test_markdown_bounds``
--repeats times and prints each one's time. The targets: at least 5,000
messages a second over the mix, and no single message over 50 ms. A missed
target does not fail the script.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_markdown_bounds import PATHOLOGICAL
from zulipd.render import render_message
from zulipd.render.context import (
    CustomEmoji,
    LinkableStream,
    MentionableGroup,
    MentionableUser,
    RenderContext,
)
from zulipd.render.linkifiers import Linkifier

TARGET_RATE = 5000.0
TARGET_MAX_MS = 50.0

_NAMES = """
Iago; Othello, the Moor of Venice; Cordelia, Lear's daughter; King Hamlet; aaron; Polonius; Prospero from The Tempest;
Desdemona; Ophelia; Horatio; Laertes; Gertrude; Claudius; Rosencrantz; Guildenstern; Macbeth; Banquo; Duncan;
Malcolm; Macduff; Lady Macbeth; Viola; Sebastian; Olivia; Orsino; Malvolio; Feste; Portia; Shylock; Bassanio;
Antonio; Juliet; Romeo Montague; Mercutio; Tybalt; Benvolio; Friar Laurence; Titania; Oberon; Puck; Bottom;
Hermia; Helena; Lysander; Demetrius; Rosalind; Orlando; Celia; Touchstone; Jaques
"""
USERS = [MentionableUser(10 + index, name.strip()) for index, name in enumerate(_NAMES.replace("\n", " ").split(";"))]
GROUPS = [MentionableGroup(100 + index, name) for index, name in enumerate(["support", "backend", "design", "admins"])]
STREAMS = [
    LinkableStream(200 + index, name)
    for index, name in enumerate(["general", "design", "backend", "announce", "random", "devel help"])
]
EMOJI = [
    CustomEmoji(300 + index, name, f"/user_avatars/2/emoji/images/{300 + index}.png")
    for index, name in enumerate(["zulipd", "shipit", "party_parrot", "lgtm"])
]
CONTEXT = RenderContext(
    realm_url="https://chat.example.com",
    users_by_name={user.full_name.lower(): [user] for user in USERS},
    users_by_id={user.id: user for user in USERS},
    groups_by_name={group.name: group for group in GROUPS},
    streams_by_name={stream.name: stream for stream in STREAMS},
    topic_message_ids={(201, "new logo"): 4711},
    custom_emoji={emoji.name: emoji for emoji in EMOJI},
    linkifiers=(Linkifier(1, r"#(?P<id>[0-9]+)", "https://github.com/zulip/zulip/issues/{id}"),),
)

# (weight, message). The weights sum to 100: about two thirds short plain messages.
SAMPLES: list[tuple[int, str]] = [
    (10, "ok"),
    (8, "thanks!"),
    (7, "sounds good to me"),
    (7, "lol"),
    (4, "I'll take a look after lunch"),
    (4, "yes, that's the one"),
    (4, "Can someone review my PR?"),
    (3, "brb"),
    (3, "Did the deploy go out yet? I don't see the new settings page."),
    (3, "morning all"),
    (3, "+1"),
    (3, "Not sure, let me check the logs and get back to you."),
    (
        3,
        "I think the problem is that the cache is warmed before the migration runs. If we swap the order in the "
        "deploy script it should go away. I can write it up tomorrow.",
    ),
    (
        2,
        "Quick update: the import finished overnight, 1.2M messages in 40 minutes. Two users had duplicate "
        "emails, I merged them by hand.\nThe rest looks fine.",
    ),
    (2, "we could also just drop the column & rebuild the index <- probably faster"),
    (2, "@**Iago** can you look at this?"),
    (2, "thanks @**Othello, the Moor of Venice** and @**Polonius**, that fixed it"),
    (1, "@_**Cordelia, Lear's daughter** mentioned this earlier"),
    (1, "@*support* a customer reports login failures since 10:00"),
    (1, "@**all** the office is closed on Monday"),
    (1, "@**topic** please keep this thread for the release only"),
    (2, "see #**general** for the announcement"),
    (1, "discussed in #**design>new logo**, and #**backend>deploys@1234** has the details"),
    (2, "nice :tada: :+1:"),
    (2, "great job 🎉👍"),
    (1, ":shipit: :party_parrot: merged"),
    (2, "run `make test` before pushing, and `ruff format` too"),
    (
        1,
        "Try this:\n```python\ndef render(content: str) -> str:\n    parts = content.split()\n"
        '    return " ".join(part.upper() for part in parts if part)\n\n\nprint(render("hello world"))\n```',
    ),
    (1, "> the build is broken on main\n\nfixed in the last commit"),
    (1, "Steps:\n1. pull main\n2. run the migrations\n3. restart\n\nAlso:\n- clear the cache\n- tell support"),
    (2, "docs are here: [the deploy guide](https://zulip.readthedocs.io/en/latest/production/deployment.html)"),
    (2, "https://github.com/zulip/zulip/pull/31415 is ready"),
    (
        1,
        "| host | load | status |\n|---|---:|:---:|\n| web1 | 0.4 | ok |\n"
        "| web2 | 3.1 | **high** |\n| db1 | 0.9 | ok |",
    ),
    (1, "```spoiler The ending\nThe butler did it.\n```"),
    (2, "this is #1234 again, same as #987"),
    (1, "**important**: the *new* API is ~~deprecated~~ live"),
    (1, "### Release notes\nSee below."),
    (1, "meeting at <time:2024-05-01T15:00:00+00:00>"),
    (1, "/me waves"),
    (1, "the formula is $$e^{i\\pi} + 1 = 0$$, obviously"),
]
assert sum(weight for weight, _ in SAMPLES) == 100


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    index = max(0, min(len(sorted_values) - 1, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def one_core() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "unpinned"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def short(text: str, width: int = 60) -> str:
    flat = text.replace("\n", "\\n")
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def run_mix(duration: float, seed: int) -> None:
    mix = [index for index, (weight, _) in enumerate(SAMPLES) for _ in range(weight)]
    random.Random(seed).shuffle(mix)
    messages = [SAMPLES[index][1] for index in mix]
    for _ in range(20):  # warm-up: caches (emoji tables, lexers, patterns), the allocator
        for content in messages:
            render_message(content, CONTEXT)
    times: list[float] = []
    slowest = (0.0, "")
    clock = time.perf_counter
    started = clock()
    deadline = started + duration
    while clock() < deadline:
        for content in messages:
            before = clock()
            render_message(content, CONTEXT)
            elapsed = clock() - before
            times.append(elapsed)
            if elapsed > slowest[0]:
                slowest = (elapsed, content)
    wall = clock() - started
    times.sort()
    rate = len(times) / wall
    worst_ms = times[-1] * 1000
    print(
        f"mix of {len(SAMPLES)} samples   {rate:>9,.0f} messages/s   p50 {percentile(times, 0.5) * 1000:6.3f} ms   "
        f"p99 {percentile(times, 0.99) * 1000:6.3f} ms   max {worst_ms:6.2f} ms   messages {len(times):,}"
    )
    print(f"slowest sample: {slowest[0] * 1000:.2f} ms  {short(slowest[1])!r}")
    print(
        f"targets: {rate:,.0f} messages/s (>= {TARGET_RATE:,.0f}: {'met' if rate >= TARGET_RATE else 'missed'}), "
        f"max {worst_ms:.2f} ms (<= {TARGET_MAX_MS:.0f} ms: {'met' if worst_ms <= TARGET_MAX_MS else 'missed'})"
    )


def run_pathological(repeats: int) -> None:
    print(f"pathological inputs (tests/test_markdown_bounds.py), {repeats} renders each, median and max:")
    rows: list[tuple[float, str]] = []
    for name, content in PATHOLOGICAL.items():
        times: list[float] = []
        outcome = ""
        for _ in range(repeats):
            before = time.perf_counter()
            try:
                html = render_message(content, CONTEXT).html
            except RecursionError:
                outcome = "RecursionError"
            except Exception as error:  # reported, not fatal: the point is to see every input
                outcome = f"{type(error).__name__}: {short(str(error), 40)}"
            else:
                outcome = f"out {len(html):>8,} chars"
            times.append(time.perf_counter() - before)
            if times[-1] > 5:  # one render is enough to know it is far too slow
                break
        median_ms = statistics.median(times) * 1000
        worst = max(times) * 1000
        flag = "  SLOW" if worst > TARGET_MAX_MS else ""
        if not outcome.startswith("out"):
            flag += "  FAILED"
        print(f"  {name:<40} in {len(content):>9,} chars  {median_ms:8.1f} ms  max {worst:8.1f} ms  {outcome}{flag}")
        rows.append((worst, name))
    rows.sort(reverse=True)
    slow = [name for worst, name in rows if worst > TARGET_MAX_MS]
    print(f"slowest pathological input: {rows[0][0]:.1f} ms  {rows[0][1]!r}")
    print(f"over {TARGET_MAX_MS:.0f} ms: {len(slow)} of {len(rows)} inputs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of the measured mix (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="renders of each pathological input (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="the mix's shuffle (default 1)")
    parser.add_argument("--no-pathological", action="store_true", help="render only the mix")
    args = parser.parse_args()
    pinned = one_core()
    print(
        f"render_message, one process, {pinned}, Python {sys.version.split()[0]}, "
        f"recursion limit {sys.getrecursionlimit()}, {len(CONTEXT.users_by_id)} users in the context"
    )
    gc.collect()
    run_mix(args.duration, args.seed)
    if not args.no_pathological:
        run_pathological(args.repeats)
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
