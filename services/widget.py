"""The website widget, visitor side: its settings, the signed visitor token, what a visitor may do.

A visitor is a Contact on a widget channel. The token the widget keeps (itsdangerous,
signed with SECRET_KEY) names that contact and its channel; every endpoint derives the
conversation from the token, so a visitor can only ever reach their own. Messages go in
through services.messaging.receive_message like any platform's, keyed by a client-made
id so a retried post is stored once.
"""

import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from redis.exceptions import RedisError
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import Forbidden, NotFound, TooManyRequests

from channels.base import InboundAttachment, InboundMessage
from extensions import db
from models import Attachment, Channel, Contact, Conversation, Message
from models.base import utcnow
from services import realtime
from services.attachments import accept_attribute, max_upload_bytes, store_upload
from services.db import begin_write
from services.errors import ActionError
from services.messaging import receive_message, stored_message
from services.redis import get_redis
from services.salon import get_salon
from services.text import normalize_phone, normalize_text

log = logging.getLogger(__name__)

KIND = "widget"
TOKEN_SALT = "okno.widget.visitor"
TOKEN_MAX_AGE = timedelta(days=365)
# a token older than this gets a fresh one with the history, so a regular visitor never expires
TOKEN_REFRESH_AFTER = timedelta(days=1)
DEFAULT_COLOR = "#be185d"
MAX_TEXT = 4000
MAX_NAME = 100
HISTORY_LIMIT = 100
CLIENT_ID_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")
COLOR_RE = re.compile(r"#[0-9a-fA-F]{6}")


class WidgetError(ActionError):
    """A visitor's request that can't be done as sent: answered 400 with the reason."""


@dataclass(frozen=True)
class WidgetSettings:
    """What the owner set for one widget (Channel.settings), with defaults for what is unset."""

    color: str = DEFAULT_COLOR
    greeting: str = ""
    ask_name: bool = True
    ask_phone: bool = True
    # the visitor must give what is asked before writing (else "Skip" is offered)
    contact_required: bool = False
    origins: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, channel: Channel) -> "WidgetSettings":
        raw = channel.settings or {}
        color = raw.get("color") if COLOR_RE.fullmatch(str(raw.get("color") or "")) else DEFAULT_COLOR
        return cls(
            color=color.lower(),
            greeting=str(raw.get("greeting") or ""),
            ask_name=bool(raw.get("ask_name", True)),
            ask_phone=bool(raw.get("ask_phone", True)),
            contact_required=bool(raw.get("contact_required", False)),
            origins=tuple(o for o in raw.get("origins") or () if isinstance(o, str)),
        )

    def as_json(self) -> dict:
        return {
            "color": self.color,
            "greeting": self.greeting,
            "ask_name": self.ask_name,
            "ask_phone": self.ask_phone,
            "contact_required": self.contact_required,
            "origins": list(self.origins),
        }


@dataclass(frozen=True)
class Visitor:
    """Who a valid token names; `fresh_token` is set when the widget should replace its old one."""

    contact: Contact
    fresh_token: str | None = None


# ---- channel and origins ---------------------------------------------------------------------


def get_widget_channel(uid: str) -> Channel:
    """The enabled widget channel with this public uid; NotFound otherwise."""
    channel = db.session.scalars(select(Channel).where(Channel.uid == uid)).first()
    if channel is None or channel.kind != KIND or not channel.enabled:
        raise NotFound()
    return channel


def demo_channel() -> Channel | None:
    """The widget the demo page embeds: the demo salon's, else the first enabled one."""
    channels = db.session.scalars(
        select(Channel).where(Channel.kind == KIND, Channel.enabled.is_(True)).order_by(Channel.id)
    ).all()
    return next((c for c in channels if c.uid == "demo-widget"), channels[0] if channels else None)


