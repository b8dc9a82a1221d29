"""A save is acknowledged only after its transaction committed: the SIGKILL test.

The real server (``mcae serve --workers 1``) runs as a process of its own over SQLite and
over PostgreSQL. Four annotators stream saves at it from their own threads: mask corrections
(one row or several in one request) and group decisions, on versions they keep and refetch
after a 409. The server is killed with SIGKILL 20 times at random moments (seeded) and
started again each time. After the last restart every acknowledged decision is there with
its author, target, class and masks, nothing is half-written (a multi-row correction has all
its decisions or none, no decision without masks, every decision has its history), every
mask's class is the one the decisions in force give it, and the database passes its own
integrity checks.

Restarts: ``mcae serve`` takes 5-10 s to import on 2 shared cores (torch and scikit-learn
come in with the app), which 20 restarts per backend cannot afford. A *zygote* process
imports the CLI once; each (re)start forks it and runs ``mcae serve ...`` (the CLI's own
``main``) in the child, which builds the app, opens the database (SQLite migrates or checks
itself, as at every start), binds the port and serves. The child is what gets SIGKILL; the
next child opens the database afresh after the kill, as a restarted server does.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from annotation_fixtures import FAST_SCRYPT, copy_project, seed_database
from durability_harness import (
    CLIENTS,
    KILL_GAP_S,
    KILLS,
    PHASE_BUDGET_S,
    SAVES_BEFORE_KILL,
    SEED,
    Ack,
    Annotator,
    Server,
    fetch_world,
    wait_for_attempts,
)
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.slow


def check_database(url: str, acks: list[Ack], users: dict[str, int]) -> dict[str, int]:
    """Everything acknowledged is there, nothing is half-written, masks follow the decisions."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            decisions = {r.id: r for r in conn.execute(text(
                "SELECT id, target, class_id, author_id, state, review, pass_no, patch, mask_id, "
                "neighbourhood, group_key FROM decisions WHERE project_id = 'demo'"))}
            covers: dict[int, set[int]] = {}
            for decision_id, mask_pk in conn.execute(text("SELECT decision_id, mask_pk FROM decision_masks")):
                covers.setdefault(decision_id, set()).add(mask_pk)
            masks = {r.id: r for r in conn.execute(text(
                "SELECT id, patch, mask_id, class_id, decision_id FROM masks WHERE project_id = 'demo'"))}
            history = [(r.action, r.entity, r.entity_id, _json(r.after)) for r in conn.execute(text(
                "SELECT action, entity, entity_id, after FROM history WHERE project_id = 'demo' ORDER BY id"))]
            integrity = _integrity(conn, url)
    finally:
        engine.dispose()

    # 1. every acknowledged decision, as acknowledged
    acked: dict[int, tuple[str, int, frozenset[int], str]] = {}
    for ack in acks:
        assert len(ack.decisions) == (ack.rows if ack.kind == "correction" else 1)
        for decision_id, (target, class_id, pks) in ack.decisions.items():
            assert decision_id not in acked, f"decision {decision_id} acknowledged twice"
            acked[decision_id] = (target, class_id, pks, ack.client)
    for decision_id, (target, class_id, pks, client) in acked.items():
        row = decisions.get(decision_id)
        assert row is not None, f"acknowledged decision {decision_id} ({client}, {target}) is missing"
        assert (row.target, row.class_id, row.author_id) == (target, class_id, users[client]), (decision_id, row)
        assert row.state == "active" and row.pass_no == 1
        assert covers.get(decision_id, set()) == set(pks), f"decision {decision_id}: masks differ"

    # 2. nothing half-written, acknowledged or not
    history_of_decision = {int(e[2]) for e in history if e[:2] == ("create", "decision")}
    history_of_mask_decision = Counter(int(e[3]["decision"]) for e in history
                                       if e[:2] == ("correct", "mask") and e[3] and "decision" in e[3])
    batches = [list(map(int, e[3]["decisions"])) for e in history if e[:2] == ("correct", "patch")]
    in_batches = Counter(d for batch in batches for d in batch)
    for decision_id, row in decisions.items():
        size = len(covers.get(decision_id, ()))
        assert size > 0, f"decision {decision_id} ({row.target}) has no masks: half-written"
        if row.target == "mask":
            assert size == 1, f"mask decision {decision_id} covers {size} masks"
            assert history_of_mask_decision[decision_id] == 1, f"mask decision {decision_id}: no history"
            assert in_batches[decision_id] == 1, f"mask decision {decision_id} is in {in_batches[decision_id]} saves"
        else:
            assert decision_id in history_of_decision, f"group decision {decision_id}: no history"
    for batch in batches:  # a multi-row correction: all its decisions or none (and then no history)
        present = [d in decisions for d in batch]
        assert all(present), f"a correction saved {sum(present)} of its {len(batch)} decisions: {batch}"
    for ack in acks:
        if ack.kind == "correction":
            batch = sorted(ack.decisions)
            assert batch in [sorted(b) for b in batches], f"correction {batch}: no history entry of its save"
            assert sum(len(covers[d]) for d in batch) == ack.rows
    assert len(history) >= len(acked), "fewer history entries than acknowledged decisions"

    # 3. every mask's class is the one of the decision in force on it (a mask correction beats
    #    a group decision; the later of one kind wins), computed here independently
    best: dict[int, tuple[tuple[bool, int], int]] = {}
    for decision_id, row in decisions.items():
        if row.state != "active" or row.review == "rejected" or row.pass_no != 1:
            continue
        for pk in covers.get(decision_id, ()):
            rank = (row.target == "mask", decision_id)
            if pk not in best or rank > best[pk][0]:
                best[pk] = (rank, row.class_id)
    corrected = {pk for _, (target, _, pks, _) in acked.items() if target == "mask" for pk in pks}
    for pk, mask in masks.items():
        want = best.get(pk)
        want_decision, want_class = (want[0][1], want[1] or None) if want else (None, None)
        assert (mask.decision_id, mask.class_id) == (want_decision, want_class), \
            f"mask {mask.patch}/{mask.mask_id}: decision {mask.decision_id} class {mask.class_id}, " \
            f"the decisions in force say {want_decision} class {want_class}"
        if mask.decision_id is not None:
            assert pk in covers.get(mask.decision_id, ()) and decisions[mask.decision_id].state == "active"
    for pk in corrected:  # each corrected mask now follows a mask correction (never a group decision)
        assert decisions[masks[pk].decision_id].target == "mask"

    assert integrity == "ok", f"integrity check: {integrity}"
    return {"decisions": len(decisions), "acked": len(acked), "committed_unacknowledged": len(decisions) - len(acked),
            "masks_checked": len(masks), "history": len(history)}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _integrity(conn: Any, url: str) -> str:
    if make_url(url).get_backend_name() == "sqlite":
        result = [r[0] for r in conn.execute(text("PRAGMA integrity_check"))]
        if result != ["ok"]:
            return "; ".join(result)
        orphans = list(conn.execute(text("PRAGMA foreign_key_check")))
        return "ok" if not orphans else f"foreign keys broken: {orphans[:5]}"
    # PostgreSQL: every B-tree index against its heap (amcheck), and the foreign keys by hand
    conn.execute(text("CREATE EXTENSION IF NOT EXISTS amcheck"))
    indexes = [r[0] for r in conn.execute(text(
        "SELECT c.oid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE a.amname = 'btree' AND n.nspname = 'public'"))]
    for index in indexes:
        conn.execute(text("SELECT bt_index_check(CAST(:i AS regclass), true)"), {"i": index})
    orphans = conn.execute(text(
        "SELECT count(*) FROM decision_masks dm LEFT JOIN decisions d ON d.id = dm.decision_id "
        "LEFT JOIN masks m ON m.id = dm.mask_pk WHERE d.id IS NULL OR m.id IS NULL")).scalar()
    conn.commit()
    return "ok" if indexes and orphans == 0 else f"{len(indexes)} indexes checked, {orphans} orphan rows"


