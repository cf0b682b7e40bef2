"""The owner's settings: who may chat, the salon, client fields, tags, staff accounts.

Write paths raise FieldError (an ActionError naming the form field) so the page can show
the message next to the input. Nothing here deletes history: fields and accounts are
deactivated, values stay; a tag can only be removed while nothing carries it.
"""

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from flask import g
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.exceptions import NotFound

from extensions import db
from models import (
    FIELD_KINDS,
    ROLES,
    Channel,
    CustomField,
    CustomFieldValue,
    RolePermission,
    Salon,
    Tag,
    User,
    conversation_tags,
    session_tags,
)
from models.base import utcnow
from services.db import begin_write, get_or_404, refusals_roll_back
from services.errors import ActionError, FieldError
from services.salon import get_salon
from services.text import normalize_text
from services.widget import WidgetSettings, normalize_origin

MIN_PASSWORD = 8
COLOR_RE = re.compile(r"#[0-9a-fA-F]{6}")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
COMMON_TIMEZONES = (
    "Europe/Moscow",
    "Europe/Kyiv",
    "Europe/Minsk",
    "Europe/Kaliningrad",
    "Europe/Samara",
    "Asia/Yekaterinburg",
    "Asia/Omsk",
    "Asia/Novosibirsk",
    "Asia/Krasnoyarsk",
    "Asia/Irkutsk",
    "Asia/Yakutsk",
    "Asia/Vladivostok",
    "Asia/Magadan",
    "Asia/Kamchatka",
    "Asia/Almaty",
    "Asia/Tashkent",
    "Asia/Tbilisi",
    "Asia/Yerevan",
    "Asia/Baku",
    "Europe/Chisinau",
    "Europe/Warsaw",
    "Europe/Berlin",
    "Europe/London",
    "UTC",
)
ROLE_LABELS = {"owner": _l("Owner"), "admin": _l("Administrator"), "master": _l("Master")}
KIND_LABELS = {
    "text": _l("Text"),
    "number": _l("Number"),
    "date": _l("Date"),
    "select": _l("List of options"),
}


# ---- reads for the settings pages ------------------------------------------------------------


@dataclass
class Overview:
    salon: Salon
    chat_roles: list[str]
    active_fields: int
    tags: int
    active_staff: int


def overview() -> Overview:
    """One line of state per section, for the settings index."""
    return Overview(
        salon=get_salon(),
        chat_roles=chat_roles(),
        active_fields=db.session.scalar(
            select(func.count()).select_from(CustomField).where(CustomField.active.is_(True))
        ),
        tags=db.session.scalar(select(func.count()).select_from(Tag)),
        active_staff=db.session.scalar(select(func.count()).select_from(User).where(User.active.is_(True))),
    )


def chat_roles() -> list[str]:
    """The roles that may use the chat; the owner always."""
    allowed = set(db.session.scalars(select(RolePermission.role).where(RolePermission.may_chat.is_(True))))
    return [r for r in ROLES if r == "owner" or r in allowed]


def utc_offset(name: str, at: datetime | None = None) -> str:
    offset = (at or utcnow()).astimezone(ZoneInfo(name)).utcoffset()
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@lru_cache(maxsize=1)
def _all_timezones() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def timezone_choices() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(common, all others) as (zone, "zone (UTC+03:00)") pairs for the select."""
    every = _all_timezones()
    common = [z for z in COMMON_TIMEZONES if z in every]
    rest = [z for z in every if z not in common]
    now = utcnow()
    return (
        [(z, f"{z} ({utc_offset(z, now)})") for z in common],
        [(z, f"{z} ({utc_offset(z, now)})") for z in rest],
    )


@dataclass
class FieldRow:
    field: CustomField
    values: int


def custom_fields() -> list[FieldRow]:
    counts = dict(
        db.session.execute(
            select(CustomFieldValue.field_id, func.count())
            .where(CustomFieldValue.value != "")
            .group_by(CustomFieldValue.field_id)
        ).all()
    )
    fields = db.session.scalars(
        select(CustomField).order_by(CustomField.active.desc(), CustomField.position, CustomField.id)
    ).all()
    return [FieldRow(f, counts.get(f.id, 0)) for f in fields]


@dataclass
class TagRow:
    tag: Tag
    conversations: int
    sessions: int

    @property
    def in_use(self) -> bool:
        return bool(self.conversations or self.sessions)


def tag_rows() -> list[TagRow]:
    on_conversations = dict(
        db.session.execute(
            select(conversation_tags.c.tag_id, func.count()).group_by(conversation_tags.c.tag_id)
        ).all()
    )
    on_sessions = dict(
        db.session.execute(select(session_tags.c.tag_id, func.count()).group_by(session_tags.c.tag_id)).all()
    )
    tags = db.session.scalars(select(Tag).order_by(Tag.name)).all()
    return [TagRow(t, on_conversations.get(t.id, 0), on_sessions.get(t.id, 0)) for t in tags]


def staff_accounts() -> list[User]:
    return db.session.scalars(select(User).order_by(User.active.desc(), User.name)).all()


# ---- chat access -------------------------------------------------------------------------------


@refusals_roll_back
def set_chat_roles(roles: list[str] | set[str]) -> None:
    """Allow exactly these roles to use the chat (the owner always may)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise FieldError("roles", _("Unknown role."))
    begin_write()
    for role in ROLES:
        if role == "owner":
            continue
        perm = db.session.get(RolePermission, role)
        if perm is None:
            perm = RolePermission(role=role)
            db.session.add(perm)
        perm.may_chat = role in roles
    db.session.commit()


