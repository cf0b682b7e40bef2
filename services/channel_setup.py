"""Messenger channels as the owner sets them up: credential forms, saving, Check and Sync now.

Saving never waits for a platform: it stores the channel and queues a setup job (register
the webhook where the platform needs us to, then check the credentials). The jobs call
the adapter and come back here (record_check, apply_resync, sync_failed) to store what
they found. A channel that is off or broken refuses sends with the reason
(services.channels.unusable_reason).
"""

import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from redis.exceptions import RedisError
from sqlalchemy import and_, or_, select
from werkzeug.exceptions import NotFound

from channels import get_adapter
from channels.base import ChannelRef, DeliveryError, Health, InboundMessage
from extensions import db
from jobs import channel_job_id, enqueue_channel_job, job_is_live
from models import Channel, Message
from models.base import utcnow
from services import channels, inbound
from services.errors import ActionError, FieldError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CredentialField:
    """One input of a kind's credential form. Secrets are stored encrypted and shown masked."""

    name: str  # the key in Channel.credentials, and the form input's name
    label: str
    secret: bool = True
    required: bool = True
    pattern: re.Pattern | None = None
    pattern_message: str = ""
    hint: str = ""


DIGITS = re.compile(r"\d{1,30}")
TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_ONLY_DIGITS = _l("Only digits: copy the number from the platform's dashboard.")

KIND_FIELDS: dict[str, tuple[CredentialField, ...]] = {
    "telegram": (
        CredentialField(
            "token",
            _l("Bot token"),
            pattern=re.compile(r"\d{3,20}:[A-Za-z0-9_-]{30,100}"),
            pattern_message=_l("A bot token looks like 123456789:AAE…: copy it from @BotFather whole."),
            hint=_l("@BotFather gives it when you create the bot (/newbot) or with /token."),
        ),
    ),
    "whatsapp": (
        CredentialField(
            "phone_number_id",
            _l("Phone number ID"),
            secret=False,
            pattern=DIGITS,
            pattern_message=_ONLY_DIGITS,
            hint=_l("Meta for Developers → WhatsApp → API Setup."),
        ),
        CredentialField("access_token", _l("Access token"), hint=_l("A permanent token of a system user.")),
        CredentialField("app_secret", _l("App secret"), hint=_l("App settings → Basic: signs the webhooks.")),
        CredentialField(
            "verify_token",
            _l("Verify token"),
            hint=_l("Any phrase; type the same one into the webhook settings at Meta."),
        ),
        CredentialField(
            "waba_id",
            _l("WhatsApp Business Account ID"),
            secret=False,
            required=False,
            pattern=DIGITS,
            pattern_message=_ONLY_DIGITS,
            hint=_l("Optional: lets Sync now fetch your approved message templates."),
        ),
    ),
    "viber": (
        CredentialField(
            "token",
            _l("Bot token"),
            hint=_l("Viber Admin Panel → your bot → Token."),
        ),
    ),
    "vk": (
        CredentialField(
            "group_id",
            _l("Community ID"),
            secret=False,
            pattern=DIGITS,
            pattern_message=_ONLY_DIGITS,
            hint=_l("Community management → Settings → API usage."),
        ),
        CredentialField(
            "access_token",
            _l("Community access key"),
            hint=_l("API usage → Access tokens; allow community messages."),
        ),
        CredentialField("secret", _l("Secret key"), hint=_l("Callback API → Server settings → Secret key.")),
        CredentialField(
            "confirmation",
            _l("Confirmation code"),
            secret=False,
            hint=_l("Callback API: “String to be returned”."),
        ),
    ),
    "instagram": (
        CredentialField(
            "ig_user_id",
            _l("Instagram account ID"),
            secret=False,
            pattern=DIGITS,
            pattern_message=_ONLY_DIGITS,
        ),
        CredentialField("access_token", _l("Access token")),
        CredentialField("app_secret", _l("App secret"), hint=_l("App settings → Basic: signs the webhooks.")),
        CredentialField(
            "verify_token",
            _l("Verify token"),
            hint=_l("Any phrase; type the same one into the webhook settings at Meta."),
        ),
    ),
}
MESSENGER_KINDS = tuple(KIND_FIELDS)
KIND_LABELS = {
    "telegram": "Telegram",
    "whatsapp": "WhatsApp",
    "viber": "Viber",
    "vk": _l("VK community"),
    "instagram": "Instagram",
    "widget": _l("Website chat"),
    "email": _l("E-mail"),
}
# settings the owner sets on the form: a check reporting the mode in effect doesn't overwrite them
OWNER_SETTINGS = frozenset({"mode"})
TELEGRAM_MODES = {
    "webhook": _l("Webhook: Telegram posts each message to us (needs an https address)"),
    "polling": _l("Polling: we ask Telegram for new messages (works without a public address)"),
}


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