def normalize_origin(raw: str) -> str | None:
    """`https://salon.ru` from what an owner typed (trailing slash, capitals, default port); None if none."""
    raw = (raw or "").strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def origin_allowed(channel: Channel, origin: str | None, own_origins: set[str]) -> bool:
    """A browser request from `origin` may use this widget: Okno's own origin, or one the owner listed.

    No Origin header (a same-origin GET, a script, a server) is let through: the
    visitor token is what authorises, CORS only keeps other sites' pages out.
    """
    if not origin:
        return True
    normalized = normalize_origin(origin)
    if normalized is None:
        return False
    return normalized in own_origins or normalized in WidgetSettings.of(channel).origins


# ---- what the widget shows -------------------------------------------------------------------


def widget_strings() -> dict[str, str]:
    """Every text the widget shows, in the current locale (the host page's language when it said)."""
    return {
        "open": _("Chat with us"),
        "close": _("Close the chat"),
        "greeting": _("Hello! Ask us anything: we usually answer within a few minutes."),
        "intro": _("Introduce yourself, so we know how to address you."),
        "intro_required": _("Introduce yourself to start the chat."),
        "name": _("Your name"),
        "phone": _("Phone"),
        "start": _("Start the chat"),
        "skip": _("Skip"),
        "placeholder": _("Write a message..."),
        "send": _("Send"),
        "attach": _("Attach a photo or a file"),
        "sending": _("Sending..."),
        "sent": _("Sent"),
        "read": _("Read"),
        "failed": _("Not sent. Tap to try again."),
        "typing": _("%(name)s is typing...", name="{name}"),
        "typing_anon": _("Typing..."),
        "too_large": _("The file is too large: at most %(limit)s.", limit="{limit}"),
        "offline": _("No connection. Trying again..."),
        "error": _("Something went wrong. Try again in a moment."),
        "you": _("You"),
    }


def widget_config(channel: Channel) -> dict:
    """What the widget needs to draw itself: names, colour, what to ask, its texts, upload limits."""
    settings = WidgetSettings.of(channel)
    strings = widget_strings()
    return {
        "uid": channel.uid,
        "title": get_salon().name,
        "color": settings.color,
        "greeting": settings.greeting or strings["greeting"],
        "ask_name": settings.ask_name,
        "ask_phone": settings.ask_phone,
        "contact_required": settings.contact_required and (settings.ask_name or settings.ask_phone),
        "max_upload_bytes": max_upload_bytes(),
        "accept": accept_attribute(),
        "strings": strings,
    }


# ---- the visitor token -----------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)


def issue_token(contact: Contact) -> str:
    return _serializer().dumps({"v": contact.id, "c": contact.channel_id})


def visitor_from_token(channel: Channel, token: str | None) -> Visitor:
    """The visitor a token names on this channel; Forbidden for a missing, forged, expired or foreign one."""

    def refused() -> Forbidden:
        return Forbidden(_("This chat session is not valid here. Reload the page to start a new one."))

    if not token:
        raise refused()
    try:
        payload, signed_at = _serializer().loads(
            token, max_age=int(TOKEN_MAX_AGE.total_seconds()), return_timestamp=True
        )
    except (SignatureExpired, BadSignature):
        raise refused() from None
    if (
        not isinstance(payload, dict)
        or payload.get("c") != channel.id
        or not isinstance(payload.get("v"), int)
    ):
        raise refused()
    contact = db.session.get(Contact, payload["v"])
    if contact is None or contact.channel_id != channel.id:
        raise refused()
    fresh = issue_token(contact) if utcnow() - signed_at > TOKEN_REFRESH_AFTER else None
    return Visitor(contact, fresh)


# ---- limits ----------------------------------------------------------------------------------


def _limit(key: str, limit: int, window: int = 60) -> None:
    """At most `limit` calls per `window` seconds for `key`; TooManyRequests beyond. Redis down: no limit.

    A write that matters (a visitor's message) must not fail because Redis is away.
    """
    try:
        redis = get_redis()
        pipe = redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, window, nx=True)
        count, _expiry = pipe.execute()
    except RedisError as exc:
        log.info("widget: rate limit not checked, Redis unavailable: %s", exc)
        return
    if count > limit:
        raise TooManyRequests(_("Too many messages at once. Wait a minute and try again."))


