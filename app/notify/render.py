"""What a notification says, in Chinese by default (English by the channel's setting), and how
each vendor shows it (pure).

A message names the park, building, floor and space, the device's name and type, the value
with its unit against the threshold, the level with its colour word (红色/橙色/黄色/蓝色, the
warning colours of GB/T 29639-2020 and the contract's severity colours), the time in the
park's timezone, what to do (the response plan's tasks when one applies, else advice by
level) and a link to the cockpit's view of the alarm; never only ids. Several notifications
due at once to one channel become one digest (:func:`digest`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from app.core.severity import COLORS, rank

Context = Mapping[str, Any]
AckUrl = Callable[[Context, str, str], str | None]  # (context, subject, name) -> link

LEVEL_ZH = {"critical": "一级", "major": "二级", "minor": "三级", "warning": "四级"}
COLOR_ZH = {"red": "红色", "orange": "橙色", "yellow": "黄色", "blue": "蓝色"}
LEVEL_EN = {"critical": "level 1", "major": "level 2", "minor": "level 3", "warning": "level 4"}

EVENT_ZH = {
    "alarm.raised": "告警",
    "alarm.escalated": "告警升级",
    "alarm.cleared": "告警解除",
    "alarm.acknowledged": "告警已确认",
    "alarm.shelved": "告警已搁置",
    "alarm.unshelved": "告警恢复显示",
    "device.offline": "设备离线",
    "device.online": "设备恢复在线",
    "notify.test": "测试消息",
    "economy.report_due": "月报即将截止",
    "economy.report_overdue": "月报逾期未报",
}
EVENT_EN = {
    "alarm.raised": "Alarm",
    "alarm.escalated": "Alarm escalated",
    "alarm.cleared": "Alarm cleared",
    "alarm.acknowledged": "Alarm acknowledged",
    "alarm.shelved": "Alarm shelved",
    "alarm.unshelved": "Alarm unshelved",
    "device.offline": "Device offline",
    "device.online": "Device back online",
    "notify.test": "Test message",
    "economy.report_due": "Monthly report due soon",
    "economy.report_overdue": "Monthly report overdue",
}
DEVICE_TYPE_ZH = {
    "electricity_meter": "电表",
    "pv_inverter": "光伏逆变器",
    "gas_meter": "燃气表",
    "water_meter": "水表",
    "steam_meter": "蒸汽表",
    "gas_detector": "可燃气体探测器",
    "toxic_gas_detector": "有毒气体探测器",
    "smoke_detector": "感烟火灾探测器",
    "temperature_sensor": "温湿度传感器",
    "equipment_monitor": "设备监测终端",
}
ADVICE_ZH = {
    "critical": "立即派人到现场核实处置，通知值班负责人",
    "major": "尽快派人到现场核实",
    "minor": "安排人员检查",
    "warning": "留意趋势",
}
ADVICE_EN = {
    "critical": "send someone on site now and call the duty manager",
    "major": "send someone to check on site soon",
    "minor": "schedule a check",
    "warning": "watch the trend",
}


@dataclass
class Rendered:
    """A message independent of the vendor: title, labelled facts, what to do, links."""

    title: str
    color: str  # red / orange / yellow / blue / grey
    facts: list[tuple[str, str]]
    todo: list[str]
    link: str
    acks: list[tuple[str, str]] = field(default_factory=list)  # (person, url)
    mentions: list[Mapping[str, Any]] = field(default_factory=list)


def cockpit_link(public_url: str, ctx: Context) -> str:
    """``{PARKTWIN_PUBLIC_URL}/#park=<park>&alarm=<alarm_id>`` (the cockpit served at ``/``)."""
    park = quote(str(ctx["park_id"]), safe="")
    base = public_url.rstrip("/")
    if ctx.get("alarm_id"):
        return f"{base}/#park={park}&alarm={quote(str(ctx['alarm_id']), safe='')}"
    return f"{base}/#park={park}"


def local_time(iso: str | None, timezone: str) -> str:
    if not iso:
        return "-"
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S")


def level_words(severity: str | None, lang: str) -> tuple[str, str]:
    """(words, colour): ``一级（红色）`` / ``level 1 (red)``."""
    if severity not in COLORS:
        return ("通知" if lang == "zh" else "notice"), "grey"
    color = COLORS[severity]
    if lang == "zh":
        return f"{LEVEL_ZH[severity]}（{COLOR_ZH[color]}）", color
    return f"{LEVEL_EN[severity]} ({color})", color


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-" if value is None else str(value)
    return f"{value:.6g}"


def reading(ctx: Context, lang: str) -> str | None:
    """``30 %LEL（阈值 25 %LEL）``: the value with its unit against the threshold."""
    if ctx.get("value") is None:
        return None
    unit = f" {ctx['unit']}" if ctx.get("unit") else ""
    text = f"{_number(ctx['value'])}{unit}"
    if ctx.get("threshold") is not None:
        word = "阈值" if lang == "zh" else "threshold"
        sep = "（" if lang == "zh" else " ("
        end = "）" if lang == "zh" else ")"
        text += f"{sep}{word} {_number(ctx['threshold'])}{unit}{end}"
    return text


def place(ctx: Context, lang: str) -> str:
    """Building, floor and space names, as far as they are known."""
    parts = [str(ctx["building_name"])] if ctx.get("building_name") else []
    if ctx.get("floor_name"):
        parts.append(str(ctx["floor_name"]))
    elif ctx.get("floor") is not None:
        floor = int(ctx["floor"])
        label = (f"地下{-floor}层" if floor < 0 else f"{floor}层") if lang == "zh" else f"F{floor}"
        parts.append(label)
    if ctx.get("space_name"):
        parts.append(str(ctx["space_name"]))
    return " ".join(parts) or ("未登记位置" if lang == "zh" else "location not registered")


