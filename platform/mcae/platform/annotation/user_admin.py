"""Users and their tokens, administered from the command line (``mcae users``): the service
functions behind it, each run inside the caller's transaction with its history entry.

The history records them as the command line's other writes: by the database's own ``engine``
user (the command line has no signed-in user). Plain tokens are returned once; only their
hashes are stored.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mcae.inference.errors import InputError
from mcae.platform.annotation.auth import add_user, issue_token, revoke_tokens
from mcae.platform.annotation.importer import system_user
from mcae.platform.annotation.models import History, Token, User
from mcae.platform.annotation.tokens import ScryptParams


def create_user(session: Session, name: str, role: str, params: ScryptParams, nbytes: int) -> str:
    """A new user; returns its first token (shown once)."""
    user, token = add_user(session, name, role, params, nbytes)
    _record(session, "add", user.name, {"role": user.role})
    return token


def user_list(session: Session) -> list[tuple[str, str, bool, int]]:
    """Every user by name: name, role, active, live tokens."""
    rows = session.execute(
        select(User.name, User.role, User.active, func.count(Token.id))
        .outerjoin(Token, (Token.user_id == User.id) & Token.revoked_at.is_(None))
        .group_by(User.id).order_by(User.name)).all()
    return [(name, role, bool(active), int(tokens)) for name, role, active, tokens in rows]


def another_token(session: Session, name: str, params: ScryptParams, nbytes: int, rotate: bool) -> str:
    """A new token of an active user; ``rotate`` revokes the others in the same transaction."""
    user = session.scalar(select(User).where(User.name == name, User.active.is_(True)))
    if user is None:
        raise InputError(f"no active user {name!r}; `mcae users list` shows them")
    if rotate:
        count = revoke_tokens(session, user)
        _record(session, "revoke", name, {"tokens": count, "rotated": True})
    return issue_token(session, user, params, nbytes)


def revoke_user(session: Session, name: str, disable: bool) -> int:
    """Revoke every token of a user (and disable it with ``disable``); returns how many."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise InputError(f"no user {name!r}; `mcae users list` shows them")
    count = revoke_tokens(session, user)
    if disable:
        user.active = False
    _record(session, "revoke", name, {"tokens": count, "disabled": disable})
    return count


def _record(session: Session, action: str, name: str, after: dict[str, Any]) -> None:
    History.record(session, None, system_user(session).id, action, "user", name, after=after)
