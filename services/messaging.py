"""Messages in and out: what happens when a client writes, and when staff reply (the outbox).

Inbound: dedupe on (channel, external id) -> upsert the contact -> find or open the
conversation (a closed one reopens as a new session, a snoozed one wakes) -> insert ->
commit -> publish. Outbound: the reply is stored `queued` and committed first, then a job
delivers it; the table is the outbox, the queue only a way to get to it sooner.
"""

from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import NotFound

from channels.base import ChannelRef, InboundMessage, OutboundAttachment, OutboundMessage, SendResult
from extensions import db
from jobs import enqueue_delivery, enqueue_media
from models import KINDS, Attachment, Channel, Contact, Conversation, Message, User
from models.base import utcnow
from services import realtime
from services.attachments import StoredUpload, store_upload, stored_path
from services.channels import channel_ref, unusable_reason
from services.conversations import _reopen, get_conversation, open_session, take_if_unassigned
from services.db import begin_write, commit_as_written
from services.errors import ActionError
from services.events import record_event
from services.text import normalize_phone, normalize_text, preview
from services.windows import template_message, window_closed_message, window_open

# attempts before a message that keeps failing temporarily is marked failed
MAX_ATTEMPTS = 6
# seconds to wait before attempt 2, 3, ...: the platform's retry_after wins when longer
BACKOFF = (10, 30, 120, 600, 1800)
# files one composer message may carry
MAX_REPLY_FILES = 10


def _preview_of(text: str, kind: str) -> str:
    return preview(text) if text.strip() else f"[{kind}]"


def _message_created(message: Message, conversation: Conversation) -> None:
    realtime.publish(
        "message.created",
        {
            "conversation_id": conversation.id,
            "message_id": message.id,
            "direction": message.direction,
            "assignee_id": conversation.assignee_id,
            # the salon bot is answering: nobody's attention is needed yet (no sound)
            "with_bot": conversation.with_bot,
        },
    )


def message_updated(message: Message) -> None:
    realtime.publish(
        "message.updated", {"conversation_id": message.conversation_id, "message_id": message.id}
    )


# --- inbound ----------------------------------------------------------------------------------


def receive_message(channel_id: int, event: InboundMessage) -> Message:
    """Store what a client wrote, once; the stored message (the earlier one for a duplicate).

    Safe to call again with the same event (webhook retries, resync): the (channel,
    external id) pair is unique, so a concurrent duplicate loses at the constraint and
    is answered with the message that won.
    """
    for _attempt in range(3):
        try:
            return _receive(channel_id, event)
        except IntegrityError:
            # another writer stored this message, contact or conversation first: look again
            db.session.rollback()
    return _receive(channel_id, event)


def _receive(channel_id: int, event: InboundMessage) -> Message:
    from services import bot  # it sends through this module

    # what needs no lock is read first: the write lock is held as briefly as the insert allows
    channel = db.session.get(Channel, channel_id)
    if channel is None:
        raise NotFound()
    existing = stored_message(channel_id, event.external_message_id)
    if existing is not None:
        return existing
    kind_of_channel, with_bot = channel.kind, bot.starts_with_bot(channel)

    # a duplicate stored since the look above fails at the unique (channel, external id) pair
    begin_write()
    now = utcnow()
    # the platform's time when it is believable (a resync brings older messages), never the future
    at = min(event.sent_at, now) if event.sent_at and event.sent_at.tzinfo else now
    contact = _upsert_contact(channel_id, event)
    conversation = db.session.scalars(
        select(Conversation).where(Conversation.contact_id == contact.id)
    ).first()
    if conversation is None:
        conversation = Conversation(
            channel_id=channel_id, contact_id=contact.id, last_activity_at=at, with_bot=with_bot
        )
        db.session.add(conversation)
        db.session.flush()
        open_session(conversation, at)
    elif conversation.state in ("closed", "snoozed"):
        _reopen(conversation, None, now)

    reply_to_id = None
    if event.reply_to_external_id:
        reply_to_id = db.session.scalar(
            select(Message.id).where(
                Message.channel_id == channel_id, Message.external_id == event.reply_to_external_id
            )
        )
    kind = event.kind if event.kind in KINDS else "file"
    message = Message(
        conversation_id=conversation.id,
        session_id=conversation.current_session_id,
        channel_id=channel_id,
        direction="in",
        kind=kind,
        text=event.text or "",
        external_id=event.external_message_id,
        reply_to_id=reply_to_id,
        created_at=at,
        data=_inbound_data(event),
        attachments=[
            Attachment(
                filename=item.filename,
                content_type=item.content_type,
                size=item.size,
                storage_path=item.storage_path,
            )
            for item in event.attachments
        ],
    )
    db.session.add(message)
    db.session.flush()

    conversation.last_activity_at = max(conversation.last_activity_at, at)
    if conversation.last_message_at is None or at >= conversation.last_message_at:
        conversation.last_message_preview = _preview_of(message.text, kind)
        conversation.last_message_at = at
        conversation.last_message_direction = "in"
    # an expression, not a Python sum: concurrent writers on PostgreSQL must not lose a count
    conversation.unread_count = Conversation.unread_count + 1
    _message_created(message, conversation)
    realtime.conversation_changed(conversation.id, counts=True)
    if kind_of_channel == "widget":
        # the visitor's other open tabs show it too
        realtime.publish(
            "message.created",
            {"conversation_id": conversation.id, "message_id": message.id},
            channel=realtime.visitor_channel(contact.id),
        )
    media_of = message.id if "media_urls" in message.data else None
    bot_turn = bot.takes_turn(conversation, message)
    commit_as_written()
    if media_of:  # the platform's files are fetched by a job: the webhook answers now
        enqueue_media(media_of)
    if bot_turn:  # once the message is stored: the salon bot answers, a /start deep link links the writer
        bot.answer_client(message.id)
    return message


