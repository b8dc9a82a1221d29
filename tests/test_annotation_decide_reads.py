"""Issue 17: a group decision reads the group row once, the users once and the project once, and moves
the counters by increments (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from annotation_fixtures import copy_project, seed_database
from sqlalchemy import event, select

from mcae.platform.annotation import schemas, service
from mcae.platform.annotation.auth import CurrentUser
from mcae.platform.annotation.db import Database
from mcae.platform.annotation.models import Group, User


def test_a_group_decision_reads_its_group_and_the_users_once(db_url: str, template_project: Path,
                                                              tmp_path: Path) -> None:
    root = copy_project(template_project, tmp_path / "city")
    seed_database(db_url, root, project_id="reads")
    db = Database(db_url)
    with db.reader() as session:
        group = session.scalars(select(Group).where(Group.project_id == "reads").order_by(Group.id)).first()
        alice = session.scalar(select(User).where(User.name == "alice"))
        assert group is not None and alice is not None
        hood, key, version, user = group.neighbourhood, group.key, group.version, CurrentUser(alice.id, "alice",
                                                                                               "annotator")
    seen: list[str] = []

    def remember(conn, cursor, statement, parameters, context, many):  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()).lower())

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        with db.session() as session:
            out = service.decide_group(session, "reads", user, hood, key,
                                       schemas.GroupDecisionIn.model_validate({"class": "Tree", "version": version}),
                                       None)
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    db.dispose()
    assert out.group is not None and out.group.version == version + 1 and out.masks_changed > 0
    group_rows = [s for s in seen if "lease_until" in s]  # statements that read whole group rows
    users = [s for s in seen if "from users" in s]
    assert len(group_rows) == 1 and group_rows[0].startswith("update groups"), group_rows
    assert len(users) == 1, users
    projects = [s for s in seen if s.startswith("select projects.")]  # the project row, once
    assert len(projects) == 1, projects
    whole_masks = [s for s in seen if s.startswith("select masks.id, masks.project_id")]  # ORM rows of masks
    assert len(whole_masks) <= 2, whole_masks  # the group's members, then fresh under the lock to recompute
    # the counters move by increments (no recount of a patch, neighbourhood or project from the masks)
    assert not [s for s in seen if "from masks" in s and "group by masks.patch" in s]
    assert any(s.startswith("update patches set masks=(patches.masks +") for s in seen)
    assert any(s.startswith("update projects set masks=(projects.masks +") for s in seen)
