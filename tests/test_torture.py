"""Writers and harvesters at the same time: every harvester ends with exactly the store.

Two writer threads add, update, re-set and withdraw records, through the
store's write API (half the time pausing between taking a stamp and
committing) and through the REST API, while four harvesters (oai_dc and mods,
the whole repository, a set with a subset, a query-defined set; keeping the
first or the last responseDate) run a full harvest and then incremental
harvests from the previous responseDate, over HTTP against the production
server (gunicorn, two workers). When writing stops and the harvesters catch
up, each harvester's copy must equal the store: the same identifiers,
datestamps, deleted flags and metadata, and for a set its membership. This
short variant runs in the normal suite on SQLite and PostgreSQL; the long one
is tests/stress/torture.py (tests/torturekit.py holds what they share).
"""
from __future__ import annotations

import threading

from repository.api.tokens_store import create_token
from tests.torturekit import Harvester, Writer, differences, harvest_until, harvesters, production_server, \
    rule_disagreements, server_env, set_up_store, store_view

WRITES_PER_WRITER = 14
POOL = 30


def _write(writer: Writer, done: threading.Event, errors: list) -> None:
    try:
        for _ in range(WRITES_PER_WRITER):
            writer.step()
    except Exception as exc:  # surfaced by the test body
        errors.append(exc)
    finally:
        done.set()


def test_concurrent_writers_never_make_a_harvester_miss_a_change(db_url, engine, registry, tmp_path):
    set_up_store(engine, registry, 60, initial=10)
    token = create_token(engine, "torture", "write")
    errors: list = []
    done = [threading.Event(), threading.Event()]
    with production_server(server_env(db_url, page_size=7), 2, tmp_path / "server.log", tmp_path) as root:
        writers = [Writer(engine, registry, seed, POOL, root, token, rule_every=5 if seed == 0 else 0)
                   for seed in (0, 1)]
        harvs: list[Harvester] = harvesters(f"{root}/oai", 4)
        threads = [threading.Thread(target=_write, args=(w, done[i], errors)) for i, w in enumerate(writers)]
        threads += [threading.Thread(target=harvest_until, args=(h, lambda: all(d.is_set() for d in done), errors))
                    for h in harvs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=240)
        assert not any(t.is_alive() for t in threads), "a thread did not finish in time"
    assert not errors, errors
    assert sum(w.writes() for w in writers) == 2 * WRITES_PER_WRITER
    assert writers[0].counts["store set rule"] == WRITES_PER_WRITER // 5
    for h in harvs:
        expected, departed = store_view(engine, h.prefix, h.set_spec)
        assert h.set_spec or len(expected) > 10
        wrong = differences(h.copy, expected, departed)
        assert not wrong, f"the copy of the harvester of {h} differs from the store:\n" + "\n".join(wrong)
    assert not rule_disagreements(engine)