def stored_message(channel_id: int, external_id: str) -> Message | None:
    """The message already stored under this platform id, if any."""
    return db.session.scalars(
        select(Message).where(Message.channel_id == channel_id, Message.external_id == external_id)
    ).first()


def _inbound_data(event: InboundMessage) -> dict:
    data = {}
    if any(a.url for a in event.attachments):
        # the platform's links for media not fetched yet, in attachment order (a job fetches them)
        data["media_urls"] = [a.url for a in event.attachments]
    if event.context:
        data["context"] = dict(event.context)
    return data


def _upsert_contact(channel_id: int, event: InboundMessage) -> Contact:
    contact = db.session.scalars(
        select(Contact).where(
            Contact.channel_id == channel_id, Contact.external_id == event.external_contact_id
        )
    ).first()
    if contact is None:
        contact = Contact(channel_id=channel_id, external_id=event.external_contact_id)
        db.session.add(contact)
    changes = {}
    name = (event.contact_name or "").strip()
    if name and name != contact.display_name:
        changes.update(display_name=name[:200], name_norm=normalize_text(name[:200]))
    if event.phone:
        e164 = normalize_phone(event.phone, current_app.config["DEFAULT_PHONE_REGION"])
        if e164 and e164 != contact.phone:
            changes.update(phone=e164, phone_digits=e164.lstrip("+"))
    if event.email:
        changes["email"] = event.email.strip()[:254]
    if event.avatar_url:
        changes["avatar_url"] = event.avatar_url[:500]
    if name or event.phone:
        changes["given_by_visitor"] = event.given_by_visitor
    # a client who writes again has unblocked the bot
    changes["blocked"] = False
    # only what differs is set: an unchanged contact costs the flush nothing
    for attribute, value in changes.items():
        if getattr(contact, attribute) != value:
            setattr(contact, attribute, value)
    if contact.id is None:
        db.session.flush()  # the conversation is looked up by its id
    return contact


# --- outbound ---------------------------------------------------------------------------------


def send_reply(
    conversation_id: int, author: User, text: str, reply_to_id: int | None = None, files=()
) -> Message:
    """Store a staff reply as `queued`, take the conversation if nobody has it, then queue its delivery.

    The web request never waits for the messenger, and never fails because Redis is down:
    the message stays queued and the reconciler sends it once Redis is back. `files` are
    uploads (werkzeug FileStorage) checked and stored by services.attachments before the
    write lock is taken; a refused file refuses the whole message, and nothing stays on disk.
    """
    text = (text or "").strip()
    files = [f for f in files if f is not None and (f.filename or "").strip()]
    if not text and not files:
        raise ActionError(_("The message is empty."))
    if len(files) > MAX_REPLY_FILES:
        raise ActionError(_("At most %(n)d files in one message.", n=MAX_REPLY_FILES))
    uploads: list[StoredUpload] = []
    try:
        for file in files:
            uploads.append(store_upload(file))
        return _send_reply(conversation_id, author, text, reply_to_id, uploads)
    except BaseException:
        for upload in uploads:  # never part of any message: no history is lost
            stored_path(upload.storage_path).unlink(missing_ok=True)
        raise


