"""The 24-hour reply window (WhatsApp, Instagram) and WhatsApp's approved templates.

Free text reaches a WhatsApp or Instagram client only within 24 hours of their last
message; outside it WhatsApp takes approved template messages, Instagram nothing. A
reply under an Instagram comment is public and has no window.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from channels import get_adapter
from channels.base import PermanentError
from extensions import db
from models import Channel, Conversation, Message
from models.base import utcnow
from services.errors import ActionError

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
MAX_PARAM_LENGTH = 1000


@dataclass(frozen=True)
class ReplyWindow:
    """How long free text may still be sent in one conversation."""

    kind: str
    hours: int | None = None  # None: the channel has no window
    closes_at: datetime | None = None  # None with `hours` set: the client never wrote
    templates: list[dict] = field(default_factory=list)  # WhatsApp's approved templates

    @property
    def applies(self) -> bool:
        return self.hours is not None

    @property
    def open(self) -> bool:
        return not self.applies or (self.closes_at is not None and utcnow() < self.closes_at)


def window_hours(kind: str) -> int | None:
    """The channel kind's reply window in hours, None for channels without one."""
    try:
        return get_adapter(kind).reply_window_hours
    except PermanentError:
        return None


def window_of(conversation: Conversation) -> ReplyWindow:
    """The conversation's reply window: from the client's last message, `hours` long."""
    channel = conversation.channel
    hours = window_hours(channel.kind)
    if hours is None:
        return ReplyWindow(channel.kind)
    templates = approved_templates(channel) if channel.kind == "whatsapp" else []
    last = db.session.execute(
        select(Message.created_at, Message.data)
        .where(Message.conversation_id == conversation.id, Message.direction == "in")
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    ).first()
    if last is None:
        return ReplyWindow(channel.kind, hours, None, templates)
    if ((last.data or {}).get("context") or {}).get("comment_id"):
        return ReplyWindow(channel.kind)  # the answer goes under the comment, which has no window
    return ReplyWindow(channel.kind, hours, last.created_at + timedelta(hours=hours), templates)


def reply_window(conversation: Conversation) -> datetime | None:
    """When free text stops reaching the client; None when no window applies or it never opened."""
    return window_of(conversation).closes_at


def window_open(conversation: Conversation) -> bool:
    return window_of(conversation).open


def window_closed_message(kind: str) -> str:
    if kind == "whatsapp":
        return _(
            "The client last wrote more than 24 hours ago: WhatsApp delivers free text only within "
            "24 hours of the client's last message. Send an approved template instead."
        )
    return _(
        "The client last wrote more than 24 hours ago: Instagram delivers replies only within "
        "24 hours of the client's last message. You can answer once the client writes again."
    )


# --- WhatsApp templates ---------------------------------------------------------------------------


def approved_templates(channel: Channel) -> list[dict]:
    """channel.settings["templates"] as the composer offers them: {"name", "language", "body", "params"}."""
    found = []
    for item in (channel.settings or {}).get("templates") or ():
        if not isinstance(item, dict) or not item.get("name") or not item.get("language"):
            continue
        try:
            params = max(0, int(item.get("params") or 0))
        except (TypeError, ValueError):
            continue
        template = {
            "name": str(item["name"]),
            "language": str(item["language"]),
            "body": str(item.get("body") or ""),
            "params": params,
        }
        if isinstance(item.get("param_names"), list):
            template["param_names"] = [str(n) for n in item["param_names"]]
        found.append(template)
    return found


def template_message(channel: Channel, name: str, language: str, params: list[str]) -> tuple[str, dict]:
    """The text staff see and the data["template"] a template message is delivered from.

    ActionError when the channel can't send templates, the template is not among its
    approved ones, or a parameter is missing.
    """
    if channel.kind != "whatsapp":
        raise ActionError(_("Template messages can be sent through WhatsApp channels only."))
    name, language = (name or "").strip(), (language or "").strip()
    template = next(
        (t for t in approved_templates(channel) if t["name"] == name and t["language"] == language), None
    )
    if template is None:
        raise ActionError(_("This template is not among the channel's approved templates."))
    values = [(p or "").strip() for p in params]
    if len(values) != template["params"] or not all(values):
        raise ActionError(_("Fill in every parameter of the template."))
    if any(len(v) > MAX_PARAM_LENGTH for v in values):
        raise ActionError(_("A template parameter is too long."))
    data = {"name": name, "language": language, "params": values}
    if template.get("param_names"):
        data["param_names"] = template["param_names"]
    return render_body(template, values), data


def render_body(template: dict, values: list[str]) -> str:
    """The template's body with its placeholders filled: {{1}} by the first value, ... or, for a
    template with named parameters, each {{name}} in the order the parameters were named."""
    names = template.get("param_names") or [str(n) for n in range(1, len(values) + 1)]
    filled = dict(zip(names, values, strict=False))
    text = PLACEHOLDER.sub(lambda m: filled.get(m.group(1), m.group(0)), template["body"])
    return text.strip() or template["name"]
