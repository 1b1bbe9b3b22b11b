"""`/flywheel <subcommand> [share]`: acked at once (a subcommand that needs the database or a model acks with a
"working on it" line), then answered through `respond()` (the response_url) from the work lane, never from the
request thread: ephemeral, or in the channel when the text ends with `share` (docs/ARCHITECTURE.md, "The ack
path").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.blocks import (
    Message,
    build_gap_list,
    build_help_message,
    build_topics_message,
    with_top_topics,
)
from bot.blocks.common import channel_link, esc
from bot.errors import ConfigError, InvalidInput
from bot.present import topic_views
from bot.services import Services, threads
from bot.services.conversations import resolve
from bot.services.digest import local_now
from bot.services.loop_insights import TOPIC_DAYS, ranked_topics, top_topics
from bot.services.permissions import Action, require, spend
from bot.services.regression import check_regress
from bot.slack.digest import post_digest
from bot.slack.errors import show_error
from bot.slack.weekly import share_chart, stats_message
from handlers import flows, present, steps

log = logging.getLogger(__name__)

SEARCH_HITS = 5


@dataclass(frozen=True)
class Invocation:
    sub: str
    rest: str  # the text after the subcommand (without `share`)
    share: bool
    user: str
    command: str
    channel: str = ""  # where the command was typed (`share` posts there)
    response_url: str = ""  # where a queued answer goes (`flows.answer_later`)

    @property
    def args(self) -> list[str]:
        return self.rest.split()


def parse(command: dict[str, Any]) -> Invocation:
    words = (command.get("text") or "").split()
    share = bool(words) and words[-1].lower() == "share"
    if share:
        words = words[:-1]
    sub = words[0].lower() if words else "help"
    return Invocation(sub, " ".join(words[1:]), share, command.get("user_id", ""), command.get("command", "/flywheel"),
                      command.get("channel_id", ""), command.get("response_url", ""))


def _help(services: Services, client: WebClient, inv: Invocation) -> Message:
    s = services.settings
    return build_help_message(inv.command, flag_emoji=s.flag_emoji, ok_emoji=s.ok_emoji)


def _stats(services: Services, client: WebClient, inv: Invocation) -> Message:
    period = inv.args[0].lower() if inv.args else "week"
    if period not in ("week", "month"):
        raise InvalidInput(f"`{inv.command} stats` takes `week` or `month`.")
    if inv.share:  # the report goes to the channel, and the chart with it
        share_chart(services, client, channel=inv.channel, user=inv.user)  # role-checked: FLYWHEEL_ROLE_SHARE_STATS
    return stats_message(services, client, period="month" if period == "month" else "week")


def _digest(services: Services, client: WebClient, inv: Invocation) -> Message:
    if inv.args and inv.args[0].lower() != "now":
        raise InvalidInput(f"Did you mean `{inv.command} digest now`?")
    channel = services.settings.review_channel
    if not channel:
        raise ConfigError("FLYWHEEL_REVIEW_CHANNEL is not set: I don't know where to post the digest.")
    require(services, inv.user, Action.DIGEST_NOW)  # the scheduler and `flywheel digest` act as the operator
    day = local_now(services, services.clock()).date()
    result = post_digest(services, client, day=day, channel=channel)
    where = channel_link(channel)
    if result.status == "posted":
        return present.notice(f":newspaper: Posted the digest for {day} in {where}: {result.items} conversations.")
    if result.status == "already_posted":
        return present.notice(f":newspaper: The digest for {day} is already in {where}.")
    return present.notice(f":hourglass_flowing_sand: The digest for {day} is being posted to {where} right now.")


def _gaps(services: Services, client: WebClient, inv: Invocation) -> Message:
    which = inv.args[0].lower() if inv.args else "open"
    if which not in ("mine", "open", "topics"):
        raise InvalidInput(f"`{inv.command} gaps` takes `mine`, `open` or `topics`.")
    now = services.clock()
    if which == "topics":
        return build_topics_message(topic_views(ranked_topics(services, now=now)), days=TOPIC_DAYS)
    rows, total = threads.gap_rows(services, user=inv.user if which == "mine" else None)
    title = "Your open gaps" if which == "mine" else "Open gaps"
    listed = build_gap_list(title, [present.gap_summary(r, now=now) for r in rows], total=total)
    if which == "mine":
        return listed
    return with_top_topics(listed, topic_views(top_topics(services, now=now)), days=TOPIC_DAYS)


def _search(services: Services, client: WebClient, inv: Invocation) -> Message:
    if not inv.rest.strip():
        raise InvalidInput(f"What should I search for? `{inv.command} search <text>`")
    return present.search_message(inv.rest, services.kb.search(inv.rest, SEARCH_HITS))


def _replay(services: Services, client: WebClient, inv: Invocation) -> Message | None:
    if not inv.args:
        raise InvalidInput(f"Which conversation? `{inv.command} replay <conversation>`")
    if inv.share:
        require(services, inv.user, Action.SHARE_REPLAY)  # it shows a customer conversation to the channel
    conversation_id = resolve(services, inv.args[0])
    spend(services, inv.user, "replay the conversation")
    payload = {"conversation_id": conversation_id, "user": inv.user, "share": inv.share,
               "response_url": inv.response_url}
    return flows.answer_later(services, "command-replay", payload,
                              lambda: steps.replay_answer(services, conversation_id=conversation_id, user=inv.user))


def _regress(services: Services, client: WebClient, inv: Invocation) -> Message | None:
    check_regress(services, inv.user)  # the role and the model call, here: a queued run does not check again
    payload = {"user": inv.user, "share": inv.share, "response_url": inv.response_url}
    return flows.answer_later(services, "command-regress", payload,
                              lambda: steps.regress_answer(services, client, user=inv.user))


Run = Callable[[Services, WebClient, Invocation], Message | None]  # None: answered by a queued job
# subcommand → (function, the "working on it" line of those that need the database or a model)
SUBCOMMANDS: dict[str, tuple[Run, str | None]] = {
    "help": (_help, None),
    "stats": (_stats, "Working on it…"),
    "digest": (_digest, "Posting today's digest…"),
    "gaps": (_gaps, "Working on it…"),
    "search": (_search, "Searching the knowledge base…"),
    "replay": (_replay, "Replaying the conversation against today's knowledge base…"),
    "regress": (_regress, "Replaying every regression case…"),
}


def handle_flywheel_command(
    ack: Ack, command: dict[str, Any], respond: Respond, services: Services, client: WebClient, context: BoltContext
) -> None:
    """Ack first (with the placeholder), then hand the answer off to the work lane (`context["handoff"]`, put
    there by `bot.app.create_app`; without it, as when called directly, the answer is computed here)."""
    inv = parse(command)
    slow = SUBCOMMANDS.get(inv.sub, (None, None))[1]
    if slow:
        ack(text=f":hourglass_flowing_sand: {slow}")
    else:
        ack()
    handoff = context.get("handoff")
    if callable(handoff):
        handoff(answer, inv, respond, services, client, context)
    else:
        answer(inv, respond, services, client, context)


def answer(inv: Invocation, respond: Respond, services: Services, client: WebClient, context: BoltContext) -> None:
    """Run the subcommand and answer through the response_url; errors go to the one error renderer."""
    run = SUBCOMMANDS.get(inv.sub, (None, None))[0]
    msg: Message | None
    try:
        if run is None:
            names = " · ".join(f"`{name}`" for name in SUBCOMMANDS)
            msg = present.notice(f"I don't know `{esc(inv.sub, 40)}`. Try {names} (`{esc(inv.command, 32)} help`).")
        else:
            msg = run(services, client, inv)
        if msg is not None:  # None: a queued job answers through the response_url
            respond(response_type="in_channel" if inv.share else "ephemeral", **msg.as_kwargs())
    except Exception as exc:  # noqa: BLE001 - after the ack: shown to the user and logged by show_error
        show_error(exc, context, client)
        return
    log.info("command done sub=%r user=%r shared=%r", inv.sub if run else "unknown", inv.user, inv.share)
