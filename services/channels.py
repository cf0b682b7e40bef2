"""Channels: credentials kept encrypted, health and sync bookkeeping, what adapters get."""

import base64
import hashlib
import json
import logging
import secrets

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from channels.base import ChannelRef, Health
from extensions import db
from models import CHANNEL_KINDS, Channel
from models.base import utcnow
from services import realtime
from services.db import begin_write
from services.errors import ActionError

log = logging.getLogger(__name__)

API_URL_SETTING = {
    "telegram": "TELEGRAM_API_URL",
    "whatsapp": "WHATSAPP_API_URL",
    "instagram": "INSTAGRAM_API_URL",
    "viber": "VIBER_API_URL",
    "vk": "VK_API_URL",
}


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"okno-channel-credentials:" + current_app.config["SECRET_KEY"].encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_credentials(credentials: dict) -> str:
    return _fernet().encrypt(json.dumps(credentials, sort_keys=True).encode()).decode()


def decrypt_credentials(token: str) -> dict:
    """The channel's credentials; {} when none are stored or SECRET_KEY changed since."""
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except (InvalidToken, ValueError):
        log.error("channel credentials can't be decrypted (was SECRET_KEY changed?)")
        return {}


def masked(value: str) -> str:
    """What settings show of a secret: its last four characters at most."""
    value = str(value or "")
    if not value:
        return ""
    return "••••" + (value[-4:] if len(value) > 8 else "")


def webhook_url(channel: Channel) -> str:
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/webhooks/{channel.uid}"


def channel_ref(channel: Channel) -> ChannelRef:
    setting = API_URL_SETTING.get(channel.kind)
    return ChannelRef(
        id=channel.id,
        kind=channel.kind,
        uid=channel.uid,
        settings=dict(channel.settings or {}),
        credentials=decrypt_credentials(channel.credentials),
        api_url=current_app.config[setting].rstrip("/") if setting else "",
        webhook_url=webhook_url(channel),
    )


def unusable_reason(channel: Channel) -> str | None:
    """Why nothing can be sent through this channel now (turned off, or broken), or None."""
    if not channel.enabled:
        return _("The channel is off.")
    if channel.broken:
        return _("The channel is broken: %(reason)s", reason=channel.health_reason or _("no reason given"))
    return None


def get_channel(channel_id: int) -> Channel:
    channel = db.session.get(Channel, channel_id)
    if channel is None:
        raise NotFound()
    return channel


def channel_by_uid(uid: str) -> Channel | None:
    return db.session.scalars(select(Channel).where(Channel.uid == uid)).first()


def create_channel(kind: str, name: str, credentials: dict, settings: dict | None = None) -> Channel:
    if kind not in CHANNEL_KINDS:
        raise ActionError(_("Unknown channel kind."))
    name = (name or "").strip()
    if not name:
        raise ActionError(_("Give the channel a name."))
    begin_write()
    channel = Channel(
        kind=kind,
        name=name[:120],
        uid=secrets.token_urlsafe(12).replace("_", "x").replace("-", "y"),
        credentials=encrypt_credentials({k: v for k, v in credentials.items() if v}),
        settings=settings or {},
    )
    db.session.add(channel)
    db.session.commit()
    return channel


def update_channel(
    channel_id: int,
    name: str | None = None,
    credentials: dict | None = None,
    settings: dict | None = None,
    enabled: bool | None = None,
) -> Channel:
    """Change a channel; a credential left blank keeps its stored value."""
    begin_write()
    channel = get_channel(channel_id)
    if name is not None:
        if not name.strip():
            raise ActionError(_("Give the channel a name."))
        channel.name = name.strip()[:120]
    if credentials:
        merged = decrypt_credentials(channel.credentials)
        merged.update({k: v for k, v in credentials.items() if v})
        channel.credentials = encrypt_credentials(merged)
    if settings is not None:
        channel.settings = {**(channel.settings or {}), **settings}
    if enabled is not None:
        channel.enabled = enabled
    realtime.publish("channel.updated", {"id": channel.id})
    db.session.commit()
    return channel


def record_health(channel_id: int, health: Health) -> None:
    """Store what a check found: "!" with the reason next to a broken channel's name."""
    begin_write()
    channel = get_channel(channel_id)
    channel.health = "ok" if health.ok else "broken"
    channel.health_reason = "" if health.ok else (health.reason or _("The platform refused."))[:1000]
    channel.health_checked_at = utcnow()
    realtime.publish("channel.updated", {"id": channel.id})
    db.session.commit()


def record_sync(channel_id: int, brought: int) -> None:
    begin_write()
    channel = get_channel(channel_id)
    channel.last_sync_at = utcnow()
    channel.settings = {**(channel.settings or {}), "last_sync_count": brought}
    db.session.commit()
