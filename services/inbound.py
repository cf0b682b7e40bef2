"""What a verified webhook's events do: one service call per event kind.

InboundMessage goes to services.messaging.receive_message; the other kinds are the
platform telling us about edits, delivery, blocks and its own echoes.
"""

import logging

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from channels.base import (
    ChannelSettings,
    ContactBlocked,
    ConversationStarted,
    InboundMessage,
    MessageEdited,
    OutboundEcho,
    StatusUpdate,
)
from extensions import db
from models import Contact, Conversation, Message, MessageRevision
from models.base import utcnow
from services import realtime
from services.channels import update_channel
from services.db import begin_write
from services.events import record_event
from services.messaging import message_updated, receive_message
from services.text import preview

log = logging.getLogger(__name__)

# how far a message got; a status never goes backwards
STATUS_RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3}
BLOCKED_REASON = _l("Bot blocked by the user")


def handle_events(channel_id: int, events: list) -> int:
    """Apply each event of one webhook (or one resync); returns how many were messages."""
    stored = 0
    for event in events:
        if isinstance(event, InboundMessage):
            receive_message(channel_id, event)
            stored += 1
        elif isinstance(event, MessageEdited):
            apply_edit(channel_id, event)
        elif isinstance(event, StatusUpdate):
            apply_status(channel_id, event)
        elif isinstance(event, ContactBlocked):
            set_contact_blocked(channel_id, event.external_contact_id, event.blocked)
        elif isinstance(event, ConversationStarted):
            from services import bot

            bot.conversation_started(channel_id, event)
        elif isinstance(event, ChannelSettings):
            update_channel(channel_id, settings=event.settings)
        elif isinstance(event, OutboundEcho):
            log.info("channel %s: echo of our own message %s ignored", channel_id, event.external_message_id)
        else:
            log.info("channel %s: event %r ignored", channel_id, type(event).__name__)
    return stored


def _message_by_external(channel_id: int, external_id: str) -> Message | None:
    return db.session.scalars(
        select(Message).where(Message.channel_id == channel_id, Message.external_id == external_id)
    ).first()


def apply_edit(channel_id: int, event: MessageEdited) -> Message | None:
    """The client changed a message: keep the earlier text as a revision, mark it edited."""
    begin_write()
    message = _message_by_external(channel_id, event.external_message_id)
    if message is None or message.direction != "in" or message.text == event.text:
        db.session.rollback()
        return message
    at = event.edited_at or utcnow()
    db.session.add(MessageRevision(message_id=message.id, text=message.text, replaced_at=at))
    message.text = event.text
    message.edited_at = at
    conversation = db.session.get(Conversation, message.conversation_id)
    if conversation.last_message_at == message.created_at and conversation.last_message_direction == "in":
        conversation.last_message_preview = preview(event.text)
    message_updated(message)
    realtime.conversation_changed(message.conversation_id)
    db.session.commit()
    return message


def apply_status(channel_id: int, event: StatusUpdate) -> Message | None:
    """Delivered / read / failed as the platform reports it; never backwards."""
    begin_write()
    message = _message_by_external(channel_id, event.external_message_id)
    if message is None or message.direction != "out":
        db.session.rollback()
        return message
    current = message.delivery_status or "queued"
    if event.status == "failed":
        if current in ("read", "failed"):
            db.session.rollback()
            return message
        message.delivery_status = "failed"
        message.delivery_error = (event.error or "")[:1000]
    elif event.status in STATUS_RANK and STATUS_RANK[event.status] > STATUS_RANK.get(current, 0):
        if current == "failed":
            db.session.rollback()
            return message
        message.delivery_status = event.status
    else:
        db.session.rollback()
        return message
    message_updated(message)
    db.session.commit()
    return message


def set_contact_blocked(channel_id: int, external_contact_id: str, blocked: bool) -> Contact | None:
    """Mark the contact (un)blocked; when blocked, queued replies fail with that reason."""
    begin_write()
    contact = db.session.scalars(
        select(Contact).where(Contact.channel_id == channel_id, Contact.external_id == external_contact_id)
    ).first()
    if contact is None or contact.blocked == blocked:
        db.session.rollback()
        return contact
    contact.blocked = blocked
    conversation = db.session.scalars(
        select(Conversation).where(Conversation.contact_id == contact.id)
    ).first()
    if conversation is not None:
        record_event(conversation, None, "blocked" if blocked else "unblocked")
        if blocked:
            queued = db.session.scalars(
                select(Message).where(
                    Message.conversation_id == conversation.id,
                    Message.direction == "out",
                    Message.delivery_status == "queued",
                )
            ).all()
            for message in queued:
                message.delivery_status = "failed"
                message.delivery_error = str(BLOCKED_REASON)
                message_updated(message)
        realtime.conversation_changed(conversation.id)
    db.session.commit()
    return contact


def block_contact_of_message(message_id: int) -> None:
    """A send was refused because the client blocked the bot (Telegram 403, VK 901)."""
    message = db.session.get(Message, message_id)
    if message is None:
        return
    contact = db.session.get(Conversation, message.conversation_id).contact
    channel_id, external_id = contact.channel_id, contact.external_id
    db.session.rollback()
    set_contact_blocked(channel_id, external_id, True)
