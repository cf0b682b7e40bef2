"""Messages (client, staff, notes, system events), their revisions and attachments."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import db, utcnow
from models.staff import User

DIRECTIONS = ("in", "out", "note", "event")
KINDS = ("text", "image", "file", "voice", "video", "sticker", "location", "contact", "service")
DELIVERY_STATUSES = ("queued", "sent", "delivered", "read", "failed")


class Message(db.Model):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel_id", "external_id", name="uq_messages_channel_external"),
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    direction: Mapped[str] = mapped_column(String(5))
    kind: Mapped[str] = mapped_column(String(20), default="text")
    text: Mapped[str] = mapped_column(Text, default="")
    # for direction "event": what happened, rendered in the reader's language
    event: Mapped[str | None] = mapped_column(String(30))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    external_id: Mapped[str | None] = mapped_column(String(120))
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    delivery_status: Mapped[str | None] = mapped_column(String(10))
    delivery_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None]

    author: Mapped[User | None] = relationship()
    reply_to: Mapped["Message | None"] = relationship(remote_side=[id])
    attachments: Mapped[list["Attachment"]] = relationship(order_by="Attachment.id")
    revisions: Mapped[list["MessageRevision"]] = relationship(order_by="MessageRevision.id")


class MessageRevision(db.Model):
    """The text a message had before an edit: history is never rewritten."""

    __tablename__ = "message_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    replaced_at: Mapped[datetime] = mapped_column(default=utcnow)


class Attachment(db.Model):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(default=0)
    # relative to UPLOAD_DIR; empty until the worker fetched a platform's media
    storage_path: Mapped[str] = mapped_column(String(255), default="")

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class Template(db.Model):
    """A quick reply with {variables}, inserted into the composer for editing."""

    __tablename__ = "templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
