"""Every Slack Web API call goes through `bot/slack/client.py` (retry handlers, expected errors, one place
to read). Checked on the syntax tree of every module of bot/, handlers/ and storage/: a call of a Web API
method (`client.chat_postMessage(...)`, `app.client.views_open(...)`, `x.api_call(...)`) anywhere else fails."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "storage")
THE_CLIENT = ROOT / "bot" / "slack" / "client.py"
WEB_API = re.compile(
    r"^(?:chat_\w+|views_\w+|files_\w+|usergroups_\w+|users_\w+|reactions_\w+|conversations_\w+|auth_\w+"
    r"|pins_\w+|bookmarks_\w+|team_\w+|bots_\w+|api_call)$"
)


def web_api_calls(source: str) -> list[tuple[int, str]]:
    """(line, method) of every call whose callee is an attribute named like a Web API method."""
    return sorted((node.lineno, node.func.attr) for node in ast.walk(ast.parse(source))
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and WEB_API.match(node.func.attr))


def test_no_web_api_call_outside_the_client_module() -> None:
    files = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py")) if p != THE_CLIENT]
    assert len(files) > 50
    found = [f"{path.relative_to(ROOT)}:{line} {method}"
             for path in files for line, method in web_api_calls(path.read_text(encoding="utf-8"))]
    assert not found, ("Web API calls outside bot/slack/client.py (add a function there and call it):\n"
                       + "\n".join(found))
    assert web_api_calls(THE_CLIENT.read_text(encoding="utf-8")), "the client module itself makes the calls"


def test_the_check_sees_every_spelling_of_a_call() -> None:
    source = (
        "client.chat_postMessage(channel='C', text='t')\n"
        "app.client.views_open(trigger_id='x', view={})\n"
        "self.web.usergroups_users_list(usergroup='S')\n"
        "def f(c):\n    return c.reactions_add(name='books')\n"
        "c.api_call('conversations.info')\n"
        "post_message(client, channel='C', text='t')  # through the client module: fine\n"
        "'client.chat_update(' in docs\n"
    )
    assert [m for _, m in web_api_calls(source)] == ["chat_postMessage", "views_open", "usergroups_users_list",
                                                     "reactions_add", "api_call"]
