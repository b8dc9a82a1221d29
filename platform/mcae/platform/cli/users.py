"""``mcae users``: users, roles and their API tokens (shown once, stored hashed)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mcae.platform.cli._common import CatalogOpt, DatabaseOpt, command_database, friendly_errors

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
    from mcae.platform.annotation.db import open_database
    from mcae.platform.annotation.user_admin import create_user
    from mcae.platform.settings import get_settings

    settings = get_settings(catalog=catalog, database=database)
    db = open_database(settings)
    try:
        with db.session() as session:
            token = create_user(session, name, role, _params(settings), settings.auth.token_bytes)
    finally:
        db.dispose()
    typer.echo(token)
    typer.echo(f"# user {name} ({role}): this token is shown once; keep it secret "
               "(send it as `Authorization: Bearer <token>`)", err=True)


@app.command("list")
@friendly_errors
def list_users(catalog: CatalogOpt = None, database: DatabaseOpt = None) -> None:
    """Every user with its role and number of live tokens."""
    from mcae.platform.annotation.user_admin import user_list

    db = command_database(catalog, database)
    try:
        with db.reader() as session:
            rows = user_list(session)
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
    from mcae.platform.annotation.db import open_database
    from mcae.platform.annotation.user_admin import another_token
    from mcae.platform.settings import get_settings

    settings = get_settings(catalog=catalog, database=database)
    db = open_database(settings)
    try:
        with db.session() as session:
            plain = another_token(session, name, _params(settings), settings.auth.token_bytes, rotate)
    finally:
        db.dispose()
    typer.echo(plain)


@app.command()
@friendly_errors
def revoke(name: Annotated[str, typer.Argument(help="User name.")],
           disable: Annotated[bool, typer.Option(help="Also disable the user.")] = False,
           catalog: CatalogOpt = None, database: DatabaseOpt = None) -> None:
    """Revoke every token of a user (every server refuses them from its next request on)."""
    from mcae.platform.annotation.user_admin import revoke_user

    db = command_database(catalog, database)
    try:
        with db.session() as session:
            count = revoke_user(session, name, disable)
    finally:
        db.dispose()
    typer.echo(f"revoked {count} token(s) of {name}" + (" and disabled the user" if disable else ""))
