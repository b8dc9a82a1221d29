"""``mcae users``: users, roles and their API tokens (shown once, stored hashed)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mcae.platform.cli._common import CatalogOpt, friendly_errors
from mcae.platform.cli.db import DatabaseOpt

app = typer.Typer(help="Users, roles (viewer, annotator, reviewer, admin) and their tokens.",
                  no_args_is_help=True)
RoleOpt = Annotated[str, typer.Option("--role", "-r", help="viewer, annotator, reviewer or admin.")]


def _params(settings: Any) -> Any:
    from mcae.platform.annotation.tokens import ScryptParams

    return ScryptParams(settings.auth.scrypt_n, settings.auth.scrypt_r, settings.auth.scrypt_p)


@app.command()
@friendly_errors
def add(name: Annotated[str, typer.Argument(help="User name.")], role: RoleOpt = "annotator",
        catalog: CatalogOpt = None, database: DatabaseOpt = None) -> None:
    """Add a user and print its token once (only a hash of it is kept)."""
    from mcae.platform.annotation.auth import add_user
    from mcae.platform.annotation.local import open_database, settings_for
    from mcae.platform.annotation.models import History

    settings = settings_for(catalog, database)
    db = open_database(settings)
    try:
        with db.session() as session:
            user, token = add_user(session, name, role, _params(settings), settings.auth.token_bytes)
            History.record(session, None, None, "add", "user", user.name, after={"role": user.role})
    finally:
        db.dispose()
    typer.echo(token)
    typer.echo(f"# user {name} ({role}): this token is shown once; keep it secret "
               "(send it as `Authorization: Bearer <token>`)", err=True)


@app.command("list")
@friendly_errors
def list_users(catalog: CatalogOpt = None, database: DatabaseOpt = None) -> None:
    """Every user with its role and number of live tokens."""
    from sqlalchemy import func, select

    from mcae.platform.annotation.local import open_database, settings_for
    from mcae.platform.annotation.models import Token, User

    db = open_database(settings_for(catalog, database))
    try:
        with db.reader() as session:
            rows = session.execute(
                select(User.name, User.role, User.active, func.count(Token.id))
                .outerjoin(Token, (Token.user_id == User.id) & Token.revoked_at.is_(None))
                .group_by(User.id).order_by(User.name)).all()
    finally:
        db.dispose()
    for name, role, active, tokens in rows:
        typer.echo(f"{name}\t{role}\t{'active' if active else 'disabled'}\t{tokens} token(s)")


@app.command()
@friendly_errors
def token(name: Annotated[str, typer.Argument(help="User name.")],
          rotate: Annotated[bool, typer.Option(help="Revoke the user's other tokens in the same transaction.")]
          = False, catalog: CatalogOpt = None, database: DatabaseOpt = None) -> None:
    """Make another token for a user (printed once); ``--rotate`` revokes the others with it."""
    from sqlalchemy import select

    from mcae.inference.errors import InputError
    from mcae.platform.annotation.auth import issue_token, revoke_tokens
    from mcae.platform.annotation.local import open_database, settings_for
    from mcae.platform.annotation.models import History, User

    settings = settings_for(catalog, database)
    db = open_database(settings)
    try:
        with db.session() as session:
            user = session.scalar(select(User).where(User.name == name, User.active.is_(True)))
            if user is None:
                raise InputError(f"no active user {name!r}; `mcae users list` shows them")
            if rotate:
                count = revoke_tokens(session, user)
                History.record(session, None, None, "revoke", "user", name, after={"tokens": count, "rotated": True})
            plain = issue_token(session, user, _params(settings), settings.auth.token_bytes)
    finally:
        db.dispose()
    typer.echo(plain)


@app.command()
@friendly_errors
def revoke(name: Annotated[str, typer.Argument(help="User name.")],
           disable: Annotated[bool, typer.Option(help="Also disable the user.")] = False,
           catalog: CatalogOpt = None, database: DatabaseOpt = None) -> None:
    """Revoke every token of a user (every server refuses them from its next request on)."""
    from sqlalchemy import select

    from mcae.inference.errors import InputError
    from mcae.platform.annotation.auth import revoke_tokens
    from mcae.platform.annotation.local import open_database, settings_for
    from mcae.platform.annotation.models import History, User

    db = open_database(settings_for(catalog, database))
    try:
        with db.session() as session:
            user = session.scalar(select(User).where(User.name == name))
            if user is None:
                raise InputError(f"no user {name!r}; `mcae users list` shows them")
            count = revoke_tokens(session, user)
            if disable:
                user.active = False
            History.record(session, None, None, "revoke", "user", name, after={"tokens": count, "disabled": disable})
    finally:
        db.dispose()
    typer.echo(f"revoked {count} token(s) of {name}" + (" and disabled the user" if disable else ""))
