"""Conversations, their sessions, tags and comments."""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import db, utcnow
from models.channels import Channel, Contact
from models.staff import User

CONVERSATION_STATES = ("open", "snoozed", "closed")


class Tag(db.Model):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    color: Mapped[str] = mapped_column(String(7), default="#6b7280")


conversation_tags = Table(
    "conversation_tags",
    db.metadata,
    Column("conversation_id", ForeignKey("conversations.id"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id"), primary_key=True, index=True),
)

session_tags = Table(
    "session_tags",
    db.metadata,
    Column("session_id", ForeignKey("sessions.id"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id"), primary_key=True),
)


class Conversation(db.Model):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_activity", "last_activity_at", "id"),
        # the list's tabs, newest first, straight from the index (its rowid breaks ties on time)
        Index("ix_conversations_list", "is_spam", "with_bot", "state", "last_activity_at"),
        # the "All" and "Spam" tabs, which name no state
        Index("ix_conversations_list_all", "is_spam", "with_bot", "last_activity_at"),
        # the header's unanswered counts, read from the index alone
        Index("ix_conversations_counts", "is_spam", "with_bot", "state", "assignee_id", "unread_count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), unique=True)
    state: Mapped[str] = mapped_column(String(10), default="open")
    is_spam: Mapped[bool] = mapped_column(default=False)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    with_bot: Mapped[bool] = mapped_column(default=False)
    snoozed_until: Mapped[datetime | None]
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    # denormalized for the list: the last client/staff message
    last_message_preview: Mapped[str] = mapped_column(String(200), default="")
    last_message_at: Mapped[datetime | None]
    last_message_direction: Mapped[str | None] = mapped_column(String(5))
    # client messages since the last staff reply; only a reply clears it
    unread_count: Mapped[int] = mapped_column(default=0)
    current_session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", use_alter=True))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    channel: Mapped[Channel] = relationship()
    contact: Mapped[Contact] = relationship()
    assignee: Mapped[User | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=conversation_tags, order_by=Tag.name)
    current_session: Mapped["Session | None"] = relationship(
        foreign_keys=[current_session_id], post_update=True
    )

    @property
    def unanswered(self) -> bool:
        return self.state == "open" and not self.is_spam and self.unread_count > 0


class Session(db.Model):
    """One open..close span of a conversation."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    tags: Mapped[list[Tag]] = relationship(secondary=session_tags, order_by=Tag.name)


class Comment(db.Model):
    """A staff comment on a dialog, or on one session of it when session_id is set."""

    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[User] = relationship()