# ---- the salon -------------------------------------------------------------------------------


@refusals_roll_back
def save_salon(name: str, timezone: str) -> Salon:
    """The salon's name and time zone; the row is created on the first save."""
    name = (name or "").strip()
    if not name:
        raise FieldError("name", _("Enter the salon's name."))
    if len(name) > 120:
        raise FieldError("name", _("At most %(n)d characters.", n=120))
    if timezone not in _all_timezones():
        raise FieldError("timezone", _("Choose a time zone from the list."))
    begin_write()
    salon = db.session.get(Salon, 1)
    if salon is None:
        salon = Salon(id=1)
        db.session.add(salon)
    salon.name = name
    salon.timezone = timezone
    db.session.commit()
    g.pop("salon", None)
    return salon


# ---- client fields -----------------------------------------------------------------------------


def _clean_options(kind: str, options: str) -> str:
    if kind != "select":
        return ""
    seen: list[str] = []
    for line in (options or "").splitlines():
        line = line.strip()
        if line and line not in seen:
            seen.append(line)
    if not seen:
        raise FieldError("options", _("A list needs at least one option, one per line."))
    return "\n".join(seen)


def _check_field_name(name: str, field_id: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise FieldError("name", _("Enter the field's name."))
    if len(name) > 120:
        raise FieldError("name", _("At most %(n)d characters.", n=120))
    for other in db.session.scalars(select(CustomField)):
        if other.id != field_id and normalize_text(other.name) == normalize_text(name):
            raise FieldError("name", _("There is a field with this name already."))
    return name


@refusals_roll_back
def add_custom_field(name: str, kind: str, options: str = "") -> CustomField:
    """A new client field shown on every client card."""
    if kind not in FIELD_KINDS:
        raise FieldError("kind", _("Choose the kind of field."))
    options = _clean_options(kind, options)
    begin_write()
    name = _check_field_name(name)
    position = db.session.scalar(select(func.max(CustomField.position))) or 0
    field = CustomField(name=name, kind=kind, options=options, position=position + 1)
    db.session.add(field)
    db.session.commit()
    return field


@refusals_roll_back
def update_custom_field(field_id: int, name: str, options: str | None = None) -> None:
    """Rename a field, or change a list's options; values already saved stay as they are."""
    begin_write()
    field = get_or_404(CustomField, field_id)
    field.name = _check_field_name(name, field.id)
    if field.kind == "select" and options is not None:
        field.options = _clean_options("select", options)
    db.session.commit()


@refusals_roll_back
def set_custom_field_active(field_id: int, active: bool) -> None:
    """Hide a field from client cards (its values are kept), or show it again."""
    begin_write()
    field = get_or_404(CustomField, field_id)
    field.active = active
    db.session.commit()


# ---- tags ----------------------------------------------------------------------------------------


def _check_tag(name: str, color: str, tag_id: int | None = None) -> tuple[str, str]:
    name = (name or "").strip()
    if not name:
        raise FieldError("name", _("Enter the tag's name."))
    if len(name) > 60:
        raise FieldError("name", _("At most %(n)d characters.", n=60))
    color = (color or "").strip()
    if not COLOR_RE.fullmatch(color):
        raise FieldError("color", _("Choose a colour."))
    for other in db.session.scalars(select(Tag)):
        if other.id != tag_id and normalize_text(other.name) == normalize_text(name):
            raise FieldError("name", _("There is a tag with this name already."))
    return name, color.lower()


@refusals_roll_back
def add_tag(name: str, color: str) -> Tag:
    begin_write()
    name, color = _check_tag(name, color)
    tag = Tag(name=name, color=color)
    db.session.add(tag)
    db.session.commit()
    return tag


@refusals_roll_back
def update_tag(tag_id: int, name: str, color: str) -> None:
    """Rename or recolour a tag everywhere it is used (events keep the name they had)."""
    begin_write()
    tag = get_or_404(Tag, tag_id)
    tag.name, tag.color = _check_tag(name, color, tag.id)
    db.session.commit()


@refusals_roll_back
def delete_tag(tag_id: int) -> None:
    """Remove a tag that no dialog or session carries; one in use stays (rename it instead)."""
    begin_write()
    tag = get_or_404(Tag, tag_id)
    used = db.session.scalar(
        select(func.count()).select_from(conversation_tags).where(conversation_tags.c.tag_id == tag.id)
    ) + db.session.scalar(
        select(func.count()).select_from(session_tags).where(session_tags.c.tag_id == tag.id)
    )
    if used:
        raise ActionError(_("This tag is in use, so it stays: rename it instead."))
    db.session.delete(tag)
    db.session.commit()


# ---- staff ---------------------------------------------------------------------------------------


def _active_owners() -> int:
    return db.session.scalar(
        select(func.count()).select_from(User).where(User.role == "owner", User.active.is_(True))
    )


@refusals_roll_back
def add_staff(name: str, email: str, role: str, password: str) -> User:
    """A new staff account that can log in at once."""
    name = (name or "").strip()
    email = (email or "").strip().lower()
    if not name:
        raise FieldError("name", _("Enter the name colleagues and clients will see."))
    if len(name) > 120:
        raise FieldError("name", _("At most %(n)d characters.", n=120))
    if not EMAIL_RE.fullmatch(email) or len(email) > 254:
        raise FieldError("email", _("Enter a valid e-mail address."))
    if role not in ROLES:
        raise FieldError("role", _("Unknown role."))
    if len(password or "") < MIN_PASSWORD:
        raise FieldError("password", _("The password needs at least 8 characters."))
    begin_write()
    if db.session.scalar(select(func.count()).select_from(User).where(func.lower(User.email) == email)):
        raise FieldError("email", _("A user with this e-mail already exists."))
    user = User(name=name, email=email, role=role)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


@refusals_roll_back
def set_staff_role(user_id: int, role: str, actor: User) -> None:
    if role not in ROLES:
        raise FieldError("role", _("Unknown role."))
    begin_write()
    user = get_or_404(User, user_id)
    if user.role == role:
        db.session.rollback()
        return
    if user.id == actor.id:
        raise FieldError("role", _("You can't change your own role: ask another owner."))
    if user.role == "owner" and user.active and _active_owners() <= 1:
        raise FieldError("role", _("The salon needs at least one owner."))
    user.role = role
    db.session.commit()


@refusals_roll_back
def set_staff_active(user_id: int, active: bool, actor: User) -> None:
    """Deactivate an account (it can't log in; its history stays) or reactivate it."""
    begin_write()
    user = get_or_404(User, user_id)
    if user.active == active:
        db.session.rollback()
        return
    if not active:
        if user.id == actor.id:
            raise ActionError(_("You can't deactivate your own account."))
        if user.role == "owner" and _active_owners() <= 1:
            raise ActionError(_("The salon needs at least one active owner."))
    user.active = active
    db.session.commit()


# ---- website widget ------------------------------------------------------------------------------

MAX_GREETING = 500


def widget_channels() -> list[Channel]:
    return db.session.scalars(select(Channel).where(Channel.kind == "widget").order_by(Channel.id)).all()


def _check_widget_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise FieldError("name", _("Enter a name staff will recognise, e.g. the site's address."))
    if len(name) > 120:
        raise FieldError("name", _("At most %(n)d characters.", n=120))
    return name


def _clean_origins(text: str) -> list[str]:
    origins: list[str] = []
    for raw in re.split(r"[\s,]+", text or ""):
        if not raw:
            continue
        origin = normalize_origin(raw)
        if origin is None:
            raise FieldError(
                "origins", _("“%(value)s” is not a site address: write it like https://salon.ru", value=raw)
            )
        if origin not in origins:
            origins.append(origin)
    return origins


@refusals_roll_back
def add_widget_channel(name: str) -> Channel:
    """A new website widget with default settings; its code is then pasted into the site."""
    name = _check_widget_name(name)
    begin_write()
    channel = Channel(
        kind="widget", name=name, uid=f"widget-{secrets.token_hex(6)}", settings=WidgetSettings().as_json()
    )
    db.session.add(channel)
    db.session.commit()
    return channel


@refusals_roll_back
def save_widget_settings(
    channel_id: int,
    name: str,
    color: str,
    greeting: str,
    origins: str,
    ask_name: bool,
    ask_phone: bool,
    contact_required: bool,
) -> Channel:
    """Name, colour, greeting, the sites allowed to embed it, and what the visitor is asked first."""
    name = _check_widget_name(name)
    color = (color or "").strip()
    if not COLOR_RE.fullmatch(color):
        raise FieldError("color", _("Choose a colour."))
    greeting = (greeting or "").strip()
    if len(greeting) > MAX_GREETING:
        raise FieldError("greeting", _("At most %(n)d characters.", n=MAX_GREETING))
    allowed = _clean_origins(origins)
    begin_write()
    channel = get_or_404(Channel, channel_id)
    if channel.kind != "widget":
        raise NotFound()
    channel.name = name
    channel.settings = WidgetSettings(
        color=color.lower(),
        greeting=greeting,
        ask_name=ask_name,
        ask_phone=ask_phone,
        contact_required=contact_required and (ask_name or ask_phone),
        origins=tuple(allowed),
    ).as_json()
    db.session.commit()
    return channel
