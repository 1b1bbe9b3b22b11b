"""`flywheel doctor`: check the whole setup, name what is wrong and how to fix it; exit 1 on any failure.

Each check is a small function from the settings to `Check`s; none changes anything (no migration, no
message posted). Secrets are never printed: only whether they are set and look right.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from bot.errors import ConfigError
from bot.settings import Settings, load_settings

# The repository's manifest.yml; in the Docker image it sits in the working directory (/app).
MANIFESTS = (Path(__file__).resolve().parent.parent / "manifest.yml", Path("manifest.yml"))
OPENAI_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _env_name(field: str) -> str:
    info = Settings.model_fields.get(field)
    alias = getattr(info.validation_alias, "choices", None) if info else None
    return str(alias[0]) if alias else f"FLYWHEEL_{field.upper()}"


def settings_checks(load: Callable[[], Settings]) -> tuple[Settings | None, list[Check]]:
    try:
        return load(), [Check("settings", True, "every setting parses")]
    except ValidationError as exc:
        return None, [Check(f"setting {_env_name(str(e['loc'][0]))}", False, str(e["msg"]),
                            "see its line in .env.example for the expected format") for e in exc.errors()]


def slack_token_checks(s: Settings) -> list[Check]:
    checks: list[Check] = []
    socket_mode = s.slack_app_token is not None
    if s.slack_signing_secret is None:
        checks.append(Check("SLACK_SIGNING_SECRET", socket_mode, "not needed in Socket Mode" if socket_mode
                            else "missing or empty: `flywheel serve` cannot verify Slack's requests",
                            "copy it from api.slack.com/apps → Basic Information → Signing Secret"))
    else:
        checks.append(Check("SLACK_SIGNING_SECRET", True, "set"))
    bot = s.slack_bot_token.get_secret_value() if s.slack_bot_token else ""
    if not bot:
        checks.append(Check("SLACK_BOT_TOKEN", False, "missing", "OAuth & Permissions → Bot User OAuth Token"))
    elif not bot.startswith("xoxb-"):
        checks.append(Check("SLACK_BOT_TOKEN", False, f"does not start with xoxb- (starts with {bot[:5]!r})",
                            "use the Bot User OAuth Token (xoxb-…), not a user (xoxp-) or app (xapp-) token"))
    else:
        checks.append(Check("SLACK_BOT_TOKEN", True, "looks like a bot token"))
    if socket_mode and s.slack_app_token and not s.slack_app_token.get_secret_value().startswith("xapp-"):
        checks.append(Check("SLACK_APP_TOKEN", False, "does not start with xapp-",
                            "Basic Information → App-Level Tokens, with connections:write"))
    return checks


def manifest_path() -> Path | None:
    return next((p for p in MANIFESTS if p.is_file()), None)


def manifest_scopes(path: Path | None = None) -> frozenset[str]:
    found = path or manifest_path()
    if found is None:
        return frozenset()
    data = yaml.safe_load(found.read_text(encoding="utf-8"))
    return frozenset(data["oauth_config"]["scopes"]["bot"])


def slack_auth_checks(s: Settings) -> list[Check]:
    if not (s.slack_bot_token and s.slack_bot_token.get_secret_value().startswith("xoxb-")):
        return []
    from slack_sdk.errors import SlackApiError

    from bot.slack.client import error_code, granted_scopes, make_web_client

    try:
        granted = granted_scopes(make_web_client(s))
    except SlackApiError as exc:
        return [Check("Slack auth.test", False, f"refused: {error_code(exc)}",
                      "the bot token is revoked or wrong: reinstall the app and copy the new token")]
    except Exception as exc:  # noqa: BLE001 - a network error is a finding
        return [Check("Slack auth.test", False, f"SLACK_API_URL unreachable ({type(exc).__name__})",
                      "check the network, a proxy, or SLACK_API_URL")]
    if manifest_path() is None:
        return [Check("Slack auth.test", True, "the bot token is valid (manifest.yml not here: scopes not compared)")]
    missing = sorted(manifest_scopes() - granted)
    return [Check("Slack auth.test", True, "the bot token is valid"),
            Check("Slack scopes", not missing, f"missing {', '.join(missing)}" if missing else "as in manifest.yml",
                  "add them in OAuth & Permissions (or update the app from manifest.yml) and reinstall")]


def channel_checks(s: Settings) -> list[Check]:
    """The bot is a member of the review and stats channels (conversations.info, scope channels:read): Slack
    refuses posts to a channel the bot was not invited to."""
    from slack_sdk.errors import SlackApiError

    from bot.slack.client import channel_membership, error_code, make_web_client

    wanted = [(name, channel) for name, channel in (("FLYWHEEL_REVIEW_CHANNEL", s.review_channel),
                                                     ("FLYWHEEL_STATS_CHANNEL", s.stats_channel)) if channel]
    if not wanted:
        return []
    client = make_web_client(s)
    checks = []
    for setting, channel in wanted:
        name = f"bot in {setting}"
        try:
            member, label = channel_membership(client, channel=channel)
        except SlackApiError as exc:
            code = error_code(exc)
            fix = ("add channels:read in OAuth & Permissions (or update the app from manifest.yml) and reinstall"
                   if code == "missing_scope" else f"set {setting} to the channel's ID (C0123ABC, from the "
                   "channel's details), not its name; a private channel needs groups:read")
            checks.append(Check(name, False, f"conversations.info refused {channel}: {code}", fix))
            continue
        except Exception as exc:  # noqa: BLE001 - a network error is a finding
            checks.append(Check(name, False, f"could not check {channel} ({type(exc).__name__})",
                                "check the network, a proxy, or SLACK_API_URL"))
            continue
        where = f"#{label}" if label else channel
        checks.append(Check(name, member, f"member of {where}" if member else f"not a member of {where} ({channel})",
                            f"type `/invite @Flywheel` in {where}"))
    return checks


def database_checks(s: Settings) -> list[Check]:
    from bot.readiness import OK
    from bot.readiness import database_checks as probe
    from storage.db import make_engine

    engine = make_engine(s.database_url)
    try:
        found = probe(engine)
    finally:
        engine.dispose()
    fixes = {"database": "check DATABASE_URL (host, port, user, database) and that the server is up",
             "migrations": "run `flywheel init` (safe while the old version still runs)"}
    return [Check(name, value == OK, value, "" if value == OK else fixes[name]) for name, value in found.items()]


def model_checks(s: Settings) -> list[Check]:
    if not s.use_openai:
        return [Check("model", True, "offline provider (no OPENAI_API_KEY): deterministic, labelled drafts")]
    if s.openai_api_key is None:
        return [Check("OPENAI_API_KEY", False, "FLYWHEEL_LLM_PROVIDER=openai but no key",
                      "set OPENAI_API_KEY, or FLYWHEEL_LLM_PROVIDER=offline")]
    import requests

    base = (s.openai_base_url or OPENAI_URL).rstrip("/")
    try:
        response = requests.get(f"{base}/models", timeout=min(s.llm_timeout, 10.0),
                                headers={"Authorization": f"Bearer {s.openai_api_key.get_secret_value()}"})
    except requests.RequestException as exc:
        return [Check("OPENAI_BASE_URL", False, f"unreachable: {base} ({type(exc).__name__})",
                      "check OPENAI_BASE_URL (e.g. https://api.openai.com/v1) and the network")]
    if response.status_code in (401, 403):
        return [Check("OPENAI_API_KEY", False, f"refused by {base} (HTTP {response.status_code})",
                      "create a new key, or check that it belongs to this endpoint")]
    return [Check("model endpoint", True, f"{base} answers (HTTP {response.status_code})")]


def loop_checks(s: Settings) -> list[Check]:
    checks = [Check("FLYWHEEL_REVIEW_CHANNEL", bool(s.review_channel),
                    s.review_channel or "unset: the daily digest has nowhere to go",
                    "set it to the channel ID (C0123ABC) and invite the bot there")]
    hour, _, minute = s.digest_time.partition(":")
    valid_time = int(hour) < 24 and int(minute) < 60
    checks.append(Check("FLYWHEEL_DIGEST_TIME", valid_time, s.digest_time if valid_time
                        else f"{s.digest_time!r} is not a time of day", "use HH:MM, 24-hour, e.g. 09:00"))
    try:
        zoneinfo.ZoneInfo(s.timezone)
        checks.append(Check("FLYWHEEL_TIMEZONE", True, s.timezone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        checks.append(Check("FLYWHEEL_TIMEZONE", False, f"unknown time zone {s.timezone!r}",
                            "use an IANA name such as Europe/Paris or America/New_York"))
    return checks


def _config(name: str, fix: str, build: Callable[[], Any]) -> Check:
    try:
        build()
    except ConfigError as exc:
        return Check(name, False, exc.message, fix)
    return Check(name, True, "configured")


def connector_checks(s: Settings) -> list[Check]:
    from bot.integrations.agents import build_agent
    from bot.integrations.settings import load_integration_settings
    from bot.llm.offline import OfflineLLM
    from bot.publishers.registry import build_publisher
    from bot.redact import configure_redaction

    checks = [_config("redaction", "fix FLYWHEEL_REDACT_EXTRA_PATTERNS / _ALLOW / _REGIONS (name=regex …)",
                      lambda: configure_redaction(s))]
    try:
        conf = load_integration_settings(s)
    except ValidationError as exc:
        return [*checks, Check("connector settings", False, f"{len(exc.errors())} invalid value(s)",
                               "see docs/INTEGRATIONS.md")]
    checks.append(_config(f"agent {s.agent!r}", "FLYWHEEL_AGENT: builtin, http, openai, python or an installed "
                          "flywheel.agents entry point", lambda: build_agent(conf, OfflineLLM())))
    checks.append(_config(f"publisher {s.publisher!r}", "FLYWHEEL_PUBLISHER: builtin, markdown, webhook, zendesk, "
                          "intercom or an installed flywheel.publishers entry point", lambda: build_publisher(conf)))
    if s.search_embeddings != "off":
        from bot.kb.embeddings import INSTALL_HINT, reranker_for

        checks.append(_config(f"search embeddings {s.search_embeddings!r}", f"{INSTALL_HINT}, or set "
                              "FLYWHEEL_SEARCH_EMBEDDINGS=off (BM25 alone)", lambda: reranker_for(s)))
    return checks


def run_checks(load: Callable[[], Settings] = load_settings) -> list[Check]:
    settings, checks = settings_checks(load)
    if settings is None:
        return checks
    for group in (slack_token_checks, slack_auth_checks, database_checks, model_checks, loop_checks,
                  connector_checks):
        checks.extend(group(settings))
        if group is slack_auth_checks and any(c.name == "Slack auth.test" and c.ok for c in checks):
            checks.extend(channel_checks(settings))  # only with a token Slack accepts
    return checks


def render(console: Console, checks: Iterable[Check]) -> int:
    """Print the checks; the number that failed."""
    failed = 0
    for c in checks:
        failed += not c.ok
        mark = "[green]✓[/]" if c.ok else "[red]✗[/]"
        console.print(f"{mark} {escape(c.name)}: {escape(c.detail)}", highlight=False, soft_wrap=True)
        if not c.ok and c.fix:
            console.print(f"    fix: {escape(c.fix)}", highlight=False, soft_wrap=True)
    return failed


def register(app: typer.Typer, services_factory: Callable[..., Any]) -> None:
    @app.command()
    def doctor() -> None:
        """Check the setup (tokens, scopes, database, model, channels, connectors); exit 1 if anything fails."""
        console = Console()
        checks = run_checks()
        failed = render(console, checks)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        console.print(f"{len(checks)} checks, {failed} failed ({stamp}).", highlight=False)
        if failed:
            raise typer.Exit(1)