def check_api(base: str, token: str, acks: list[Ack], rng: random.Random) -> int:
    """The same through the restarted server: the decision list, a sample in detail, the dump."""
    acked = {d: (a.client, t, c, pks) for a in acks for d, (t, c, pks) in a.decisions.items()}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        listed: dict[int, dict[str, Any]] = {}
        for page in range(1, 1000):
            body = client.get("/api/projects/demo/decisions", params={"per_page": 500, "page": page}) \
                .raise_for_status().json()
            listed.update({d["id"]: d for d in body["items"]})
            if page * 500 >= body["total"]:
                break
        assert len(listed) == body["total"]
        for decision_id, (client_name, target, class_id, pks) in acked.items():
            d = listed.get(decision_id)
            assert d is not None, f"acknowledged decision {decision_id} not listed"
            assert (d["author"], d["target"], d["class_id"], d["masks"]) == (client_name, target, class_id, len(pks))
        for decision_id in rng.sample(sorted(acked), min(60, len(acked))):
            detail = client.get(f"/api/projects/demo/decisions/{decision_id}").raise_for_status().json()
            assert {m["id"] for m in detail["mask_list"]} == set(acked[decision_id][3])
        dump = client.get("/api/projects/demo/decisions.jsonl").raise_for_status().text
        dumped = {json.loads(line)["id"] for line in dump.splitlines() if line.strip()}
        assert dumped == set(listed), "the dump and the decision list differ"
    return len(listed)


