"""reconcile(): the outbox is the table, not the queue. Run at worker start and every minute.

reconcile_channels() runs with it: media still to fetch, and the scheduled channel checks.
"""

import logging
from datetime import timedelta

from redis.exceptions import RedisError

from extensions import db
from jobs import (
    channel_job_id,
    delivery_job_id,
    enqueue_channel_job,
    enqueue_delivery,
    enqueue_media,
    job_is_live,
    media_job_id,
    with_app,
)
from services import channel_setup, conversations, media, messaging

log = logging.getLogger(__name__)

# a reply younger than this may still be on its way into the queue (send_reply commits first)
STALE_AFTER = timedelta(minutes=1)
# how often each enabled messenger channel is checked; a broken one sooner, so it recovers fast
CHECK_EVERY = timedelta(minutes=10)
CHECK_BROKEN_EVERY = timedelta(minutes=2)


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


@with_app
def reconcile_channels() -> dict[str, int]:
    """Fetch again the media Redis lost, and queue the channel checks that are due.

    Each enabled messenger channel is checked every CHECK_EVERY (a broken one every
    CHECK_BROKEN_EVERY, so it recovers soon); the time of the last check is in the row,
    so a lost job only delays the next one.
    """
    missing_files = media.stale_media(STALE_AFTER)
    due = channel_setup.due_checks(CHECK_EVERY, CHECK_BROKEN_EVERY)
    db.session.rollback()
    fetches = checks = 0
    try:
        for message_id, attempt in missing_files:
            if not job_is_live(media_job_id(message_id, attempt)):
                fetches += enqueue_media(message_id, attempt=attempt) is not None
        for channel_id in due:
            if not job_is_live(channel_job_id("setup", channel_id)):
                checks += enqueue_channel_job("check", channel_id) is not None
    except RedisError as exc:
        log.warning("reconcile: media and channel checks not queued, Redis unavailable: %s", exc)
    if fetches:
        log.info("reconcile: queued %d media fetch(es) again", fetches)
    return {"media": fetches, "checks": checks}
