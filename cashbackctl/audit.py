"""`cashbackctl audit`: run the wallet's auditor on a live database.

It reads the wallet's own database directly (read-only, one snapshot), not
over gRPC: the point is to check the books independently of the service."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def make_run_url() -> str:
    """The wallet database `make run` started (it writes var/database-urls.json), or ""."""
    path = Path(os.environ.get("CASHBACK_VAR_DIR") or "var") / "database-urls.json"
    try:
        return str(json.loads(path.read_text()).get("wallet", ""))
    except (OSError, ValueError):
        return ""


def audit(
    database_url: str = typer.Option(
        "", "--database-url", envvar="WALLET_DATABASE_URL", show_default=False,
        help="The wallet's database (postgresql+asyncpg://user@host:port/database); "
        "default: WALLET_DATABASE_URL, else the one `make run` uses (var/database-urls.json).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the violations as JSON."),
) -> None:
    """Check the wallet's books: every transaction balances, balances equal their
    entries, every lot adds up, held equals the active holds. Exit 1 on any violation."""
    from cashback_kit.config import Settings
    from cashback_services.wallet.auditor import audit_database

    database_url = database_url or Settings.from_env("wallet").database_url or make_run_url()
    if not database_url:
        err_console.print("[red]audit could not run:[/red] give --database-url or set WALLET_DATABASE_URL")
        raise typer.Exit(2)

    try:
        violations = asyncio.run(audit_database(database_url))
    except Exception as exc:
        err_console.print(f"[red]audit could not run:[/red] {type(exc).__name__}: {exc}")
        raise typer.Exit(2) from exc
    from cashbackctl.common import STATE

    if as_json or (STATE.get("ctx") and STATE["ctx"].as_json):  # --json may have been moved to the root
        print(json.dumps([{"check": v.check, "detail": v.detail} for v in violations], indent=2))
    elif violations:
        for v in violations:
            console.print(f"[red]✗[/red] {v}")
        err_console.print(f"{len(violations)} violation(s)")
    else:
        console.print("[green]✓[/green] the wallet's books are consistent")
    raise typer.Exit(1 if violations else 0)
