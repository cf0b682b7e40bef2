"""Factories for test data: each makes a valid row with sensible defaults and commits it."""

import itertools
from datetime import timedelta

from extensions import db
from models import (
    Channel,
    Client,
    Contact,
    Conversation,
    Message,
    Tag,
    User,
    Visit,
)
from models.base import utcnow
from services.clients import add_phone, set_client_name
from services.conversations import open_session
from services.text import normalize_phone, normalize_text, preview

_seq = itertools.count(1)
PASSWORD = "secret-pass"


def committed(model, ident):
    """The row as a new request would read it: only what was committed, by any session.

    A rollback alone is not enough: a session not in a transaction has nothing to roll back,
    and keeps objects that services.db.commit_as_written left loaded.
    """
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(model, ident)


def make_user(role="admin", name=None, email=None, **kw) -> User:
    n = next(_seq)
    user = User(name=name or f"Staff {n}", email=email or f"staff{n}@salon.test", role=role, **kw)
    user.set_password(PASSWORD)
    db.session.add(user)
    db.session.commit()
    return user


def make_client(name="Мария Иванова", phones=(), category="client", **kw) -> Client:
    client = Client(name="", name_norm="", category=category, **kw)
    set_client_name(client, name)
    db.session.add(client)
    for phone in phones:
        add_phone(client, phone)
    db.session.commit()
    return client


def make_channel(kind="telegram", name=None, **kw) -> Channel:
    n = next(_seq)
    channel = Channel(kind=kind, name=name or f"{kind.title()} {n}", uid=f"{kind}-{n}", **kw)
    db.session.add(channel)
    db.session.commit()
    return channel


def make_contact(channel=None, name="Maria", client=None, phone=None, **kw) -> Contact:
    channel = channel or make_channel()
    e164 = normalize_phone(phone) if phone else None
    contact = Contact(
        channel_id=channel.id,
        external_id=str(next(_seq)),
        display_name=name,
        name_norm=normalize_text(name),
        phone=e164,
        phone_digits=e164.lstrip("+") if e164 else None,
        client_id=client.id if client else None,
        **kw,
    )
    db.session.add(contact)
    db.session.commit()
    return contact


def make_conversation(
    channel="telegram", contact=None, client=None, name="Maria", messages=(), **kw
) -> Conversation:
    """A conversation with one session; `messages` are client texts, oldest first."""
    if contact is None:
        ch = channel if isinstance(channel, Channel) else make_channel(kind=channel)
        contact = make_contact(ch, name=name, client=client)
    conversation = Conversation(channel_id=contact.channel_id, contact_id=contact.id, **kw)
    db.session.add(conversation)
    db.session.flush()
    open_session(conversation)
    db.session.commit()
    for text in messages:
        make_message(conversation, text)
    return conversation


def make_message(conversation, text="Здравствуйте!", direction="in", at=None, author=None, **kw) -> Message:
    """A stored message; client messages raise the unread count as the inbound path does."""
    at = at or utcnow()
    message = Message(
        conversation_id=conversation.id,
        session_id=conversation.current_session_id,
        channel_id=conversation.channel_id,
        direction=direction,
        text=text,
        author_id=author.id if author else None,
        created_at=at,
        **kw,
    )
    db.session.add(message)
    if direction in ("in", "out"):
        conversation.last_message_preview = preview(text)
        conversation.last_message_at = at
        conversation.last_message_direction = direction
        conversation.unread_count = conversation.unread_count + 1 if direction == "in" else 0
    conversation.last_activity_at = at
    db.session.commit()
    return message


def make_visit(client, days=3, status="waiting", service="Стрижка", **kw) -> Visit:
    visit = Visit(
        client_id=client.id, starts_at=utcnow() + timedelta(days=days), service=service, status=status, **kw
    )
    db.session.add(visit)
    db.session.commit()
    return visit


def make_tag(name="VIP", color="#d97706") -> Tag:
    tag = Tag(name=name, color=color)
    db.session.add(tag)
    db.session.commit()
    return tag
