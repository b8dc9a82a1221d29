"""The append-only history: every change with who, when, before and after."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from mcae.platform.annotation.models import History


def record(session: Session, project_id: str | None, user_id: int | None, action: str, entity: str,
           entity_id: str, before: dict[str, Any] | None = None,
           after: dict[str, Any] | None = None) -> History:
    """Add one history entry to the session's transaction (committed with the change)."""
    entry = History(project_id=project_id, user_id=user_id, action=action, entity=entity,
                    entity_id=entity_id, before=before, after=after)
    session.add(entry)
    return entry