def _sendable_conversation(conversation_id: int) -> Conversation:
    """The conversation, if a message can go out through it now: ActionError with the reason if not."""
    conversation = get_conversation(conversation_id)
    if conversation.contact.blocked:
        raise ActionError(_("Bot blocked by the user: the message can't be delivered."))
    refusal = unusable_reason(conversation.channel)
    if refusal:
        raise ActionError(refusal)
    return conversation


def _send_reply(
    conversation_id: int, author: User, text: str, reply_to_id: int | None, uploads: list[StoredUpload]
) -> Message:
    begin_write()
    conversation = _sendable_conversation(conversation_id)
    if not window_open(conversation):
        raise ActionError(window_closed_message(conversation.channel.kind))
    if reply_to_id is not None:
        quoted = db.session.get(Message, reply_to_id)
        if (
            quoted is None
            or quoted.conversation_id != conversation.id
            or quoted.direction not in ("in", "out")
        ):
            raise ActionError(_("The quoted message is not in this conversation."))
    kind = "text"
    if uploads:
        kind = "image" if all(u.is_image for u in uploads) else "file"
    return _queue_reply(conversation, author, text, kind=kind, reply_to_id=reply_to_id, uploads=uploads)


def send_template(conversation_id: int, author: User, name: str, language: str, params: list[str]) -> Message:
    """Queue a WhatsApp template message: the one kind that reaches a client outside the 24-hour window.

    Stored and delivered like any reply; staff read the template's body with its parameters
    filled, the adapter sends data["template"] = {"name", "language", "params"}.
    """
    begin_write()
    conversation = _sendable_conversation(conversation_id)
    text, template = template_message(conversation.channel, name, language, params)
    return _queue_reply(conversation, author, text, kind="template", data={"template": template})


def _queue_reply(
    conversation: Conversation,
    author: User,
    text: str,
    kind: str = "text",
    reply_to_id: int | None = None,
    data: dict | None = None,
    uploads: list[StoredUpload] = (),
) -> Message:
    """The outbox's core, inside the caller's write transaction: take the conversation if nobody has
    it, store the message `queued` (with its stored uploads), commit, then queue its delivery."""
    now = utcnow()
    if take_if_unassigned(conversation.id, author):
        record_event(conversation, author, "took", at=now)
    if conversation.with_bot:  # a staff reply takes the dialog from the salon bot
        conversation.with_bot = False
        record_event(conversation, author, "bot_handoff", at=now)
    message = Message(
        conversation_id=conversation.id,
        session_id=conversation.current_session_id,
        channel_id=conversation.channel_id,
        direction="out",
        kind=kind,
        text=text,
        author_id=author.id,
        reply_to_id=reply_to_id,
        delivery_status="queued",
        created_at=now,
        data=data or {},
    )
    db.session.add(message)
    db.session.flush()
    for upload in uploads:
        db.session.add(
            Attachment(
                message_id=message.id,
                filename=upload.filename,
                content_type=upload.content_type,
                size=upload.size,
                storage_path=upload.storage_path,
            )
        )
    conversation.last_activity_at = now
    # a file without a caption: its name, as the list's preview
    conversation.last_message_preview = preview(text or "📎 " + ", ".join(u.filename for u in uploads))
    conversation.last_message_at = now
    conversation.last_message_direction = "out"
    conversation.unread_count = 0
    _message_created(message, conversation)
    realtime.conversation_changed(conversation.id, counts=True)
    db.session.commit()
    enqueue_delivery(message.id)
    return message


def send_bot_reply(
    conversation_id: int, text: str, buttons=(), context: dict | None = None
) -> Message | None:
    """Queue the salon bot's answer (services.bot): outbound, without an author, data["bot"] and its
    buttons; None when the client blocked the bot. Not a staff reply: the assignee, the unread
    count and the list's preview stay as they are."""
    begin_write()
    conversation = get_conversation(conversation_id)
    if conversation.contact.blocked:
        db.session.rollback()
        return None
    data: dict = {"bot": True, "buttons": [str(b) for b in buttons]}
    if context:
        data["context"] = dict(context)
    message = Message(
        conversation_id=conversation.id,
        session_id=conversation.current_session_id,
        channel_id=conversation.channel_id,
        direction="out",
        kind="text",
        text=text,
        delivery_status="queued",
        created_at=utcnow(),
        data=data,
    )
    db.session.add(message)
    db.session.flush()
    _message_created(message, conversation)
    db.session.commit()
    enqueue_delivery(message.id)
    return message


