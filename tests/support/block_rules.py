"""Slack's Block Kit limits, checked the way the Slack API would (independent of our builders and of
slack_sdk's validators, so a builder bug can't hide behind its own constants).

`message_problems(blocks)` / `view_problems(view)` return a list of human-readable reasons; an
empty list means Slack would accept it. The mock server answers `invalid_blocks` when not empty.
"""

from __future__ import annotations

from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MESSAGE_TEXT_MAX = 40_000

_TEXT_TYPES = {"plain_text", "mrkdwn"}
_KNOWN_BLOCKS = {
    "section", "divider", "header", "context", "actions", "input", "image", "markdown",
    "rich_text", "file", "video", "table",
}


def _text(obj: Any, where: str, limit: int, out: list[str], *, plain_only: bool = False) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in _TEXT_TYPES:
        out.append(f"{where}: not a text object")
        return
    if plain_only and obj["type"] != "plain_text":
        out.append(f"{where}: must be plain_text")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        out.append(f"{where}: text must be a non-empty string")
    elif len(text) > limit:
        out.append(f"{where}: text is {len(text)} chars (max {limit})")


def _option(opt: Any, where: str, out: list[str]) -> None:
    if not isinstance(opt, dict):
        out.append(f"{where}: not an option")
        return
    _text(opt.get("text"), f"{where}.text", 75, out)
    value = opt.get("value")
    if not isinstance(value, str) or len(value) > 150:
        out.append(f"{where}.value: must be a string of at most 150 chars")


def _confirm(obj: Any, where: str, out: list[str]) -> None:
    _text(obj.get("title"), f"{where}.title", 100, out, plain_only=True)
    _text(obj.get("text"), f"{where}.text", 300, out)
    _text(obj.get("confirm"), f"{where}.confirm", 30, out, plain_only=True)
    _text(obj.get("deny"), f"{where}.deny", 30, out, plain_only=True)


def _element(el: Any, where: str, out: list[str]) -> None:
    if not isinstance(el, dict) or "type" not in el:
        out.append(f"{where}: not an element")
        return
    kind = el["type"]
    if len(str(el.get("action_id", ""))) > 255:
        out.append(f"{where}.action_id: longer than 255")
    if "confirm" in el:
        _confirm(el["confirm"], f"{where}.confirm", out)
    if kind == "button":
        _text(el.get("text"), f"{where}.text", 75, out, plain_only=True)
        if len(el.get("value") or "") > 2000:
            out.append(f"{where}.value: {len(el['value'])} chars (max 2000)")
        if len(el.get("url") or "") > 3000:
            out.append(f"{where}.url: longer than 3000")
        if el.get("style") not in (None, "primary", "danger"):
            out.append(f"{where}.style: must be primary or danger")
    elif kind in ("static_select", "multi_static_select"):
        options = el.get("options") or []
        groups = el.get("option_groups") or []
        if not options and not groups:
            out.append(f"{where}: needs options or option_groups")
        if len(options) > 100 or len(groups) > 100:
            out.append(f"{where}: more than 100 options")
        for i, opt in enumerate(options):
            _option(opt, f"{where}.options[{i}]", out)
        initial = el.get("initial_option")
        if initial is not None and initial not in options:
            out.append(f"{where}.initial_option: not one of the options")
        if "placeholder" in el:
            _text(el["placeholder"], f"{where}.placeholder", 150, out, plain_only=True)
    elif kind == "overflow":
        if not 1 <= len(el.get("options") or []) <= 5:
            out.append(f"{where}: overflow needs 1 to 5 options")
    elif kind == "plain_text_input":
        if len(el.get("initial_value") or "") > 3000:
            out.append(f"{where}.initial_value: longer than 3000")
        for key in ("max_length", "min_length"):
            if key in el and not 0 <= int(el[key]) <= 3000:
                out.append(f"{where}.{key}: must be 0..3000")
        if "max_length" in el and len(el.get("initial_value") or "") > int(el["max_length"]):
            out.append(f"{where}.initial_value: longer than max_length")
    elif kind == "image":
        if len(el.get("alt_text") or "") > 2000:
            out.append(f"{where}.alt_text: longer than 2000")


