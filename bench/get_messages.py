"""GET /messages latency in a database of a million messages, on one zulipd process with the embedded PostgreSQL.

    .venv/bin/python bench/get_messages.py [--messages 1000000] [--duration 10] [--rounds 2] [--keep DIR]

The benchmark creates users and channels through the API, then fills
``message`` and ``user_message`` directly with SQL (generate_series): channels
of very different sizes, many topics each, a few hundred users, one row per
subscriber for every message, some rows unread, starred or mentioned, some
direct messages, and text drawn from a skewed vocabulary so that full-text
search finds common and rare words. Then one user, subscribed to channels of
every size, asks for: the newest messages of a topic; the newest matches of a
search; and the messages around the first unread one, in all their messages
and in one channel. Each request goes out when the last one is answered, over
one keep-alive connection, cycling through different topics, words and
channels.

The target: p95 under 50 ms for each kind of request. With ``--keep DIR`` the
filled database stays in DIR, and a later run with the same DIR and
``--messages`` reuses it; without it, everything is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import psycopg2
from harness import Load, Zulipd, api_call, basic_auth, http_load, http_request, start_zulipd, workspace

USERS = 300
READER = "reader@example.com"
PASSWORD = "bench-password"  # noqa: S105  (a throwaway account in a throwaway database)
FILL_FILE = "fill.json"
DIRECT_MESSAGE_SHARE = 0.05
# Channel sizes: (name prefix, how many, subscribers, share of channel messages each, topics each,
# how many of them the reader is subscribed to).
CHANNEL_KINDS = (
    ("general", 2, USERS, 0.015, 1000, 2),
    ("team", 7, 40, 0.05, 1500, 4),
    ("project", 20, 10, 0.0285, 300, 5),
)
PRIVATE_CHANNEL = ("leads", 30, 0.05, 500)  # invite-only, history not shared with new subscribers

# Stop words first, so that they are the most frequent (the English text search configuration drops them),
# then common words of a software team's chat; the generated words after them make a long tail.
_COMMON_TEXT = """
the a to and of in is it that for on you this with be are have was not but at we can so if
just do what all or as my there about will from they one an get like up out would me by been
when more some no has any your then them how our also only now which its than us were these
deploy review merge branch test tests build release server client database query index migration
bug fix issue ticket patch commit revert rollback staging production outage incident alert page
latency throughput cache queue worker cron job timeout retry error exception crash log logs
metric dashboard graph monitor config setting flag feature rollout canary cluster node pod
container image docker kubernetes terraform script shell python rust golang javascript typescript
frontend backend api endpoint request response payload schema json yaml proxy nginx tls
certificate token password secret permission role user account login session cookie browser
mobile android ios desktop notification email message channel topic thread reply mention
meeting standup retro planning sprint roadmap estimate deadline priority blocker design doc
draft proposal decision question answer idea plan update status progress done pending
tomorrow today yesterday morning afternoon week weekend holiday lunch coffee thanks sorry
please great good nice cool awesome weird strange broken slow fast flaky stable green red
customer support sales invoice contract budget hiring interview onboarding offboarding laptop
keyboard monitor printer office remote travel conference talk slides demo video recording
"""
COMMON_WORDS = _COMMON_TEXT.split()


@dataclass
class Fill:
    """What a run needs to know about a filled database; kept in DIR for ``--keep``."""

    messages: int
    reader_api_key: str
    # (stream id, recipient id) of the reader's channels, biggest first.
    reader_channels: list[tuple[int, int]]
    search_queries: list[str]
    topics: list[tuple[int, str]]
    seconds: float


def vocabulary(rng: random.Random) -> list[str]:
    syllables = ["ka", "lo", "mi", "ren", "tor", "vel", "sa", "pri", "dun", "el", "qua", "zo", "ber", "nix", "ta"]
    generated: set[str] = set()
    while len(generated) < 3000:
        generated.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return COMMON_WORDS + sorted(generated, key=lambda word: rng.random())


def topic_names(rng: random.Random, words: list[str]) -> list[str]:
    content_words = words[60:]
    names: set[str] = set()
    while len(names) < 3000:
        name = " ".join(rng.sample(content_words[:400], 2))
        names.add(name if rng.random() < 0.7 else f"{name} {rng.randint(2, 99)}")
    return sorted(names, key=lambda name: rng.random())


def create_people_and_channels(zulipd: Zulipd, cursor: Any, rng: random.Random) -> tuple[str, list[int]]:
    """The users and channels, through the API; returns the reader's API key and the new channels' stream ids."""
    admin = basic_auth("iago@zulip.com", zulipd.dev_keys()["iago@zulip.com"])
    user_ids = []
    for number in range(USERS):
        email = READER if number == 0 else f"user{number}@example.com"
        created = api_call(zulipd.base_url, admin, "POST", "users",
                           {"email": email, "password": PASSWORD, "full_name": f"Bench user {number}"})  # fmt: skip
        user_ids.append(created["user_id"])
    reader_id = user_ids[0]
    reader_key = str(api_call(zulipd.base_url, "", "POST", "fetch_api_key",
                              {"username": READER, "password": PASSWORD})["api_key"])  # fmt: skip
    names = []
    for prefix, count, subscribers, _, _, reader_count in CHANNEL_KINDS:
        for number in range(count):
            if subscribers == USERS:
                members = user_ids
            elif number < reader_count:
                members = [reader_id, *rng.sample(user_ids[1:], subscribers - 1)]
            else:
                members = rng.sample(user_ids[1:], subscribers)
            name = f"{prefix}-{number + 1}"
            api_call(zulipd.base_url, admin, "POST", "users/me/subscriptions",
                     {"subscriptions": [{"name": name}], "principals": sorted(members)})  # fmt: skip
            names.append(name)
    private_name, private_subscribers, _, _ = PRIVATE_CHANNEL
    members = [reader_id, *rng.sample(user_ids[1:], private_subscribers - 1)]
    api_call(zulipd.base_url, admin, "POST", "users/me/subscriptions",
             {"subscriptions": [{"name": private_name}], "principals": members, "invite_only": True,
              "history_public_to_subscribers": False})  # fmt: skip
    names.append(private_name)
    cursor.execute("SELECT name, id FROM stream WHERE name = ANY(%s)", (names,))
    by_name = dict(cursor.fetchall())
    return reader_key, [by_name[name] for name in names]


def fill_database(cursor: Any, messages: int, stream_ids: list[int], rng: random.Random) -> None:
    """Messages and their user rows, straight into the tables, with the tables' secondary indexes built afterwards."""
    words = vocabulary(rng)
    topics = topic_names(rng, words)
    cursor.execute("SET synchronous_commit = off")
    cursor.execute("SET maintenance_work_mem = '1GB'")
    cursor.execute("SET work_mem = '256MB'")
    cursor.execute(
        """SELECT s.id, r.id, s.realm_id FROM stream s JOIN recipient r ON r.type = 2 AND r.type_id = s.id
           WHERE s.id = ANY(%s)""",
        (stream_ids,),
    )
    recipient_of = {stream_id: (recipient_id, realm_id) for stream_id, recipient_id, realm_id in cursor.fetchall()}
    realm_id = recipient_of[stream_ids[0]][1]
    recipients, topic_counts, topic_offsets, slots = [], [], [], []
    kinds = [(count, share, topics_each) for _, count, _, share, topics_each, _ in CHANNEL_KINDS]
    kinds.append((1, PRIVATE_CHANNEL[2], PRIVATE_CHANNEL[3]))
    channel_number = 0
    for count, share, topics_each in kinds:
        for _ in range(count):
            recipient_id = recipient_of[stream_ids[channel_number]][0]
            recipients.append(recipient_id)
            topic_counts.append(topics_each)
            topic_offsets.append(rng.randrange(len(topics)))
            slots += [recipient_id] * round(share * 10000)
            channel_number += 1
    cursor.execute("SELECT id FROM user_profile WHERE email = %s OR email LIKE 'user%%@example.com' ORDER BY id",
                   (READER,))  # fmt: skip
    users = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        """INSERT INTO recipient (type, type_id) SELECT 1, unnest(%s::integer[]) ON CONFLICT DO NOTHING""", (users,)
    )
    cursor.execute("SELECT type_id, id FROM recipient WHERE type = 1 AND type_id = ANY(%s)", (users,))
    personal = dict(cursor.fetchall())
    cursor.execute("SELECT coalesce(max(id), 0) FROM message")
    first_new_id = cursor.fetchone()[0] + 1

    # Secondary indexes are much faster to build once than to maintain row by row.
    cursor.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
           WHERE i.indrelid IN ('message'::regclass, 'user_message'::regclass) AND NOT i.indisprimary"""
    )
    indexes = cursor.fetchall()
    cursor.execute(
        """SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
           WHERE conrelid = 'user_message'::regclass AND contype = 'p'"""
    )
    user_message_key = cursor.fetchone()
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    if user_message_key:
        cursor.execute(f"ALTER TABLE user_message DROP CONSTRAINT {user_message_key[0]}")

    cursor.execute("SELECT id FROM user_profile WHERE email = %s", (READER,))
    reader_position = users.index(cursor.fetchone()[0])
    cursor.execute(
        """WITH channel AS (
               SELECT * FROM unnest(%(recipients)s::integer[], %(topic_counts)s::integer[],
                                    %(topic_offsets)s::integer[]) AS c (recipient_id, topic_count, topic_offset)
           ),
           subscribers AS (
               SELECT recipient_id, array_agg(user_id ORDER BY user_id) AS user_ids FROM subscription
               WHERE recipient_id = ANY(%(recipients)s) AND active GROUP BY recipient_id
           ),
           picked AS MATERIALIZED (
               SELECT g, random() < %(dm_share)s AS is_direct,
                      (%(slots)s::integer[])[1 + floor(random() * %(slot_count)s)::integer] AS channel_recipient,
                      CASE WHEN random() < 0.3 THEN %(reader_position)s
                           ELSE floor(random() * %(user_count)s)::integer END AS first_person,
                      floor(random() * (%(user_count)s - 1))::integer AS other_offset,
                      random() < 0.5 AS swap, random() AS sender_draw, random() AS topic_draw, random() AS kind_draw,
                      (SELECT string_agg((%(words)s::text[])[1 + floor(power(random(), 3) * %(word_count)s)::integer],
                                         ' ')
                       FROM generate_series(1, 5 + g %% 21)) AS body
               FROM generate_series(1, %(messages)s) g
           ),
           shaped AS (
               SELECT p.g, p.is_direct, p.body, p.kind_draw,
                      CASE WHEN p.is_direct THEN NULL
                           ELSE (%(topics)s::text[])[1 + (c.topic_offset + floor(power(p.topic_draw, 2)
                                                         * c.topic_count)::integer) %% %(topic_count)s] END AS topic,
                      CASE WHEN p.is_direct THEN (%(users)s::integer[])[1 + CASE WHEN p.swap
                               THEN (p.first_person + 1 + p.other_offset) %% %(user_count)s ELSE p.first_person END]
                           ELSE s.user_ids[1 + floor(p.sender_draw * cardinality(s.user_ids))::integer] END AS sender,
                      CASE WHEN p.is_direct THEN (%(personal)s::integer[])[1 + CASE WHEN p.swap
                               THEN p.first_person ELSE (p.first_person + 1 + p.other_offset) %% %(user_count)s END]
                           ELSE p.channel_recipient END AS recipient
               FROM picked p JOIN channel c ON c.recipient_id = p.channel_recipient
               JOIN subscribers s ON s.recipient_id = p.channel_recipient
           )
           INSERT INTO message (realm_id, sender_id, recipient_id, subject, content, rendered_content, date_sent,
                                sending_client, is_channel_message, has_link, has_image, has_attachment)
           SELECT %(realm_id)s, sender, recipient, coalesce(topic, ''), content, '<p>' || content || '</p>',
                  now() - (%(messages)s - g) * interval '1 minute', 'bench', NOT is_direct,
                  kind_draw < 0.05, kind_draw < 0.01, kind_draw >= 0.05 AND kind_draw < 0.055
           FROM (SELECT *, body || CASE WHEN kind_draw < 0.05 THEN ' https://example.com/' || g ELSE '' END
                           AS content FROM shaped) with_content
           ORDER BY g""",
        {
            "recipients": recipients, "topic_counts": topic_counts, "topic_offsets": topic_offsets,
            "slots": slots, "slot_count": len(slots), "dm_share": DIRECT_MESSAGE_SHARE,
            "reader_position": reader_position, "user_count": len(users), "users": users,
            "personal": [personal[user] for user in users], "words": words, "word_count": len(words),
            "topics": topics, "topic_count": len(topics), "messages": messages, "realm_id": realm_id,
        },
    )  # fmt: skip
    # Unread: about half of the newest 2% of messages, and a few older ones; one's own messages are read.
    unread_after = first_new_id + int(messages * 0.98)
    flags = f"""CASE WHEN um_user = m.sender_id THEN 1
                     WHEN (m.id >= {unread_after} AND random() < 0.5) OR random() < 0.0005 THEN 0 ELSE 1 END
                | CASE WHEN random() < 0.002 THEN 2 ELSE 0 END | CASE WHEN random() < 0.003 THEN 8 ELSE 0 END"""
    cursor.execute(
        f"""INSERT INTO user_message (user_id, message_id, flags)
            SELECT um_user, m.id, {flags} FROM message m
            JOIN LATERAL (SELECT sub.user_id AS um_user FROM subscription sub
                          WHERE sub.recipient_id = m.recipient_id AND sub.active) subscribers ON true
            WHERE m.id >= %s AND m.is_channel_message""",
        (first_new_id,),
    )
    cursor.execute(
        f"""INSERT INTO user_message (user_id, message_id, flags)
            SELECT um_user, m.id, 256 | {flags} FROM message m JOIN recipient r ON r.id = m.recipient_id
            JOIN LATERAL (VALUES (m.sender_id), (r.type_id)) AS people (um_user) ON true
            WHERE m.id >= %s AND NOT m.is_channel_message""",
        (first_new_id,),
    )
    cursor.execute(
        """INSERT INTO reaction (message_id, user_id, emoji_name, emoji_code, reaction_type)
           SELECT id, sender_id, 'thumbs_up', '1f44d', 'unicode_emoji' FROM message
           WHERE id >= %s AND random() < 0.01""",
        (first_new_id,),
    )
    cursor.execute(
        """UPDATE stream s SET first_message_id = first.id
           FROM (SELECT recipient_id, min(id) AS id FROM message GROUP BY recipient_id) first
           JOIN recipient r ON r.id = first.recipient_id AND r.type = 2 WHERE s.id = r.type_id"""
    )
    if user_message_key:
        cursor.execute(f"ALTER TABLE user_message ADD CONSTRAINT {user_message_key[0]} {user_message_key[1]}")
    for _, definition in indexes:
        cursor.execute(definition)


def describe_fill(cursor: Any, messages: int, reader_key: str, seconds: float) -> Fill:
    cursor.execute("SELECT id FROM user_profile WHERE email = %s", (READER,))
    reader_id = cursor.fetchone()[0]
    cursor.execute(
        """SELECT s.id, r.id FROM subscription sub JOIN recipient r ON r.id = sub.recipient_id AND r.type = 2
           JOIN stream s ON s.id = r.type_id
           WHERE sub.user_id = %s AND sub.active AND NOT s.invite_only AND s.first_message_id IS NOT NULL
           ORDER BY (SELECT count(*) FROM subscription o
                                                 WHERE o.recipient_id = r.id) DESC, s.id""",
        (reader_id,),
    )
    channels = [(row[0], row[1]) for row in cursor.fetchall()]
    topics = []
    for stream_id, recipient_id in channels[:6]:
        cursor.execute(
            """SELECT subject FROM message WHERE recipient_id = %s
               GROUP BY subject ORDER BY count(*) DESC, subject LIMIT 5""",
            (recipient_id,),
        )
        topics += [(stream_id, row[0]) for row in cursor.fetchall()]
    words = COMMON_WORDS[COMMON_WORDS.index("deploy") :]
    queries = [words[5], words[40], words[120], f"{words[10]} {words[60]}", f"{words[25]} {words[100]}"]
    return Fill(messages, reader_key, channels, queries, topics, seconds)


def figures(cursor: Any) -> str:
    cursor.execute("SELECT id FROM user_profile WHERE email = %s", (READER,))
    reader_id = cursor.fetchone()[0]
    cursor.execute("SELECT count(*) FROM message")
    messages = cursor.fetchone()[0]
    cursor.execute("SELECT count(*) FROM user_message")
    rows = cursor.fetchone()[0]
    cursor.execute(
        "SELECT count(*), count(*) FILTER (WHERE flags & 1 = 0) FROM user_message WHERE user_id = %s", (reader_id,)
    )
    reader_rows, reader_unread = cursor.fetchone()
    cursor.execute("SELECT count(DISTINCT (recipient_id, lower(subject))) FROM message WHERE is_channel_message")
    topics = cursor.fetchone()[0]
    return (
        f"{messages:,} messages in {topics:,} topics, {rows:,} user rows; "
        f"the reader has {reader_rows:,} messages, {reader_unread:,} unread"
    )


def message_requests(zulipd: Zulipd, fill: Fill, batch: int) -> dict[str, list[bytes]]:
    host = urllib.parse.urlsplit(zulipd.base_url).netloc
    headers = {"Authorization": basic_auth(READER, fill.reader_api_key)}

    def get(narrow: list[dict[str, Any]], anchor: str, num_after: int) -> bytes:
        query = urllib.parse.urlencode(
            {"anchor": anchor, "num_before": batch, "num_after": num_after, "narrow": json.dumps(narrow)}
        )
        return http_request("GET", f"/api/v1/messages?{query}", host, headers)

    return {
        "topic narrow": [
            get([{"operator": "channel", "operand": stream_id}, {"operator": "topic", "operand": topic}], "newest", 0)
            for stream_id, topic in fill.topics
        ],
        "search narrow": [
            get([{"operator": "search", "operand": query}], "newest", 0) for query in fill.search_queries
        ],
        "first_unread, all messages": [get([], "first_unread", batch)],
        "first_unread, one channel": [
            get([{"operator": "channel", "operand": stream_id}], "first_unread", batch)
            for stream_id, _ in fill.reader_channels
        ],
    }


def cycling(requests: list[bytes]) -> Callable[[int], bytes]:
    return lambda number: requests[number % len(requests)]


def returned(load: Load) -> float:
    counts = [len(json.loads(body)["messages"]) for body in load.bodies]
    return statistics.mean(counts) if counts else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages in the database")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each measured run")
    parser.add_argument("--rounds", type=int, default=2, help="measured runs of each kind of request")
    parser.add_argument("--batch", type=int, default=50, help="num_before (and num_after around the first unread)")
    parser.add_argument("--keep", metavar="DIR", help="keep the database in DIR, and reuse it if DIR holds one")
    args = parser.parse_args()
    fill_path = os.path.join(args.keep, FILL_FILE) if args.keep else None
    fill: Fill | None = None
    if fill_path and os.path.exists(fill_path):
        with open(fill_path, encoding="utf-8") as fill_file:
            stored = json.load(fill_file)
        if stored["messages"] != args.messages:
            raise SystemExit(f"{args.keep} holds {stored['messages']:,} messages, not {args.messages:,}: remove it")
        fill = Fill(**{**stored, "reader_channels": [tuple(pair) for pair in stored["reader_channels"]],
                       "topics": [tuple(pair) for pair in stored["topics"]]})  # fmt: skip
    elif args.keep and os.path.isdir(args.keep) and os.listdir(args.keep):
        raise SystemExit(f"{args.keep} is not empty and holds no {FILL_FILE}: give an empty or a new directory")
    runs: dict[str, list[Load]] = {}
    with workspace(args.keep) as (workdir, started):
        zulipd = start_zulipd(workdir, started)
        connection = psycopg2.connect(zulipd.database_dsn())
        connection.autocommit = True  # for VACUUM; an unfinished fill leaves DIR without its fill.json anyway
        with connection.cursor() as cursor:
            if fill is None:
                began = time.monotonic()
                rng = random.Random(1)
                reader_key, stream_ids = create_people_and_channels(zulipd, cursor, rng)
                fill_database(cursor, args.messages, stream_ids, rng)
                cursor.execute("VACUUM (ANALYZE) message")
                cursor.execute("VACUUM (ANALYZE) user_message")
                cursor.execute("VACUUM (ANALYZE) reaction")
                fill = describe_fill(cursor, args.messages, reader_key, time.monotonic() - began)
                if fill_path:
                    with open(fill_path, "w", encoding="utf-8") as fill_file:
                        json.dump(asdict(fill), fill_file)
                print(f"filled the database in {fill.seconds:.0f} s", flush=True)
            description = figures(cursor)
        connection.close()
        requests = message_requests(zulipd, fill, args.batch)
        for name, kind in requests.items():
            http_load(zulipd.base_url, [cycling(kind)], 2, zulipd.process.pid, [])  # warm-up
            runs[name] = []
        for _ in range(args.rounds):
            for name, kind in requests.items():
                load = http_load(zulipd.base_url, [cycling(kind)], args.duration, zulipd.process.pid,
                                 zulipd.database_pids())  # fmt: skip
                runs[name].append(load)
    print(f"GET /api/v1/messages, one connection, {args.rounds} x {args.duration:g} s per kind; {description}")
    print(f"num_before {args.batch} (and num_after {args.batch} around the first unread)")
    failed = False
    for name, loads in runs.items():
        for number, load in enumerate(loads, start=1):
            print(
                f"{name:<28} run {number}   p50 {load.percentile(50):6.2f} ms   p95 {load.percentile(95):6.2f} ms   "
                f"p99 {load.percentile(99):6.2f} ms   requests {load.ok}   errors {load.errors}   "
                f"messages/answer {returned(load):4.1f}   CPU zulipd {load.cpu_seconds:4.1f} s, "
                f"PostgreSQL {load.database_cpu_seconds:4.1f} s"
            )
            for sample in load.error_samples:
                print(f"    error: {sample}")
            failed = failed or load.errors > 0
    print("targets (p95 < 50 ms):")
    for name, loads in runs.items():
        p95s = [load.percentile(95) for load in loads]
        worst = max(p95s)
        print(
            f"  {name:<28} p95 median {statistics.median(p95s):6.2f} ms (min {min(p95s):.2f}, max {worst:.2f}): "
            f"{'met' if worst < 50 else 'missed'}"
        )
    if failed:
        sys.exit("FAILED: some requests were refused")


if __name__ == "__main__":
    main()
