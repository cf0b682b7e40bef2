"""reconcile(): the outbox is the table, not the queue. Run at worker start and every minute."""

import logging
from datetime import timedelta

from redis.exceptions import RedisError

from extensions import db
from jobs import delivery_job_id, enqueue_delivery, job_is_live, with_app
from services import conversations, messaging

log = logging.getLogger(__name__)

# a reply younger than this may still be on its way into the queue (send_reply commits first)
STALE_AFTER = timedelta(minutes=1)


@with_app
def reconcile() -> dict[str, int]:
    """Wake overdue snoozes, and queue again every reply left queued without a live job.

    What Redis lost (flushed, restarted empty, a worker killed mid-job) is found here, so
    a lost job only delays a message or a wake-up. Snoozes are woken first: that needs
    only the database, and works while Redis is down.
    """
    woken = conversations.wake_overdue_snoozes()
    stale = messaging.stale_outbox(STALE_AFTER)
    db.session.rollback()
    requeued = 0
    try:
        for message_id, attempt in stale:
            if not job_is_live(delivery_job_id(message_id, attempt)):
                requeued += enqueue_delivery(message_id, attempt=attempt) is not None
    except RedisError as exc:
        log.warning("reconcile: outbox not checked, Redis unavailable: %s", exc)
    if woken or requeued:
        log.info("reconcile: woke %d conversation(s), queued %d message(s) again", woken, requeued)
    return {"woken": woken, "requeued": requeued}
