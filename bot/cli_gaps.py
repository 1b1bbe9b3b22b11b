"""`flywheel gaps ...`: list, show, flag, review, notes, turn, dismiss, reopen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from bot import render
from bot.cli_common import UserOpt, out, services
from bot.cli_common import current_user as _user
from bot.domain import GapKind, GapState

gaps_app = typer.Typer(help="Knowledge gaps: list, show, flag, dismiss…", no_args_is_help=True)


def register(app: typer.Typer, services_factory: Callable[..., Any]) -> None:
    """Add the `gaps` group to the `flywheel` CLI."""
    app.add_typer(gaps_app, name="gaps")


@gaps_app.command("list")
def gaps_list(
    all_: Annotated[bool, typer.Option("--all", help="include closed gaps")] = False,
    mine: Annotated[bool, typer.Option(help="only gaps you own")] = False,
    user: UserOpt = "",
) -> None:
    """List open gaps (or all)."""
    from bot.services.gaps import list_gaps

    states = list(GapState) if all_ else [GapState.OPEN, GapState.DRAFTING, GapState.FAILED]
    render.gap_list(out, list_gaps(services(), states=states, owner=(user or _user()) if mine else None))


@gaps_app.command("show")
def gaps_show(gap_id: int) -> None:
    """Show a gap: its conversation, outline, draft, notes and history."""
    from bot.services.insight import gap_detail

    render.gap_detail(out, gap_detail(services(), gap_id))


@gaps_app.command("flag")
def gaps_flag(
    conversation: Annotated[str, typer.Argument(help="conversation id or external id")],
    turn: Annotated[int | None, typer.Option(help="position of the agent turn that fell short")] = None,
    kind: Annotated[GapKind, typer.Option(help="missing, unclear, contradictory or stale")] = GapKind.MISSING,
    join: Annotated[int | None, typer.Option(help="join this existing gap instead")] = None,
    new: Annotated[bool, typer.Option("--new", help="open a new gap even if it matches one")] = False,
    user: UserOpt = "",
) -> None:
    """Flag a knowledge gap on a conversation."""
    from bot.services.conversations import resolve
    from bot.services.gaps import flag

    svc = services()
    result = flag(svc, conversation_id=resolve(svc, conversation), user=user or _user(), position=turn, kind=kind,
                  on_match=join if join is not None else ("new" if new else "ask"))
    render.flag_result(out, result)


@gaps_app.command("ok")
def gaps_ok(conversation: str, user: UserOpt = "") -> None:
    """Mark a sampled conversation as reviewed with no gap."""
    from bot.services.conversations import resolve
    from bot.services.gaps import mark_looks_good

    svc = services()
    mark_looks_good(svc, conversation_id=resolve(svc, conversation), user=user or _user())
    out.print("Marked as reviewed: looks good.")


@gaps_app.command("note")
def gaps_note(gap_id: int, text: str, user: UserOpt = "") -> None:
    """Add a teammate's note (a fact, a correction, a link) to a gap."""
    from bot.services.gaps import add_note

    add_note(services(), gap_id=gap_id, author=user or _user(), text=text)
    out.print(f"Note added to gap #{gap_id}.")


@gaps_app.command("turn")
def gaps_turn(gap_id: int, position: int, user: UserOpt = "") -> None:
    """Change which agent turn fell short."""
    from bot.services.gaps import set_flagged_turn

    set_flagged_turn(services(), gap_id=gap_id, position=position, user=user or _user())
    out.print(f"Gap #{gap_id} now points at turn {position}.")


@gaps_app.command("dismiss")
def gaps_dismiss(gap_id: int, reason: Annotated[str, typer.Option()] = "", user: UserOpt = "") -> None:
    """Dismiss a gap (not a knowledge problem, or a duplicate)."""
    from bot.services.gaps import dismiss

    dismiss(services(), gap_id=gap_id, user=user or _user(), reason=reason)
    out.print(f"Gap #{gap_id} dismissed.")


@gaps_app.command("target")
def gaps_target(
    gap_id: int,
    article: Annotated[str | None, typer.Option(help="the article (id or slug) the draft updates")] = None,
    new: Annotated[bool, typer.Option("--new", help="a new article instead of an update")] = False,
    user: UserOpt = "",
) -> None:
    """Choose which existing article the gap's draft updates, or a new article."""
    from bot.services.help_centre import set_target

    if (article is None) == (not new):
        raise typer.BadParameter("give --article ARTICLE or --new (one of them)")
    chosen = set_target(services(), gap_id=gap_id, article=None if new else article, user=user or _user())
    what = f"updates article #{chosen}" if chosen else "is a new article"
    out.print(f"Gap #{gap_id}'s draft {what}. Write the draft again (`flywheel draft {gap_id}`) so it starts from it.")


@gaps_app.command("reopen")
def gaps_reopen(gap_id: int, user: UserOpt = "") -> None:
    """Reopen a dismissed gap."""
    from bot.services.gaps import reopen

    reopen(services(), gap_id=gap_id, user=user or _user())
    out.print(f"Gap #{gap_id} reopened.")