# --- when a channel can't carry messages -------------------------------------------------


def channel_send_refusal(channel_id: int) -> str | None:
    """Why a send through this channel must fail at once (off, broken), or None: the delivery
    job asks before calling the platform."""
    channel = db.session.get(Channel, channel_id)
    return channels.unusable_reason(channel) if channel is not None else None


# --- the forms ------------------------------------------------------------------------------


def _check_kind(kind: str) -> tuple[CredentialField, ...]:
    if kind not in KIND_FIELDS:
        raise FieldError("kind", _("Unknown channel kind."))
    return KIND_FIELDS[kind]


def check_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise FieldError("name", _("Give the channel a name."))
    if len(name) > 120:
        raise FieldError("name", _("At most 120 characters."))
    return name


def clean_credentials(kind: str, values: Mapping, creating: bool) -> dict:
    """The credentials typed in, checked; a blank one is left out (on edit: the stored one stays)."""
    cleaned = {}
    for spec in _check_kind(kind):
        value = str(values.get(spec.name) or "").strip()
        if not value:
            if creating and spec.required:
                raise FieldError(spec.name, _("Fill in “%(label)s”.", label=spec.label))
            continue
        if len(value) > 1000:
            raise FieldError(spec.name, _("This is too long to be a real %(label)s.", label=spec.label))
        if spec.pattern is not None and not spec.pattern.fullmatch(value):
            raise FieldError(spec.name, str(spec.pattern_message))
        cleaned[spec.name] = value
    return cleaned


def clean_settings(kind: str, values: Mapping) -> dict:
    """The kind's plain settings from the form: Telegram's mode."""
    if kind != "telegram":
        return {}
    mode = str(values.get("mode") or "webhook")
    if mode not in TELEGRAM_MODES:
        raise FieldError("mode", _("Choose how Telegram delivers messages."))
    return {"mode": mode}


def new_credentials(kind: str, values: Mapping) -> dict:
    """Everything a new channel stores: what was typed, plus the secrets we make ourselves."""
    credentials = clean_credentials(kind, values, creating=True)
    if kind == "telegram":
        # Telegram repeats it in the X-Telegram-Bot-Api-Secret-Token header of every update
        secret = str(values.get("secret") or "").strip() or secrets.token_urlsafe(32)
        if not TELEGRAM_SECRET.fullmatch(secret):
            raise FieldError("secret", _("The webhook secret may hold 1-256 letters, digits, _ and -."))
        credentials["secret"] = secret
    return credentials


def try_credentials(kind: str, credentials: dict, settings: dict) -> Health:
    """Ask the platform whether credentials work before anything is saved (the CLI's `channels add`)."""
    unsaved = Channel(
        kind=kind, uid="", credentials=channels.encrypt_credentials(credentials), settings=settings
    )
    return ask_health(channels.channel_ref(unsaved))


