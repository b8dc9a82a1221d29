"""Who is asking: users, roles and the dependency that names the current user.

Roles are ordered ``viewer < annotator < reviewer < admin``; a route asks for the least
role it needs. Tokens come only in the ``Authorization: Bearer`` header (never in a URL).
A verified token is remembered for a short while by a hash of it, so scrypt runs once
per token and process, not once per request.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from mcae.inference.errors import InputError
from mcae.platform.annotation.models import Token, User, utcnow
from mcae.platform.annotation.tokens import NewToken, ScryptParams, new_token, split_token, verify
from mcae.platform.errors import Forbidden, Unauthenticated

Role = Literal["viewer", "annotator", "reviewer", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "annotator", "reviewer", "admin")
CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class CurrentUser:
    id: int
    name: str
    role: Role

    def has(self, role: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


class TokenCache:
    """Recently verified tokens (by SHA-256 of the token) -> user, per process."""

    def __init__(self, seconds: float = CACHE_SECONDS) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, CurrentUser, str]] = {}

    def get(self, key: str) -> CurrentUser | None:
        with self._lock:
            found = self._seen.get(key)
            if found is None or found[0] < time.monotonic():
                self._seen.pop(key, None)
                return None
            return found[1]

    def put(self, key: str, user: CurrentUser, token_id: str) -> None:
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[key] = (time.monotonic() + self.seconds, user, token_id)

    def forget_user(self, user_id: int) -> None:
        with self._lock:
            for key in [k for k, v in self._seen.items() if v[1].id == user_id]:
                del self._seen[key]


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    return role


def add_user(session: Session, name: str, role: str, params: ScryptParams,
             nbytes: int = 32) -> tuple[User, str]:
    """A new user and its first token (the plain token is returned once, never stored)."""
    role = check_role(role)
    name = name.strip()
    if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise InputError("a user name is 1-64 letters, digits, '-', '_' or '.'")
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise InputError(f"user {name!r} exists already; `mcae users token {name}` makes a new token")
    user = User(name=name, role=role)
    session.add(user)
    session.flush()
    return user, issue_token(session, user, params, nbytes)


def issue_token(session: Session, user: User, params: ScryptParams, nbytes: int = 32,
                label: str | None = None) -> str:
    made: NewToken = new_token(params, nbytes)
    session.add(Token(id=made.id, user_id=user.id, salt=made.salt, secret_hash=made.secret_hash,
                      params=made.params, label=label))
    return made.plain


def authenticate(session: Session, plain: str, cache: TokenCache) -> CurrentUser:
    """The user a token belongs to (Unauthenticated for a wrong, revoked or malformed one)."""
    key = hashlib.sha256(plain.encode()).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        return cached
    parts = split_token(plain)
    if parts is None:
        raise Unauthenticated("malformed token: expected `Authorization: Bearer mcae_...`")
    token = session.get(Token, parts[0])
    if token is None or token.revoked_at is not None or not verify(parts[1], token.salt, token.secret_hash,
                                                                    token.params):
        raise Unauthenticated("invalid or revoked token")
    user = session.get(User, token.user_id)
    if user is None or not user.active:
        raise Unauthenticated("this token's user is disabled")
    current = CurrentUser(user.id, user.name, user.role)  # type: ignore[arg-type]
    cache.put(key, current, token.id)
    return current


def revoke_tokens(session: Session, user: User, cache: TokenCache | None = None) -> int:
    tokens = session.scalars(select(Token).where(Token.user_id == user.id, Token.revoked_at.is_(None))).all()
    for token in tokens:
        token.revoked_at = utcnow()
    if cache is not None:
        cache.forget_user(user.id)
    return len(tokens)


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("use `Authorization: Bearer <token>`")
    return value.strip()


def current_user(request: Request) -> CurrentUser:
    """The user of the request's token (401 without one)."""
    plain = bearer(request)
    if plain is None:
        raise Unauthenticated("this route needs a token: `Authorization: Bearer <token>` "
                              "(`mcae users add NAME --role annotator` makes one)")
    state = request.app.state
    with state.database.reader() as session:
        return authenticate(session, plain, state.token_cache)


def require(role: Role) -> Callable[[CurrentUser], CurrentUser]:
    """A dependency that lets through users with ``role`` or a higher one (403 otherwise)."""

    def dependency(user: Annotated[CurrentUser, Depends(current_user)]) -> CurrentUser:
        if not user.has(role):
            raise Forbidden(f"this needs the {role} role; {user.name} is a {user.role}")
        return user

    dependency.__name__ = f"require_{role}"
    return dependency


Viewer = Annotated[CurrentUser, Depends(require("viewer"))]
Annotator = Annotated[CurrentUser, Depends(require("annotator"))]
Reviewer = Annotated[CurrentUser, Depends(require("reviewer"))]
Admin = Annotated[CurrentUser, Depends(require("admin"))]
