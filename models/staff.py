"""Staff accounts, role permissions and the salon's own settings."""

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from models.base import db, utcnow

ROLES = ("owner", "admin", "master")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="admin")
    active: Mapped[bool] = mapped_column(default=True)
    sound_on: Mapped[bool] = mapped_column(default=True)
    language: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_active(self) -> bool:  # Flask-Login: a deactivated account cannot log in
        return self.active

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else self.name

    @property
    def initials(self) -> str:
        parts = [p for p in self.name.split() if p]
        return "".join(p[0] for p in parts[:2]).upper() or "?"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def may_chat(self) -> bool:
        return role_may_chat(self.role)


class RolePermission(db.Model):
    """Which roles the owner allows to use the chat. The owner always may."""

    __tablename__ = "role_permissions"

    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    may_chat: Mapped[bool] = mapped_column(default=False)


class Salon(db.Model):
    """The one salon this installation serves (a single row)."""

    __tablename__ = "salon"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), default="Okno")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")


def role_may_chat(role: str) -> bool:
    if role == "owner":
        return True
    perm = db.session.get(RolePermission, role)
    return bool(perm and perm.may_chat)