def check_post_rate(contact_id: int) -> None:
    """Posts per visitor token per minute (WIDGET_POSTS_PER_MINUTE, default 20)."""
    _limit(f"okno:widget:posts:{contact_id}", int(current_app.config.get("WIDGET_POSTS_PER_MINUTE", 20)))


def check_session_rate(address: str) -> None:
    """New visitor sessions per address per minute (WIDGET_SESSIONS_PER_MINUTE, default 30)."""
    _limit(f"okno:widget:sessions:{address}", int(current_app.config.get("WIDGET_SESSIONS_PER_MINUTE", 30)))


# ---- write paths -----------------------------------------------------------------------------


def start_session(channel: Channel, name: str = "", phone: str = "") -> Contact:
    """A new visitor (a contact on the widget channel) with the name / phone they typed, unverified.

    What the visitor typed is shown to staff as "given by the visitor" and never linked to a
    client by itself: staff attach it from the card.
    """
    settings = WidgetSettings.of(channel)
    name = " ".join((name or "").split())
    phone = (phone or "").strip()
    if len(name) > MAX_NAME:
        raise WidgetError(_("The name is too long: at most %(n)d characters.", n=MAX_NAME))
    e164 = None
    if phone:
        e164 = normalize_phone(phone, current_app.config["DEFAULT_PHONE_REGION"])
        if e164 is None:
            raise WidgetError(_("Enter a valid phone number, with the country code."))
    if settings.contact_required and (settings.ask_name or settings.ask_phone):
        if settings.ask_name and not name:
            raise WidgetError(_("Enter your name."))
        if settings.ask_phone and not e164:
            raise WidgetError(_("Enter your phone number."))
    channel_id = channel.id
    begin_write()
    contact = Contact(
        channel_id=channel_id,
        external_id=f"visitor-{uuid.uuid4().hex}",
        display_name=name,
        name_norm=normalize_text(name),
        phone=e164,
        phone_digits=e164.lstrip("+") if e164 else None,
        given_by_visitor=bool(name or e164),
    )
    db.session.add(contact)
    db.session.commit()
    return contact


def _client_id(raw: str | None) -> str:
    """The widget's own id for a message (it retries with the same one); a fresh one when none came."""
    raw = (raw or "").strip()
    if not raw:
        return uuid.uuid4().hex
    if not CLIENT_ID_RE.fullmatch(raw):
        raise WidgetError(_("The message id must be 8 to 64 letters, digits, '-' or '_'."))
    return raw


def _external_id(contact: Contact, client_id: str) -> str:
    # the contact is part of the key: one visitor's ids can never collide with (or reveal) another's
    return f"{contact.id}:{client_id}"


def post_visitor_message(contact: Contact, text: str, client_id: str | None = None) -> Message:
    """What a visitor wrote, stored once per client id (a retried post answers with the same message)."""
    text = (text or "").strip()
    if not text:
        raise WidgetError(_("The message is empty."))
    if len(text) > MAX_TEXT:
        raise WidgetError(_("The message is too long: at most %(n)d characters.", n=MAX_TEXT))
    external_id = _external_id(contact, _client_id(client_id))
    return receive_message(
        contact.channel_id,
        InboundMessage(
            external_contact_id=contact.external_id, external_message_id=external_id, text=text, kind="text"
        ),
    )


