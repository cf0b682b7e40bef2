"""Staff actions on a conversation that need no messenger: each one an event."""

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select, update
from werkzeug.exceptions import NotFound

from extensions import db
from jobs import schedule_wake
from models import Comment, Conversation, Message, Session, Tag, User
from models.base import utcnow
from services.db import begin_write
from services.errors import ActionError
from services.events import record_event
from services.realtime import conversation_changed
from services.text import preview


def get_conversation(conversation_id: int) -> Conversation:
    conversation = db.session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound()
    return conversation


def open_session(conversation: Conversation, at: datetime | None = None) -> Session:
    session = Session(conversation_id=conversation.id, started_at=at or utcnow())
    db.session.add(session)
    db.session.flush()
    conversation.current_session_id = session.id
    return session


def _close_session(conversation: Conversation, at: datetime) -> None:
    if conversation.current_session_id:
        session = db.session.get(Session, conversation.current_session_id)
        if session and session.closed_at is None:
            session.closed_at = at


def assign_conversation(conversation_id: int, assignee_id: int | None, actor: User) -> None:
    """Give the conversation to a staff member who may chat, or to nobody."""
    begin_write()
    conversation = get_conversation(conversation_id)
    if conversation.assignee_id == assignee_id:
        db.session.rollback()
        return
    if assignee_id is None:
        conversation.assignee_id = None
        record_event(conversation, actor, "unassigned")
    else:
        assignee = db.session.get(User, assignee_id)
        if assignee is None or not assignee.active or not assignee.may_chat:
            raise ActionError(_("This staff member can't take chats."))
        conversation.assignee_id = assignee.id
        if assignee.id == actor.id:
            record_event(conversation, actor, "took")
        else:
            record_event(conversation, actor, "assigned", assignee=assignee.name)
    conversation_changed(conversation.id, counts=True)
    db.session.commit()


def take_if_unassigned(conversation_id: int, user: User) -> bool:
    """Atomically make `user` the assignee if there is none; True if this call won.

    One UPDATE ... WHERE assignee_id IS NULL: of two staff replying at once, one wins.
    Runs in the caller's write transaction (begin_write is a no-op then); on its own
    it takes the write lock first, else a read earlier in the same SQLite transaction
    makes the loser fail with "database is locked" instead of getting False.
    """
    begin_write()
    result = db.session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.assignee_id.is_(None))
        .values(assignee_id=user.id)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def close_conversation(conversation_id: int, actor: User) -> None:
    begin_write()
    conversation = get_conversation(conversation_id)
    if conversation.state == "closed":
        db.session.rollback()
        return
    now = utcnow()
    conversation.state = "closed"
    conversation.snoozed_until = None
    record_event(conversation, actor, "closed", at=now)
    _close_session(conversation, now)
    conversation_changed(conversation.id, counts=True)
    db.session.commit()


def reopen_conversation(conversation_id: int, actor: User | None) -> None:
    """Back to Open: from closed it starts a new session, from snoozed it wakes."""
    begin_write()
    conversation = get_conversation(conversation_id)
    if conversation.state == "open":
        db.session.rollback()
        return
    _reopen(conversation, actor, utcnow())
    conversation_changed(conversation.id, counts=True)
    db.session.commit()


def _reopen(conversation: Conversation, actor: User | None, at: datetime) -> None:
    was = conversation.state
    conversation.state = "open"
    conversation.snoozed_until = None
    if was == "closed":
        open_session(conversation, at)
        record_event(conversation, actor, "reopened", at=at)
    else:
        record_event(conversation, actor, "woke", at=at)


def snooze_conversation(conversation_id: int, until: datetime, actor: User) -> None:
    """Hide the conversation from Open until `until` (or until the client writes)."""
    if until.tzinfo is None:
        raise ValueError("until must be timezone-aware")
    if until <= utcnow():
        raise ActionError(_("Choose a time in the future."))
    begin_write()
    conversation = get_conversation(conversation_id)
    if conversation.state == "closed":
        open_session(conversation)
    conversation.state = "snoozed"
    conversation.snoozed_until = until
    record_event(conversation, actor, "snoozed", until=until.isoformat())
    conversation_changed(conversation.id, counts=True)
    db.session.commit()
    schedule_wake(conversation_id, until)


def wake_conversation(conversation_id: int) -> bool:
    """Return a snoozed conversation to Open once its time came; True if it woke."""
    begin_write()
    conversation = get_conversation(conversation_id)
    now = utcnow()
    if conversation.state != "snoozed" or (conversation.snoozed_until and conversation.snoozed_until > now):
        db.session.rollback()
        return False
    _reopen(conversation, None, now)
    conversation_changed(conversation.id, counts=True)
    db.session.commit()
    return True


def wake_overdue_snoozes() -> int:
    """Wake every conversation whose snooze time passed (a lost timer only delays)."""
    ids = db.session.scalars(
        select(Conversation.id).where(Conversation.state == "snoozed", Conversation.snoozed_until <= utcnow())
    ).all()
    return sum(wake_conversation(cid) for cid in ids)


def set_spam(conversation_id: int, spam: bool, actor: User) -> None:
    begin_write()
    conversation = get_conversation(conversation_id)
    if conversation.is_spam == spam:
        db.session.rollback()
        return
    conversation.is_spam = spam
    record_event(conversation, actor, "spam" if spam else "not_spam")
    conversation_changed(conversation.id, counts=True)
    db.session.commit()


def add_note(conversation_id: int, actor: User, text: str) -> Message:
    """A private note: shown to staff in the dialog, never sent to the client."""
    text = (text or "").strip()
    if not text:
        raise ActionError(_("The note is empty."))
    begin_write()
    conversation = get_conversation(conversation_id)
    now = utcnow()
    note = Message(
        conversation_id=conversation.id,
        session_id=conversation.current_session_id,
        channel_id=conversation.channel_id,
        direction="note",
        text=text,
        author_id=actor.id,
        created_at=now,
    )
    db.session.add(note)
    conversation.last_activity_at = now
    conversation_changed(conversation.id)
    db.session.commit()
    return note


def add_comment(conversation_id: int, actor: User, text: str, on_session: bool) -> Comment:
    """A comment on the dialog as a whole, or on its current session."""
    text = (text or "").strip()
    if not text:
        raise ActionError(_("The comment is empty."))
    begin_write()
    conversation = get_conversation(conversation_id)
    comment = Comment(
        conversation_id=conversation.id,
        session_id=conversation.current_session_id if on_session else None,
        author_id=actor.id,
        text=text,
    )
    db.session.add(comment)
    record_event(conversation, actor, "session_comment" if on_session else "comment", text=preview(text, 80))
    conversation_changed(conversation.id)
    db.session.commit()
    return comment


def set_tag(conversation_id: int, tag_id: int, on: bool, actor: User, on_session: bool) -> None:
    """Add (on=True) or remove a tag on the dialog or on its current session."""
    begin_write()
    conversation = get_conversation(conversation_id)
    tag = db.session.get(Tag, tag_id)
    if tag is None:
        raise NotFound()
    if on_session:
        if conversation.current_session is None:
            open_session(conversation)
        target = conversation.current_session.tags
    else:
        target = conversation.tags
    if (tag in target) == on:
        db.session.rollback()
        return
    if on:
        target.append(tag)
    else:
        target.remove(tag)
    event = ("tag_added" if on else "tag_removed") + ("_session" if on_session else "")
    record_event(conversation, actor, event, tag=tag.name)
    conversation_changed(conversation.id)
    db.session.commit()
