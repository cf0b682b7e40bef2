"""Channel jobs: setup_channel, check_channel, resync_channel (by channel id).

Each asks the platform through the channel's adapter with no transaction open, then
stores what it found through services.channel_setup. A platform that refuses or can't be
reached makes the channel "broken" with the reason; the next check clears it.
"""

import logging

from flask_babel import gettext as _

from channels import get_adapter
from channels.base import ChannelRef, DeliveryError, Health
from extensions import db
from jobs import with_app
from models import Channel
from services import channel_setup
from services.channels import channel_ref

log = logging.getLogger(__name__)


def _ref(channel_id: int) -> ChannelRef | None:
    channel = db.session.get(Channel, channel_id)
    ref = channel_ref(channel) if channel is not None else None
    db.session.rollback()  # nothing held while the platform answers
    return ref


def _check(ref: ChannelRef) -> str:
    health = channel_setup.ask_health(ref)
    channel_setup.record_check(ref.id, health)
    return "ok" if health.ok else "broken"


@with_app
def check_channel(channel_id: int) -> str:
    """The Check button and the scheduled check: ok / broken (with the platform's reason)."""
    ref = _ref(channel_id)
    if ref is None:
        return "missing"
    return _check(ref)


@with_app
def setup_channel(channel_id: int) -> str:
    """After a save: tell the platform our webhook URL where it needs us to, then check."""
    ref = _ref(channel_id)
    if ref is None:
        return "missing"
    if channel_setup.registers_webhook(ref.kind):
        try:
            get_adapter(ref.kind).register_webhook(ref)
        except DeliveryError as exc:
            reason = _("The webhook could not be registered: %(reason)s", reason=exc.reason)
            channel_setup.record_check(ref.id, Health(ok=False, reason=reason))
            return "broken"
    return _check(ref)


@with_app
def resync_channel(channel_id: int) -> str:
    """Sync now: what the platform still holds since the last sync, through the inbound path
    (which stores each message once); then the health is checked again."""
    channel = db.session.get(Channel, channel_id)
    since = channel.last_sync_at if channel is not None else None
    ref = _ref(channel_id)
    if ref is None:
        return "missing"
    try:
        events = get_adapter(ref.kind).resync(ref, since)
    except DeliveryError as exc:
        channel_setup.sync_failed(ref.id, exc.reason)
        _check(ref)
        return "failed"
    except Exception as exc:
        log.exception("resync of channel %s failed unexpectedly", ref.id)
        channel_setup.sync_failed(ref.id, _("The sync failed: %(error)s", error=exc.__class__.__name__))
        return "failed"
    brought = channel_setup.apply_resync(ref.id, events)
    _check(ref)
    return f"brought {brought}"