def _block(block: Any, where: str, out: list[str]) -> None:
    if not isinstance(block, dict):
        out.append(f"{where}: not an object")
        return
    kind = block.get("type")
    if kind not in _KNOWN_BLOCKS:
        out.append(f"{where}: unknown block type {kind!r}")
        return
    if len(str(block.get("block_id", ""))) > 255:
        out.append(f"{where}.block_id: longer than 255")
    if kind == "section":
        if "text" not in block and "fields" not in block:
            out.append(f"{where}: section needs text or fields")
        if "text" in block:
            _text(block["text"], f"{where}.text", 3000, out)
        fields = block.get("fields") or []
        if len(fields) > 10:
            out.append(f"{where}.fields: {len(fields)} fields (max 10)")
        for i, f in enumerate(fields):
            _text(f, f"{where}.fields[{i}]", 2000, out)
        if "accessory" in block:
            _element(block["accessory"], f"{where}.accessory", out)
    elif kind == "header":
        _text(block.get("text"), f"{where}.text", 150, out, plain_only=True)
    elif kind == "context":
        elements = block.get("elements") or []
        if not 1 <= len(elements) <= 10:
            out.append(f"{where}.elements: {len(elements)} elements (1..10)")
        for i, el in enumerate(elements):
            if isinstance(el, dict) and el.get("type") in _TEXT_TYPES:
                _text(el, f"{where}.elements[{i}]", 3000, out)
    elif kind == "actions":
        elements = block.get("elements") or []
        if not 1 <= len(elements) <= 25:
            out.append(f"{where}.elements: {len(elements)} elements (1..25)")
        ids = [el.get("action_id") for el in elements if isinstance(el, dict) and el.get("action_id")]
        if len(ids) != len(set(ids)):
            out.append(f"{where}: duplicate action_id in one block")
        for i, el in enumerate(elements):
            _element(el, f"{where}.elements[{i}]", out)
    elif kind == "input":
        _text(block.get("label"), f"{where}.label", 2000, out, plain_only=True)
        if "hint" in block:
            _text(block["hint"], f"{where}.hint", 2000, out, plain_only=True)
        if "element" not in block:
            out.append(f"{where}: input needs an element")
        else:
            _element(block["element"], f"{where}.element", out)
    elif kind == "markdown":
        if len(block.get("text") or "") > 12_000:
            out.append(f"{where}.text: longer than 12000")


def blocks_problems(blocks: Any, *, max_blocks: int) -> list[str]:
    if not isinstance(blocks, list):
        return ["blocks: must be an array"]
    out: list[str] = []
    if len(blocks) > max_blocks:
        out.append(f"blocks: {len(blocks)} blocks (max {max_blocks})")
    ids = [b.get("block_id") for b in blocks if isinstance(b, dict) and b.get("block_id")]
    if len(ids) != len(set(ids)):
        out.append("blocks: duplicate block_id")
    for i, block in enumerate(blocks):
        _block(block, f"blocks[{i}]", out)
    return out


def message_problems(blocks: Any) -> list[str]:
    return blocks_problems(blocks, max_blocks=MAX_MESSAGE_BLOCKS)


def view_problems(view: Any) -> list[str]:
    if not isinstance(view, dict):
        return ["view: must be an object"]
    out: list[str] = []
    kind = view.get("type")
    if kind not in ("modal", "home"):
        out.append(f"view.type: {kind!r} (modal or home)")
    if kind == "modal":
        _text(view.get("title"), "view.title", 24, out, plain_only=True)
        for key in ("submit", "close"):
            if key in view:
                _text(view[key], f"view.{key}", 24, out, plain_only=True)
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or [])
        if has_input and "submit" not in view:
            out.append("view.submit: required when the modal has input blocks")
    if len(view.get("private_metadata") or "") > 3000:
        out.append("view.private_metadata: longer than 3000")
    if len(view.get("callback_id") or "") > 255:
        out.append("view.callback_id: longer than 255")
    blocks = view.get("blocks")
    if not blocks:
        out.append("view.blocks: must not be empty")
    else:
        out += blocks_problems(blocks, max_blocks=MAX_VIEW_BLOCKS)
    return out