def retry_message(message_id: int, actor: User) -> Message:
    """Send a failed message again (the Retry button)."""
    begin_write()
    message = db.session.get(Message, message_id)
    if message is None or message.direction != "out":
        raise NotFound()
    if message.delivery_status != "failed":
        raise ActionError(_("Only a message that failed can be sent again."))
    message.delivery_status = "queued"
    message.delivery_error = ""
    message.data = {**(message.data or {}), "attempts": 0}
    message_updated(message)
    db.session.commit()
    enqueue_delivery(message.id)
    return message


def outbound_for(message_id: int) -> tuple[ChannelRef, OutboundMessage] | None:
    """What an adapter needs to send this message, or None when it is not (or no longer) queued."""
    message = db.session.get(Message, message_id)
    if message is None or message.direction != "out" or message.delivery_status != "queued":
        return None
    conversation = db.session.get(Conversation, message.conversation_id)
    channel = conversation.channel
    contact = conversation.contact
    upload_dir = Path(current_app.config["UPLOAD_DIR"])
    outbound = OutboundMessage(
        message_id=message.id,
        conversation_id=conversation.id,
        contact_id=contact.id,
        contact_external_id=contact.external_id,
        text=message.text,
        kind=message.kind,
        attachments=tuple(
            OutboundAttachment(a.filename, a.content_type, str(upload_dir / a.storage_path), a.id)
            for a in message.attachments
        ),
        reply_to_external_id=message.reply_to.external_id if message.reply_to else None,
        author_name=message.author.name if message.author else "",
        template=(message.data or {}).get("template"),
        buttons=tuple((message.data or {}).get("buttons") or ()),
        context=_routing_context(message),
    )
    return channel_ref(channel), outbound


def _routing_context(message: Message) -> dict:
    """The platform routing a reply travels with: its own, else that of the client message it quotes,
    else that of the client's latest message (an Instagram comment id: the answer goes under it)."""
    own = (message.data or {}).get("context")
    if own:
        return dict(own)
    source = message.reply_to if message.reply_to is not None and message.reply_to.direction == "in" else None
    if source is None:
        source = db.session.scalars(
            select(Message)
            .where(Message.conversation_id == message.conversation_id, Message.direction == "in")
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(1)
        ).first()
    return dict(((source.data if source is not None else None) or {}).get("context") or {})


def _queued_out(message_id: int) -> Message | None:
    begin_write()
    message = db.session.get(Message, message_id)
    if message is None or message.direction != "out" or message.delivery_status != "queued":
        db.session.rollback()
        return None
    return message


def mark_sent(message_id: int, result: SendResult) -> None:
    """The platform took the message: sent (or delivered, when it said so at once)."""
    message = _queued_out(message_id)
    if message is None:
        return
    message.delivery_status = "delivered" if result.status == "delivered" else "sent"
    message.delivery_error = ""
    if result.external_id:
        message.external_id = result.external_id[:120]
    message_updated(message)
    db.session.commit()


def mark_failed(message_id: int, reason: str) -> None:
    """The platform refused for good: staff see the reason and a Retry button."""
    message = _queued_out(message_id)
    if message is None:
        return
    message.delivery_status = "failed"
    message.delivery_error = reason or "Delivery failed."
    message_updated(message)
    db.session.commit()


def retry_at(attempts: int, backoff: tuple[int, ...], retry_after: float | None = None) -> datetime:
    """When to try again after `attempts` tries: the backoff step, or the platform's retry_after if longer."""
    delay = max(retry_after or 0, backoff[min(attempts, len(backoff)) - 1])
    return utcnow() + timedelta(seconds=delay)


def postpone_delivery(message_id: int, reason: str, retry_after: float | None = None) -> datetime | None:
    """A temporary refusal: schedule the next attempt with backoff; None once attempts ran out (failed)."""
    message = _queued_out(message_id)
    if message is None:
        return None
    data = dict(message.data or {})
    attempts = int(data.get("attempts") or 0) + 1
    if attempts >= MAX_ATTEMPTS:
        db.session.rollback()
        mark_failed(message_id, reason)
        return None
    at = retry_at(attempts, BACKOFF, retry_after)
    message.data = {**data, "attempts": attempts, "last_error": reason}
    db.session.commit()
    enqueue_delivery(message_id, attempt=attempts + 1, at=at)
    return at


def stale_outbox(older_than: timedelta, limit: int = 500) -> list[tuple[int, int]]:
    """Replies still queued `older_than` after they were written: (message id, next attempt number)."""
    rows = db.session.execute(
        select(Message.id, Message.data)
        .where(
            Message.direction == "out",
            Message.delivery_status == "queued",
            Message.created_at < utcnow() - older_than,
        )
        .order_by(Message.id)
        .limit(limit)
    ).all()
    return [(message_id, int((data or {}).get("attempts") or 0) + 1) for message_id, data in rows]
