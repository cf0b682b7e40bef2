"""Channels (a bot, a number, the widget) and contacts (one identity on one channel)."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import db, utcnow
from models.clients import Client

CHANNEL_KINDS = ("widget", "telegram", "whatsapp", "viber", "vk", "instagram", "email")


class Channel(db.Model):
    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    uid: Mapped[str] = mapped_column(String(40), unique=True)
    # Fernet-encrypted JSON; never shown back in full
    credentials: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(default=True)
    health: Mapped[str] = mapped_column(String(10), default="ok")
    health_reason: Mapped[str] = mapped_column(Text, default="")
    health_checked_at: Mapped[datetime | None]
    last_sync_at: Mapped[datetime | None]
    assignment_mode: Mapped[str] = mapped_column(String(10), default="manual")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def broken(self) -> bool:
        return self.health == "broken"


class Contact(db.Model):
    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    external_id: Mapped[str] = mapped_column(String(120))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    name_norm: Mapped[str] = mapped_column(String(200), default="", index=True)
    avatar_url: Mapped[str | None] = mapped_column(String(500))
    phone: Mapped[str | None] = mapped_column(String(20))
    phone_digits: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    # the name / phone a widget visitor typed: shown as unverified, never linked automatically
    given_by_visitor: Mapped[bool] = mapped_column(default=False)
    blocked: Mapped[bool] = mapped_column(default=False)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    channel: Mapped[Channel] = relationship()
    client: Mapped[Client | None] = relationship()