def ask_health(ref: ChannelRef) -> Health:
    """The adapter's health check; a refusal, an unreachable platform or an adapter bug is "broken"."""
    try:
        return get_adapter(ref.kind).check_health(ref)
    except DeliveryError as exc:
        return Health(ok=False, reason=exc.reason or exc.__class__.__name__)
    except Exception as exc:  # an adapter bug must not leave the channel looking healthy
        log.exception("health check of channel %s failed unexpectedly", ref.id)
        return Health(ok=False, reason=_("The check failed: %(error)s", error=exc.__class__.__name__))


def queue_setup(channel_id: int) -> str | None:
    """Queue the setup job (webhook registration, check); None when Redis is down."""
    return enqueue_channel_job("setup", channel_id)


def add_channel(kind: str, name: str, values: Mapping) -> Channel:
    """A new messenger channel from the owner's form; its setup (webhook, check) runs in a job."""
    _check_kind(kind)
    name = check_name(name)
    channel = channels.create_channel(kind, name, new_credentials(kind, values), clean_settings(kind, values))
    enqueue_channel_job("setup", channel.id)
    return channel


def edit_channel(channel_id: int, name: str, values: Mapping) -> Channel:
    """Save the edit form: blank credentials keep their stored values; setup runs again in a job."""
    channel = channels.get_channel(channel_id)
    kind = channel.kind
    db.session.rollback()
    name = check_name(name)
    credentials = clean_credentials(kind, values, creating=False)
    channel = channels.update_channel(channel_id, name, credentials, clean_settings(kind, values))
    enqueue_channel_job("setup", channel_id)
    return channel


def set_channel_enabled(channel_id: int, enabled: bool) -> Channel:
    """Turn a channel off (sends through it fail at once with that reason) or on again (checked anew)."""
    channel = channels.update_channel(channel_id, enabled=enabled)
    if enabled:
        enqueue_channel_job("check", channel_id)
    return channel


def request_check(channel_id: int) -> None:
    """The Check button: ask the platform in a job whether the credentials and webhook work."""
    channel = channels.get_channel(channel_id)
    db.session.rollback()
    if channel.kind not in MESSENGER_KINDS:
        raise ActionError(_("This channel has nothing to check."))
    if enqueue_channel_job("check", channel_id) is None:
        raise ActionError(
            _("The check could not start: the job queue is unavailable. Try again in a minute.")
        )


def request_sync(channel_id: int) -> None:
    """Sync now: fetch in a job what the platform still holds since the last sync."""
    channel = channels.get_channel(channel_id)
    db.session.rollback()
    if channel.kind not in MESSENGER_KINDS:
        raise ActionError(_("This channel has nothing to sync."))
    if not channel.enabled:
        raise ActionError(_("The channel is off: turn it on to sync it."))
    if enqueue_channel_job("resync", channel_id) is None:
        raise ActionError(_("Sync could not start: the job queue is unavailable. Try again in a minute."))


def registers_webhook(kind: str) -> bool:
    """Whether saving the channel tells the platform where to post (Telegram setWebhook, or
    deleteWebhook in polling mode; Viber set_webhook). Others take the URL in their dashboard."""
    return kind in ("telegram", "viber")


def telegram_polls(channel: Channel | ChannelRef) -> bool:
    """A Telegram channel whose updates are fetched by polling: asked for, or no https address."""
    https = current_app.config["PUBLIC_URL"].startswith("https://")
    return channel.kind == "telegram" and ((channel.settings or {}).get("mode") == "polling" or not https)


# --- what the jobs found ----------------------------------------------------------------------


def record_check(channel_id: int, health: Health) -> None:
    """Store a check's result; what the platform told about the channel (the bot's username) goes
    into its settings, except what the owner chooses on the form."""
    channels.record_health(channel_id, health)
    facts = {k: v for k, v in (health.details or {}).items() if k not in OWNER_SETTINGS}
    if facts:
        channels.update_channel(channel_id, settings=facts)


