"""`heracles token`: API bearer tokens."""

from __future__ import annotations

import typer
from rich.table import Table

from backend.cli.common import console
from backend.core.config import get_settings

app = typer.Typer()
token_app = typer.Typer(help="API bearer tokens (stored hashed).", no_args_is_help=True)


@token_app.command("create")
def token_create(
    name: str = typer.Option(..., help="Who or what uses it (shown in the audit trail)."),
    role: str = typer.Option(..., help="analyst | bantool | ingest | admin"),
) -> None:
    """Create a token. It is printed once, here; only its hash is stored."""
    from backend.auth.roles import Role
    from backend.auth.tokens import TokenError, create_token
    from backend.graph.driver import create_driver

    try:
        chosen = Role(role)
    except ValueError:
        console.print(f"[red]unknown role {role!r}[/]: one of {', '.join(r.value for r in Role)}")
        raise typer.Exit(2) from None
    settings = get_settings()
    with create_driver(settings) as driver:
        try:
            token_id, token = create_token(driver, settings.NEO4J_DATABASE, name, chosen)
        except TokenError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from exc
    console.print(f"created {token_id} ({name}, role {chosen.value}); the token, shown only now:",
                  highlight=False, soft_wrap=True)  # fmt: skip
    typer.echo(token)


@token_app.command("list")
def token_list() -> None:
    """Every token ever created (never the secret)."""
    from backend.auth.tokens import list_tokens
    from backend.graph.driver import create_driver

    settings = get_settings()
    with create_driver(settings) as driver:
        tokens = list_tokens(driver, settings.NEO4J_DATABASE)
    table = Table(title="API tokens")
    for column in ("id", "name", "role", "created", "revoked"):
        table.add_column(column)
    for t in tokens:
        table.add_row(
            t.id, t.name, t.role.value, f"{t.created_at:%Y-%m-%d %H:%M}" if t.created_at else "",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
        )  # fmt: skip
    console.print(table)


@token_app.command("revoke")
def token_revoke(ref: str = typer.Argument(..., help="Token id or name.")) -> None:
    """Revoke a token (the API honours it within API_TOKEN_CACHE_S seconds)."""
    from backend.auth.tokens import revoke_token
    from backend.graph.driver import create_driver

    settings = get_settings()
    with create_driver(settings) as driver:
        revoked = revoke_token(driver, settings.NEO4J_DATABASE, ref)
    if not revoked:
        console.print(f"[red]no token with id or name {ref!r}[/]")
        raise typer.Exit(1)
    console.print(f"revoked {', '.join(revoked)}")