def post_visitor_file(
    contact: Contact, file: FileStorage | None, client_id: str | None, text: str = ""
) -> Message:
    """A photo or file the visitor sent (checked by content, stored outside static/), maybe with a caption."""
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        raise WidgetError(_("The message is too long: at most %(n)d characters.", n=MAX_TEXT))
    external_id = _external_id(contact, _client_id(client_id))
    earlier = stored_message(contact.channel_id, external_id)
    if earlier is not None:  # a retried upload: keep the first, store no second copy of the file
        return earlier
    stored = store_upload(file)
    return receive_message(
        contact.channel_id,
        InboundMessage(
            external_contact_id=contact.external_id,
            external_message_id=external_id,
            text=text,
            kind="image" if stored.is_image else "file",
            attachments=(
                InboundAttachment(
                    filename=stored.filename,
                    content_type=stored.content_type,
                    size=stored.size,
                    storage_path=stored.storage_path,
                ),
            ),
        ),
    )


def mark_read_by_visitor(contact: Contact, up_to: int) -> int:
    """Staff replies up to `up_to` were shown in the open widget: staff see them as read. How many changed."""
    contact_id = contact.id
    conversation_id = db.session.scalar(select(Conversation.id).where(Conversation.contact_id == contact_id))
    if conversation_id is None:
        return 0
    unread = (
        Message.conversation_id == conversation_id,
        Message.direction == "out",
        Message.id <= up_to,
        Message.delivery_status.in_(("queued", "sent", "delivered")),
    )
    if not db.session.scalar(select(Message.id).where(*unread).limit(1)):
        return 0
    begin_write()
    ids = db.session.scalars(select(Message.id).where(*unread)).all()
    if ids:
        db.session.execute(
            update(Message)
            .where(Message.id.in_(ids))
            .values(delivery_status="read", delivery_error="")
            .execution_options(synchronize_session=False)
        )
        for message_id in ids:
            realtime.publish(
                "message.updated", {"conversation_id": conversation_id, "message_id": message_id}
            )
    db.session.commit()
    return len(ids)


# ---- reads -----------------------------------------------------------------------------------


def visitor_messages(contact: Contact, after: int | None = None) -> list[Message]:
    """The visitor's own conversation as they see it: their messages and staff replies, oldest first.

    Never notes or system events; never a reply that failed. Without `after`, the last
    HISTORY_LIMIT messages; with it, everything newer than that id.
    """
    conversation_id = db.session.scalar(select(Conversation.id).where(Conversation.contact_id == contact.id))
    if conversation_id is None:
        return []
    query = (
        select(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction.in_(("in", "out")),
            (Message.direction == "in") | (Message.delivery_status != "failed"),
        )
        .options(selectinload(Message.attachments), selectinload(Message.author))
    )
    if after is not None:
        return list(db.session.scalars(query.where(Message.id > after).order_by(Message.id).limit(500)))
    newest = db.session.scalars(query.order_by(Message.id.desc()).limit(HISTORY_LIMIT)).all()
    return list(reversed(newest))


def client_id_of(message: Message) -> str | None:
    """The widget's own id of a visitor message (what it sent as client_id)."""
    if message.direction != "in" or not message.external_id:
        return None
    return message.external_id.partition(":")[2] or None


def visitor_attachment(contact: Contact, attachment_id: int) -> Attachment:
    """A file in the visitor's own conversation (theirs, or one staff sent them); NotFound otherwise."""
    row = db.session.execute(
        select(Attachment, Message.direction, Message.delivery_status)
        .join(Message, Message.id == Attachment.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Attachment.id == attachment_id, Conversation.contact_id == contact.id)
    ).one_or_none()
    if row is None:
        raise NotFound()
    attachment, direction, status = row
    if (
        direction not in ("in", "out")
        or (direction == "out" and status == "failed")
        or not attachment.storage_path
    ):
        raise NotFound()
    return attachment


def open_visitor_stream(contact: Contact) -> Iterator[str]:
    """The visitor's event stream: their own channel only, whatever the request asked for."""
    return realtime.event_stream(
        get_redis(), [realtime.visitor_channel(contact.id)], current_app.config.get("SSE_HEARTBEAT", 15)
    )
