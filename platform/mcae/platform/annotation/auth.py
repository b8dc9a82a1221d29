"""Who is asking: users, roles and the dependency that names the current user.

Roles are ordered ``viewer < annotator < reviewer < admin``; a route asks for the least
role it needs. Tokens come only in the ``Authorization: Bearer`` header (never in a URL).
A verified secret is remembered for a while by a hash of the token, so scrypt runs once per
token and process, not once per request; but the token's row and its user's (revoked?
active? role?) are read on every request, one primary-key join, so a revoke, a disable or a
role change made by any process (the CLI, another worker) applies to the very next request.
Failed attempts are throttled per client address and per token id (``throttle``).
"""

from __future__ import annotations

import hashlib
import logging
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
from mcae.platform.annotation.throttle import AuthGuard
from mcae.platform.annotation.tokens import NewToken, ScryptParams, new_token, split_token, verify
from mcae.platform.errors import Forbidden, Unauthenticated

logger = logging.getLogger(__name__)
Role = Literal["viewer", "annotator", "reviewer", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "annotator", "reviewer", "admin")
CACHE_SECONDS = 300.0


@dataclass(frozen=True)
class CurrentUser:
    id: int
    name: str
    role: Role

    def has(self, role: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


class TokenCache:
    """Recently verified tokens (by SHA-256 of the token) -> user, per process: what spares a
    scrypt. It never decides alone: ``authenticate`` reads the token's and user's rows first."""

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

    def forget(self, key: str) -> None:
        with self._lock:
            self._seen.pop(key, None)

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


def authenticate(session: Session, plain: str, cache: TokenCache, guard: AuthGuard | None = None,
                 address: str = "unknown") -> CurrentUser:
    """The user a token belongs to (Unauthenticated for a wrong, revoked or malformed one).

    With a ``guard``: 429 while ``address`` or the token's id is backing off after failures
    (the id's backoff spares a token this process verified already: its owner is not locked
    out by someone guessing), a recently failed token fails again without a scrypt, and scrypt
    runs in a capped number of slots (503 beyond).
    """
    parts = split_token(plain)
    token_id = parts[0] if parts is not None else None
    keys = (f"addr:{address}",) + ((f"token:{token_id}",) if token_id else ())
    key = hashlib.sha256(plain.encode()).hexdigest()
    cached = cache.get(key)
    if guard is not None:  # a token this process verified already is not held back by others' guesses
        guard.backoff.check(*(keys[:1] if cached is not None else keys))
    try:
        if parts is None:
            raise Unauthenticated("malformed token: expected `Authorization: Bearer mcae_...`")
        if guard is not None and key in guard.failed:
            raise Unauthenticated("invalid or revoked token")
        row = session.execute(select(Token, User).join(User, User.id == Token.user_id)
                              .where(Token.id == parts[0])).first()
        if row is None or row[0].revoked_at is not None:
            raise Unauthenticated("invalid or revoked token")
        token, user = row
        if cached is None or cached.id != user.id:
            if guard is None:
                ok = verify(parts[1], token.salt, token.secret_hash, token.params)
            else:
                with guard.slots.held():
                    ok = verify(parts[1], token.salt, token.secret_hash, token.params)
            if not ok:
                raise Unauthenticated("invalid or revoked token")
        if not user.active:
            raise Unauthenticated("this token's user is disabled")
    except Unauthenticated as exc:
        cache.forget(key)
        # logged: the address and the token's public id, never the token or its secret
        logger.info("authentication failed from %s (token id %s): %s", address, token_id or "-", exc)
        if guard is not None:
            guard.failed.add(key)
            guard.backoff.fail(*keys)
            wait = max(guard.backoff.wait_s(k) for k in keys)
            if wait > 0:
                logger.warning("authentication failures from %s (token id %s): refused for %.0f s",
                               address, token_id or "-", wait)
        raise
    current = CurrentUser(user.id, user.name, user.role)  # type: ignore[arg-type]  # role as read now
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
    address = request.client.host if request.client else "unknown"
    with state.database.reader() as session:
        return authenticate(session, plain, state.token_cache, state.auth_guard, address)


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
