"""The `heracles` command line: the command groups of `backend/cli/commands/`, put together."""

from __future__ import annotations

import typer

from backend.cli.commands import api, db, detection, ingest, schema, stack, tokens

app = typer.Typer(
    help="Heracles: account-fraud graph investigation.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
# Top-level commands, in the order `heracles --help` lists them.
for group in (stack, detection, ingest, api):
    app.registered_commands.extend(group.app.registered_commands)
app.add_typer(db.db_app, name="db")
app.add_typer(tokens.token_app, name="token")
app.add_typer(schema.schema_app, name="schema")
app.add_typer(ingest.dlq_app, name="dlq")

if __name__ == "__main__":
    app()
