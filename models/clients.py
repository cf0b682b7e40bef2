"""The CRM side: clients, their phones, visits, custom fields."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import db, utcnow

CATEGORIES = ("client", "spam", "staff", "model", "sleeping", "not_client")
VISIT_STATUSES = ("waiting", "confirmed", "cancelled", "arrived")
FIELD_KINDS = ("text", "number", "date", "select")


class Client(db.Model):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # casefolded, ё -> е: SQLite's lower() and LIKE fold ASCII only
    name_norm: Mapped[str] = mapped_column(String(200), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    category: Mapped[str] = mapped_column(String(20), default="client", index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    phones: Mapped[list["ClientPhone"]] = relationship(
        back_populates="client", order_by="ClientPhone.id", cascade="all, delete-orphan"
    )
    visits: Mapped[list["Visit"]] = relationship(back_populates="client", order_by="Visit.starts_at")

    @property
    def first_name(self) -> str:
        parts = self.name.split()
        return parts[0] if parts else self.name


class ClientPhone(db.Model):
    __tablename__ = "client_phones"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    e164: Mapped[str] = mapped_column(String(20))
    # the E.164 number's digits, for substring search in any written form
    digits: Mapped[str] = mapped_column(String(20), index=True)

    client: Mapped[Client] = relationship(back_populates="phones")


class Visit(db.Model):
    __tablename__ = "visits"
    __table_args__ = (Index("ix_visits_client_starts", "client_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    starts_at: Mapped[datetime]
    service: Mapped[str] = mapped_column(String(200))
    master: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(20), default="waiting")

    client: Mapped[Client] = relationship(back_populates="visits")


class CustomField(db.Model):
    """A client field the owner defined (e.g. "Hair type", "Allergies")."""

    __tablename__ = "custom_fields"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20), default="text")
    # for kind "select": one option per line
    options: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def option_list(self) -> list[str]:
        return [o.strip() for o in self.options.splitlines() if o.strip()]


class CustomFieldValue(db.Model):
    __tablename__ = "custom_field_values"
    __table_args__ = (UniqueConstraint("client_id", "field_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    field_id: Mapped[int] = mapped_column(ForeignKey("custom_fields.id"))
    value: Mapped[str] = mapped_column(Text, default="")