def device(ctx: Context, lang: str) -> str:
    kind = str(ctx.get("device_type") or "")
    kind_word = DEVICE_TYPE_ZH.get(kind, kind) if lang == "zh" else kind.replace("_", " ")
    name = ctx.get("device_name") or ctx.get("device_id") or "-"
    return f"{name}（{kind_word}）" if lang == "zh" else f"{name} ({kind_word})"


EVENT_TODO = {
    "economy.report_due": (
        "提醒企业在截止前提交月报",
        "remind the enterprise to submit before the deadline",
    ),
    "economy.report_overdue": (
        "联系企业尽快补报月报",
        "ask the enterprise to submit the overdue report",
    ),
}
"""What to do about an event that is no alarm, when its level's advice does not fit."""


def todo(ctx: Context, lang: str) -> list[str]:
    """The response plan's tasks when one applies, else advice by level."""
    if str(ctx.get("type")) in EVENT_TODO:
        zh_todo, en_todo = EVENT_TODO[str(ctx["type"])]
        return [zh_todo if lang == "zh" else en_todo]
    tasks = [_task(t) for t in ctx.get("plan_tasks") or []]
    if tasks:
        head = f"{'按' if lang == 'zh' else 'Plan: '}{ctx.get('plan_name') or ''}"
        return [head, *tasks]
    severity = str(ctx.get("severity") or "")
    advice = (ADVICE_ZH if lang == "zh" else ADVICE_EN).get(severity)
    return [advice] if advice else []


def _task(task: Any) -> str:
    """A plan task: ``{"title", "critical"}`` (app/emergency's plans), critical ones marked."""
    if isinstance(task, dict):
        mark = "（关键）" if task.get("critical") else ""
        return f"{task.get('title', '')}{mark}"
    return str(task)


def enterprise_facts(ctx: Context, lang: str) -> list[tuple[str, str]]:
    """``企业``, ``月份``, ``截止``: what an enterprise's event (a monthly report due) is about."""
    zh = lang == "zh"
    facts = []
    if ctx.get("enterprise_name"):
        facts.append(("企业" if zh else "Enterprise", str(ctx["enterprise_name"])))
    if ctx.get("month"):
        facts.append(("月份" if zh else "Month", str(ctx["month"])))
    if ctx.get("deadline_at"):
        due = local_time(str(ctx["deadline_at"]), ctx["timezone"])
        facts.append(("截止" if zh else "Due", due))
    return facts


def render(ctx: Context, lang: str, public_url: str, ack_url: AckUrl) -> Rendered:
    zh = lang == "zh"
    words, color = level_words(ctx.get("severity"), lang)
    what = (EVENT_ZH if zh else EVENT_EN).get(str(ctx["type"]), str(ctx["type"]))
    title = f"【{words}{what}】{ctx.get('park_name') or ctx['park_id']}"
    if not zh:
        title = f"[{what}, {words}] {ctx.get('park_name') or ctx['park_id']}"
    labels = (
        ("园区", "位置", "设备", "读数", "级别", "时间")
        if zh
        else ("Park", "Where", "Device", "Reading", "Level", "Time")
    )
    about_device = bool(ctx.get("device_id"))
    values = [
        str(ctx.get("park_name") or ctx["park_id"]),
        place(ctx, lang) if about_device else None,
        device(ctx, lang) if about_device else None,
        reading(ctx, lang),
        words,
        f"{local_time(ctx.get('at'), ctx['timezone'])}（{ctx['timezone']}）"
        if zh
        else f"{local_time(ctx.get('at'), ctx['timezone'])} ({ctx['timezone']})",
    ]
    facts = [(k, v) for k, v in zip(labels, values, strict=True) if v is not None]
    facts += enterprise_facts(ctx, lang)
    if ctx.get("escalated_to"):
        step = (
            f"第 {ctx['step']} 级升级：{ctx['escalated_to']} 未确认前持续升级"
            if zh
            else (f"escalation step {ctx['step']}: {ctx['escalated_to']}")
        )
        facts.append(("升级" if zh else "Escalation", step))
    people = list(ctx.get("people") or [])
    acks = [
        (str(p["name"]), url)
        for p in people
        if ctx.get("alarm_id") and (url := ack_url(ctx, f"person:{p['id']}", str(p["name"])))
    ]
    return Rendered(
        title, color, facts, todo(ctx, lang), cockpit_link(public_url, ctx), acks, people
    )


def digest(items: Sequence[Rendered], contexts: Sequence[Context], lang: str) -> Rendered:
    """Several notifications as one message: the worst level first, one line each."""
    order = sorted(range(len(items)), key=lambda i: -_rank(contexts[i].get("severity")))
    worst = items[order[0]]
    zh = lang == "zh"
    park = contexts[order[0]].get("park_name") or contexts[order[0]]["park_id"]
    title = f"【{len(items)} 条通知汇总】{park}" if zh else f"[{len(items)} notifications] {park}"
    facts = []
    for i in order:
        item = items[i]
        facts.append((item.title, " · ".join(v for _, v in item.facts[1:4]) + f" · {item.link}"))
    acks = [ack for i in order for ack in items[i].acks][:10]
    mentions = list({str(m["id"]): m for i in order for m in items[i].mentions}.values())
    return Rendered(title, worst.color, facts, worst.todo, worst.link, acks, mentions)


def _rank(severity: Any) -> int:
    return rank(severity) if severity in COLORS else -1