def apply_resync(channel_id: int, events: list) -> int:
    """Feed what a resync fetched through the inbound path; returns how many messages were new."""
    ids = {e.external_message_id for e in events if isinstance(e, InboundMessage)}
    known: set[str] = set()
    listed = sorted(ids)
    for start in range(0, len(listed), 500):
        known.update(
            db.session.scalars(
                select(Message.external_id).where(
                    Message.channel_id == channel_id, Message.external_id.in_(listed[start : start + 500])
                )
            )
        )
    db.session.rollback()
    inbound.handle_events(channel_id, events)
    brought = len(ids - known)
    channels.record_sync(channel_id, brought)
    channels.update_channel(channel_id, settings={"last_sync_error": ""})
    return brought


def sync_failed(channel_id: int, reason: str) -> None:
    """The platform refused the sync: the page says why; the last successful sync time stays."""
    channels.update_channel(channel_id, settings={"last_sync_error": (reason or _("The sync failed."))[:500]})


# --- what the settings pages show ----------------------------------------------------------


@dataclass
class FieldView:
    spec: CredentialField
    value: str  # what the input holds: a plain value, never a stored secret
    stored: str  # a secret as settings show it: masked


@dataclass
class ChannelView:
    channel: Channel
    webhook_url: str
    pending: set[str] = field(default_factory=set)  # "setup", "check", "resync" waiting or running
    fields: list[FieldView] = field(default_factory=list)
    polls: bool = False  # a Telegram channel fetching its updates by polling

    @property
    def last_sync_count(self) -> int | None:
        return (self.channel.settings or {}).get("last_sync_count")

    @property
    def last_sync_error(self) -> str:
        return (self.channel.settings or {}).get("last_sync_error") or ""

    @property
    def checking(self) -> bool:
        return bool(self.pending & {"setup", "check"})

    @property
    def syncing(self) -> bool:
        return "resync" in self.pending


def _pending(channel_id: int) -> set[str]:
    try:
        return {a for a in ("setup", "check", "resync") if job_is_live(channel_job_id(a, channel_id))}
    except RedisError:
        return set()


def all_channels() -> list[Channel]:
    """Every channel, messengers first, by name."""
    return list(
        db.session.scalars(select(Channel).order_by(Channel.kind == "widget", Channel.name, Channel.id))
    )


def channel_views() -> list[ChannelView]:
    """Every channel for the settings list, each with its webhook URL and the jobs it has running."""
    return [ChannelView(c, channels.webhook_url(c), _pending(c.id)) for c in all_channels()]


def channel_view(channel_id: int) -> ChannelView:
    """One messenger channel for its page: the form's fields with secrets masked. NotFound otherwise."""
    channel = channels.get_channel(channel_id)
    if channel.kind not in MESSENGER_KINDS:
        raise NotFound()
    stored = channels.decrypt_credentials(channel.credentials)
    fields = []
    for spec in KIND_FIELDS[channel.kind]:
        value = str(stored.get(spec.name) or "")
        if spec.secret:
            fields.append(FieldView(spec, "", channels.masked(value)))
        else:
            fields.append(FieldView(spec, value, ""))
    return ChannelView(
        channel,
        channels.webhook_url(channel),
        _pending(channel.id),
        fields,
        telegram_polls(channel),
    )


def form_fields(kind: str) -> list[FieldView]:
    """The empty credential form of a kind (the Add page)."""
    return [FieldView(spec, "", "") for spec in _check_kind(kind)]


def due_checks(every_ok: timedelta, every_broken: timedelta, limit: int = 100) -> list[int]:
    """Enabled messenger channels whose last check is older than its interval (broken ones sooner).

    A channel with no credentials stored (the demo's) has nothing to check with.
    """
    now = utcnow()
    c = Channel
    return list(
        db.session.scalars(
            select(c.id)
            .where(
                c.enabled.is_(True),
                c.kind.in_(MESSENGER_KINDS),
                c.credentials != "",
                or_(
                    c.health_checked_at.is_(None),
                    c.health_checked_at < now - every_ok,
                    and_(c.health == "broken", c.health_checked_at < now - every_broken),
                ),
            )
            .order_by(c.id)
            .limit(limit)
        )
    )
