"""Counters of the present masks per project, neighbourhood and patch, and tallies per author
and per changed class: what the pages show, read without counting masks.

Every write that changes a mask's state (class, refinement, presence) describes each changed
mask before and after (``Facts``) to a ``Deltas``, which adds the differences to the counter
rows in the write's own transaction (``UPDATE ... SET n = n + d``: safe under concurrent
writes, and always in the same order: patches, neighbourhoods, project, tallies, by key).
Bulk writes (import, a rebuild's map, a changed ``min_group_size``) ``recount`` a project
from its masks instead. The groups' own counters are ``mask_classes.refresh_totals``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, case, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from mcae.platform.annotation.models import Decision, Group, Mask, Neighbourhood, Patch, Project, Tally

COUNTS = ("masks", "decided", "refine", "area", "decided_area")


@dataclass(frozen=True)
class Facts:
    """What the counters know of one mask."""

    present: bool
    patch: str
    neighbourhood: str
    area: int
    class_id: int | None
    refine: bool
    pred_class: int
    mapped_class: int | None
    by: tuple[str, int] | None  # ("group" | "mask", author) of the decision that set its class

    @property
    def current(self) -> int:
        return self.class_id if self.class_id is not None else self.pred_class

    @property
    def changed(self) -> bool:
        return self.mapped_class is None or self.mapped_class != self.current

    def counts(self) -> tuple[int, int, int, int, int]:
        decided = self.class_id is not None
        return (1, int(decided), int(not decided and self.refine), self.area, self.area if decided else 0)


def facts(mask: Any, by: dict[int, tuple[str, int]], **now: Any) -> Facts:
    """A mask's facts (a Mask or a row with its columns), with ``now``'s fields in place of its own."""
    def get(name: str) -> Any:
        return now[name] if name in now else getattr(mask, name)

    decision = get("decision_id")
    return Facts(present=bool(get("present")), patch=mask.patch, neighbourhood=mask.neighbourhood,
                 area=int(mask.area or 0), class_id=get("class_id"), refine=bool(get("refine")),
                 pred_class=int(mask.pred_class), mapped_class=get("mapped_class"),
                 by=by.get(decision) if decision is not None and get("class_id") is not None else None)


def authors(session: Session, decision_ids: Iterable[int | None]) -> dict[int, tuple[str, int]]:
    """(target, author) of these decisions."""
    ids = sorted({d for d in decision_ids if d is not None})
    out: dict[int, tuple[str, int]] = {}
    for start in range(0, len(ids), 500):
        out.update({i: (t, a) for i, t, a in session.execute(
            select(Decision.id, Decision.target, Decision.author_id).where(Decision.id.in_(ids[start:start + 500])))})
    return out


class Deltas:
    """Differences to the counters of one project, added up, then applied once."""

    def __init__(self, project_id: str) -> None:
        self.project_id = project_id
        self.patches: dict[str, list[int]] = defaultdict(lambda: [0] * 5)
        self.hoods: dict[str, list[int]] = defaultdict(lambda: [0] * 5)
        self.changed = [0, 0]
        self.tallies: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])

    def add(self, before: Facts, after: Facts) -> None:
        for sign, f in ((-1, before), (1, after)):
            if not f.present:
                continue
            for target in (self.patches[f.patch], self.hoods[f.neighbourhood]):
                for i, v in enumerate(f.counts()):
                    target[i] += sign * v
            if f.changed:
                self.changed[0] += sign
                self.changed[1] += sign * f.area
                self._tally(("changed", f.current), sign, f.area)
            if f.by is not None:
                self._tally((f"author-{f.by[0]}", f.by[1]), sign, f.area)

    def _tally(self, key: tuple[str, int], sign: int, area: int) -> None:
        row = self.tallies[key]
        row[0] += sign
        row[1] += sign * area

    def apply(self, session: Session) -> None:
        pid = self.project_id
        names = ("dm", "dd", "dr", "da", "dda")
        for model, rows in ((Patch, self.patches), (Neighbourhood, self.hoods)):
            values = [{"p": pid, "k": name, **dict(zip(names, d, strict=True))}
                      for name, d in sorted(rows.items()) if any(d)]
            if values:  # Core executemany (the table, not the ORM class: no per-row bulk-by-key rules)
                c = _table(model).c
                session.execute(update(_table(model)).where(c.project_id == bindparam("p"), c.name == bindparam("k"))
                                .values(masks=c.masks + bindparam("dm"), decided=c.decided + bindparam("dd"),
                                        refine=c.refine + bindparam("dr"), area=c.area + bindparam("da"),
                                        decided_area=c.decided_area + bindparam("dda")), values)
        total = [sum(d[i] for d in self.patches.values()) for i in range(5)]
        if any(total) or any(self.changed):
            session.execute(update(Project).where(Project.id == pid).values(
                masks=Project.masks + total[0], decided=Project.decided + total[1],
                refine=Project.refine + total[2], decided_area=Project.decided_area + total[4],
                changed=Project.changed + self.changed[0], changed_area=Project.changed_area + self.changed[1])
                .execution_options(synchronize_session=False))
        tallies = [(k, d) for k, d in sorted(self.tallies.items()) if any(d)]
        if tallies:
            _add_tallies(session, pid, tallies)


def _table(model: Any) -> Table:
    return model.__table__


def _add_tallies(session: Session, project_id: str, tallies: list[tuple[tuple[str, int], list[int]]]) -> None:
    """Add to the tallies, creating the missing rows: one ``INSERT ... ON CONFLICT DO UPDATE SET
    n = n + excluded.n`` (SQLite and PostgreSQL), not an insert of the missing rows and an update."""
    rows = [{"project_id": project_id, "kind": k, "key": n, "masks": d[0], "area": d[1]} for (k, n), d in tallies]
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        from sqlalchemy.dialects import postgresql, sqlite

        table = _table(Tally)
        stmt: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
        session.execute(stmt.on_conflict_do_update(
            index_elements=[table.c.project_id, table.c.kind, table.c.key],
            set_={"masks": table.c.masks + stmt.excluded.masks, "area": table.c.area + stmt.excluded.area}), rows)
        return
    # pragma: no cover - the service runs on SQLite and PostgreSQL
    known = set(session.execute(select(Tally.kind, Tally.key).where(Tally.project_id == project_id)).all())
    missing = [dict(r, masks=0, area=0) for r in rows if (r["kind"], r["key"]) not in known]
    if missing:
        session.execute(insert(Tally), missing)
    c = _table(Tally).c
    session.execute(update(_table(Tally)).where(c.project_id == project_id, c.kind == bindparam("k"),
                                                c.key == bindparam("n"))
                    .values(masks=c.masks + bindparam("dm"), area=c.area + bindparam("da")),
                    [{"k": k, "n": n, "dm": d[0], "da": d[1]} for (k, n), d in tallies])


# -- recounting a whole project (bulk writes) --------------------------------------------------

def recount(session: Session, project_id: str) -> None:
    """Every counter of a project from its masks (import, a rebuild's map, a setting's change):
    one grouped read of the project's masks (and one of its decided masks, for the authors),
    never on an interactive path."""
    session.flush()
    live = (Mask.project_id == project_id, Mask.present.is_(True))
    decided = Mask.class_id.is_not(None)
    current = func.coalesce(Mask.class_id, Mask.pred_class)
    changed = case((Mask.mapped_class.is_(None) | (Mask.mapped_class != current), 1), else_=0)
    sums = (func.count(Mask.id), func.count(Mask.class_id),
            func.count(case((Mask.class_id.is_(None) & Mask.refine, 1))),
            func.coalesce(func.sum(Mask.area), 0), func.coalesce(func.sum(case((decided, Mask.area), else_=0)), 0))
    # one pass over the project's masks, grouped finely enough for every counter: patches,
    # neighbourhoods and the project are sums of its rows, and so are the changed masks by class
    per_patch: dict[str, list[int]] = defaultdict(lambda: [0] * 5)
    per_hood: dict[str, list[int]] = defaultdict(lambda: [0] * 5)
    by_class_sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for patch, hood, cls, is_changed, *rest in session.execute(
            select(Mask.patch, Mask.neighbourhood, current, changed, *sums).where(*live)
            .group_by(Mask.patch, Mask.neighbourhood, current, changed)):
        counts = [int(v) for v in rest]
        for target in (per_patch[patch], per_hood[hood]):
            for i, v in enumerate(counts):
                target[i] += v
        if is_changed:
            by_class_sums[int(cls)][0] += counts[0]
            by_class_sums[int(cls)][1] += counts[3]
    zero = (0, 0, 0, 0, 0)
    for model, found in ((Patch, per_patch), (Neighbourhood, per_hood)):
        names = sorted(session.scalars(select(model.name).where(model.project_id == project_id)))
        values = [{"p": project_id, "k": n, **dict(zip(COUNTS, found.get(n, zero), strict=True))} for n in names]
        if values:
            c = _table(model).c
            session.execute(update(_table(model)).where(c.project_id == bindparam("p"), c.name == bindparam("k"))
                            .values({c[k]: bindparam(f"n_{k}") for k in COUNTS}),
                            [{"p": v["p"], "k": v["k"], **{f"n_{k}": v[k] for k in COUNTS}} for v in values])
    groups = {hood: (int(n), int(n_open)) for hood, n, n_open in session.execute(
        select(Group.neighbourhood, func.count(case((Group.masks > 0, 1))), func.count(case((Group.open_masks > 0, 1))))
        .where(Group.project_id == project_id).group_by(Group.neighbourhood))}
    hoods = [{"p": project_id, "k": n, "g": groups.get(n, (0, 0))[0], "o": groups.get(n, (0, 0))[1]} for n in
             sorted(session.scalars(select(Neighbourhood.name).where(Neighbourhood.project_id == project_id)))]
    if hoods:
        c = _table(Neighbourhood).c
        session.execute(update(_table(Neighbourhood)).where(c.project_id == bindparam("p"), c.name == bindparam("k"))
                        .values(groups=bindparam("g"), open_groups=bindparam("o")), hoods)
    masks, n_decided, refine, _, decided_area = (sum(v[i] for v in per_patch.values()) for i in range(5))
    by_class = sorted((c, n, a) for c, (n, a) in by_class_sums.items())
    patches, checked = session.execute(select(func.count(Patch.id), func.count(case((Patch.checked, 1)))).where(
        Patch.project_id == project_id)).one()
    session.execute(update(Project).where(Project.id == project_id).values(
        masks=masks, decided=n_decided, refine=refine, decided_area=decided_area, patches=patches,
        checked_patches=checked, open_groups=sum(o for _, o in groups.values()),
        changed=sum(int(n) for _, n, _ in by_class), changed_area=sum(int(a) for _, _, a in by_class))
        .execution_options(synchronize_session=False))
    session.execute(delete(Tally).where(Tally.project_id == project_id))
    rows = [{"project_id": project_id, "kind": "changed", "key": int(c), "masks": int(n), "area": int(a)}
            for c, n, a in by_class]
    rows += [{"project_id": project_id, "kind": f"author-{t}", "key": int(u), "masks": int(n), "area": int(a)}
             for t, u, n, a in session.execute(
                 select(Decision.target, Decision.author_id, func.count(Mask.id), func.coalesce(func.sum(Mask.area), 0))
                 .join(Decision, Decision.id == Mask.decision_id).where(*live, decided)
                 .group_by(Decision.target, Decision.author_id))]
    if rows:
        session.execute(insert(Tally), rows)
    analyze(session)
    session.expire_all()  # the session's projects, patches and neighbourhoods read their counters again


def analyze(session: Session) -> None:
    """On PostgreSQL, fresh planner statistics of the tables a bulk write rewrote but the masks
    (``bulk_load`` analyses those): planned on an import's empty tables, "next group"'s read in
    gain order became a scan of every group and a sort (80 ms at 4 M masks, 0.4 ms after)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE groups, patches, neighbourhoods, tallies"))


def tallies(session: Session, project_id: str, kind: str) -> dict[int, tuple[int, int]]:
    """key -> (masks, area) of one kind of tally (``changed``, ``author-group``, ``author-mask``)."""
    return {k: (int(n), int(a)) for k, n, a in session.execute(
        select(Tally.key, Tally.masks, Tally.area).where(Tally.project_id == project_id, Tally.kind == kind,
                                                        Tally.masks != 0))}
