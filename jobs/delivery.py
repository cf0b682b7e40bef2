"""deliver_message(message_id): hand one queued reply to its channel's adapter."""

import logging

from channels import get_adapter
from channels.base import BlockedError, PermanentError, TemporaryError
from extensions import db
from jobs import ABANDONED_AFTER, with_app
from services import inbound, messaging
from services.channel_setup import channel_send_refusal
from services.redis import get_redis

log = logging.getLogger(__name__)


@with_app
def deliver_message(message_id: int) -> str:
    """Send a queued message once: sent / failed with the reason / tried again later.

    Idempotent: a message no longer queued (sent, failed, not ours) is left alone, and a
    Redis lock keeps two workers that both got a job for it from sending it twice. No
    database transaction is open while the platform answers.
    """
    work = messaging.outbound_for(message_id)
    refusal = channel_send_refusal(work[0].id) if work else None
    db.session.rollback()
    if work is None:
        return "skipped"
    if refusal:  # the channel is off or broken: fail at once, with that reason, without a try
        messaging.mark_failed(message_id, refusal)
        return "failed"
    channel, outbound = work
    lock = f"okno:delivering:{message_id}"
    redis = get_redis()
    if not redis.set(lock, 1, nx=True, ex=int(ABANDONED_AFTER.total_seconds())):
        return "busy"
    try:
        try:
            result = get_adapter(channel.kind).send(channel, outbound)
        except TemporaryError as exc:
            at = messaging.postpone_delivery(message_id, exc.reason, exc.retry_after)
            return "retry" if at else "failed"
        except BlockedError as exc:
            messaging.mark_failed(message_id, exc.reason or str(inbound.BLOCKED_REASON))
            inbound.block_contact_of_message(message_id)
            return "blocked"
        except PermanentError as exc:
            messaging.mark_failed(message_id, exc.reason)
            return "failed"
        except Exception as exc:  # an adapter bug or an unforeseen network error: try again later
            log.exception("delivery of message %s failed unexpectedly", message_id)
            at = messaging.postpone_delivery(message_id, f"Unexpected error: {exc.__class__.__name__}")
            return "retry" if at else "failed"
        messaging.mark_sent(message_id, result)
        return result.status
    finally:
        redis.delete(lock)
