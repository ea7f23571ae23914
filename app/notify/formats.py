"""A rendered message in each vendor's markup (pure): DingTalk markdown, WeCom markdown (its
own subset: ``<font color="warning|info|comment">``, ``<@userid>``), a Feishu interactive card
(header colour ``red``/``orange``/``yellow``/``blue``/``grey``), and email text + HTML."""

from __future__ import annotations

import html
from typing import Any

from app.notify.render import Rendered

WECOM_COLOR = {"red": "warning", "orange": "warning", "yellow": "comment", "blue": "info"}
DINGTALK_COLOR = {"red": "#D0021B", "orange": "#F5A623", "yellow": "#D4B106", "blue": "#1F6FEB"}


def _md_escape(text: str) -> str:
    """Markdown control characters of our own strings shown literally."""
    return "".join("\\" + ch if ch in "\\`*_[]<>#|" else ch for ch in text)


def _todo_lines(r: Rendered, bullet: str) -> list[str]:
    if not r.todo:
        return []
    head, *rest = r.todo
    return [f"{bullet}{_md_escape(head)}", *(f"{bullet}{_md_escape(t)}" for t in rest)]


def dingtalk_markdown(r: Rendered, lang: str) -> tuple[str, str, list[str]]:
    """(title, text, mobiles to @) of a DingTalk ``markdown`` message."""
    color = DINGTALK_COLOR.get(r.color, "#888888")
    lines = [f'### <font color="{color}">{_md_escape(r.title)}</font>', ""]
    lines += [f"- **{k}**：{_md_escape(v)}" for k, v in r.facts]
    todo = _todo_lines(r, "  - ")
    if todo:
        lines += ["", f"**{'处置' if lang == 'zh' else 'What to do'}**：", *todo]
    lines += ["", f"[{'在驾驶舱查看' if lang == 'zh' else 'Open in the cockpit'}]({r.link})"]
    lines += [
        f"[{_md_escape(name)} {'一键确认' if lang == 'zh' else 'acknowledge'}]({url})"
        for name, url in r.acks
    ]
    mobiles = [str(m["mobile"]) for m in r.mentions if m.get("mobile")]
    if mobiles:
        lines += ["", " ".join(f"@{m}" for m in mobiles)]
    return r.title, "\n".join(lines), mobiles


def wecom_markdown(r: Rendered, lang: str) -> str:
    color = WECOM_COLOR.get(r.color, "comment")
    lines = [f'**<font color="{color}">{_md_escape(r.title)}</font>**']
    lines += [f"> {k}：{_md_escape(v)}" for k, v in r.facts]
    todo = _todo_lines(r, "- ")
    if todo:
        lines += [f"**{'处置' if lang == 'zh' else 'What to do'}**", *todo]
    lines += [f"[{'在驾驶舱查看' if lang == 'zh' else 'Open in the cockpit'}]({r.link})"]
    lines += [
        f"[{_md_escape(name)} {'一键确认' if lang == 'zh' else 'acknowledge'}]({url})"
        for name, url in r.acks
    ]
    users = [f"<@{m['wecom_userid']}>" for m in r.mentions if m.get("wecom_userid")]
    if users:
        lines.append(" ".join(users))
    return "\n".join(lines)


def feishu_card(r: Rendered, lang: str) -> dict[str, Any]:
    facts = "\n".join(f"**{k}**：{v}" for k, v in r.facts)
    elements: list[dict[str, Any]] = [{"tag": "div", "text": {"tag": "lark_md", "content": facts}}]
    if r.todo:
        todo = "\n".join(f"- {t}" for t in r.todo)
        head = "处置" if lang == "zh" else "What to do"
        elements.append(
            {"tag": "div", "text": {"tag": "lark_md", "content": f"**{head}**\n{todo}"}}
        )
    mentions = [f"<at email={m['email']}></at>" for m in r.mentions if m.get("email")]
    if mentions:
        elements.append({"tag": "div", "text": {"tag": "lark_md", "content": " ".join(mentions)}})
    actions = [
        _button("在驾驶舱查看" if lang == "zh" else "Open in the cockpit", r.link, "default")
    ]
    actions += [
        _button(f"{name} {'一键确认' if lang == 'zh' else 'acknowledge'}", url, "primary")
        for name, url in r.acks
    ]
    elements.append({"tag": "action", "actions": actions})
    return {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": r.title}, "template": r.color},
        "elements": elements,
    }


def _button(text: str, url: str, kind: str) -> dict[str, Any]:
    return {
        "tag": "button",
        "text": {"tag": "plain_text", "content": text},
        "url": url,
        "type": kind,
    }


def email_text(r: Rendered, lang: str) -> str:
    lines = [r.title, ""] + [f"{k}：{v}" for k, v in r.facts]
    if r.todo:
        lines += ["", "处置：" if lang == "zh" else "What to do:", *(f"  - {t}" for t in r.todo)]
    lines += ["", f"{'驾驶舱' if lang == 'zh' else 'Cockpit'}: {r.link}"]
    lines += [
        f"{name} {'一键确认' if lang == 'zh' else 'acknowledge'}: {url}" for name, url in r.acks
    ]
    return "\n".join(lines) + "\n"


def email_html(r: Rendered, lang: str) -> str:
    e = html.escape
    color = DINGTALK_COLOR.get(r.color, "#888888")
    rows = "".join(f"<tr><th align='left'>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in r.facts)
    todo = "".join(f"<li>{e(t)}</li>" for t in r.todo)
    acks = "".join(
        f"<p><a href='{e(url)}'>{e(name)} {'一键确认' if lang == 'zh' else 'acknowledge'}</a></p>"
        for name, url in r.acks
    )
    look = "在驾驶舱查看" if lang == "zh" else "Open in the cockpit"
    return (
        f"<html><body><h3 style='color:{color}'>{e(r.title)}</h3><table>{rows}</table>"
        f"<ul>{todo}</ul><p><a href='{e(r.link)}'>{look}</a></p>{acks}</body></html>"
    )