# -- the test --------------------------------------------------------------------------------

def test_sigkill_during_saves_loses_nothing_acknowledged(db_url: str, template_project: Path,
                                                         tmp_path: Path) -> None:
    from mcae.platform.annotation.auth import add_user
    from mcae.platform.annotation.db import Database
    from mcae.platform.annotation.models import User

    backend = make_url(db_url).get_backend_name()
    root = copy_project(template_project, tmp_path / "city")
    tokens = seed_database(db_url, root)
    db = Database(db_url)
    with db.session() as session:
        _, tokens["carol"] = add_user(session, "carol", "annotator", FAST_SCRYPT, 16)
    with db.reader() as session:
        users = {u.name: u.id for u in session.query(User)}
    db.dispose()

    rng = random.Random(SEED)
    server = Server(tmp_path, db_url)
    try:
        first_start = server.start()
        world = fetch_world(server.base, tokens["vera"])
        assert len(world.masks) > 20 and len(world.groups) >= 3 and len(world.patches) >= 4
        stop = threading.Event()
        deadline = time.monotonic() + PHASE_BUDGET_S
        clients = [Annotator(name, tokens[name], server.base, world, rng.randrange(2**32), stop, deadline)
                   for name in CLIENTS]
        for c in clients:
            c.start()
        kills, restarts = 0, []
        try:
            for _ in range(KILLS):
                # kill a server that is taking saves: after a few attempts reached it, then a seeded pause
                # (how fast the machine is decides only how long this takes, not what is asserted)
                wait_for_attempts(clients, sum(c.tally.attempts for c in clients) + SAVES_BEFORE_KILL)
                time.sleep(rng.uniform(*KILL_GAP_S))
                server.kill()
                kills += 1
                restarts.append(server.start())
            time.sleep(0.5)  # a last stretch of saves on the server started after the last kill
        finally:
            stop.set()
            for c in clients:
                c.join(30)
        assert not any(c.is_alive() for c in clients), "a client did not stop"

        # the checks read the server started after the last kill
        tallies = [c.tally for c in clients]
        acks = [a for t in tallies for a in t.acks]
        failures = [f for t in tallies for f in t.failures]
        verified = check_database(db_url, acks, users)
        listed = check_api(server.base, tokens["rita"], acks, rng)
        log = server.log_tail(20000)
    finally:
        server.stop()

    counts = {
        "backend": backend, "kills_survived": kills, "saves_attempted": sum(t.attempts for t in tallies),
        "saves_acknowledged": len(acks), "saves_lost_in_flight": sum(t.lost for t in tallies),
        "refused_while_down": sum(t.refused for t in tallies), "conflicts_409": sum(t.conflicts for t in tallies),
        "decisions_acknowledged": verified["acked"], "decisions_verified": verified["acked"],
        "decisions_in_db": verified["decisions"], "committed_not_acknowledged": verified["committed_unacknowledged"],
        "multi_row_corrections_acknowledged": sum(1 for a in acks if a.kind == "correction" and a.rows > 1),
        "group_decisions_acknowledged": sum(1 for a in acks if a.kind == "group"),
        "masks_checked": verified["masks_checked"], "history_entries": verified["history"],
        "listed_by_api": listed, "first_start_s": round(first_start, 2),
        "restart_s_median": round(sorted(restarts)[len(restarts) // 2], 2),
    }
    print(f"\nSIGKILL durability ({backend}): " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    assert not failures, f"{len(failures)} unexpected answers, first: {failures[:5]}"
    assert "Traceback" not in log and "database is locked" not in log, log[-4000:]
    assert kills == KILLS
    assert counts["saves_acknowledged"] > 0 and counts["saves_lost_in_flight"] > 0
    assert counts["decisions_verified"] > 0 and counts["multi_row_corrections_acknowledged"] > 0
    assert counts["group_decisions_acknowledged"] > 0
