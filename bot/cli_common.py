"""What every `flywheel` command module shares: the console, the acting user and the services factory."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.services import Services

out = Console()


def operator_name(name: str) -> str:
    """The local shell is trusted: a CLI user acts as the operator (roles and the model-call budget are for
    Slack users; whoever can run `flywheel` can open the database anyway). The name is kept for the audit."""
    from bot.services.permissions import operator

    return operator(name) if name else name


UserOpt = Annotated[str, typer.Option("--user", "-u", help="who is acting (default: your login)",
                                      callback=operator_name)]


def current_user() -> str:
    try:
        return operator_name(getpass.getuser())
    except Exception:  # noqa: BLE001 - no login name in some containers
        return operator_name("cli")


def services(**overrides: object) -> Services:
    from bot.services import build_services

    return build_services(Settings(**overrides))  # type: ignore[arg-type]
