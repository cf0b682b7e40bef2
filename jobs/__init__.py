"""RQ entry points, keyed by ids, and the helpers that enqueue them.

Jobs are thin and idempotent: the database row holds the state, a job only advances it,
so a job that runs twice or is lost (Redis wiped) costs time, never a message. Functions
are enqueued by dotted name, so importing this package imports no job module.
"""

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps

from flask import Flask, current_app, has_app_context
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from services.redis import get_redis

log = logging.getLogger(__name__)

QUEUE = "okno"
DELIVERY_TIMEOUT = 120  # seconds a delivery job may run before RQ stops it
# a job still "started" this long after it began belongs to a worker that died
ABANDONED_AFTER = timedelta(seconds=DELIVERY_TIMEOUT + 60)
_LIVE = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED, JobStatus.STARTED}

_app: Flask | None = None


def set_app(app: Flask) -> None:
    """Use this app for jobs run in this process (the worker command passes its own)."""
    global _app
    _app = app


def with_app(func: Callable) -> Callable:
    """Run the job in an app context of its own, with a database session of its own.

    The app is the caller's when there is one (tests, the worker command), else one built
    once per process, never per job.
    """

    @wraps(func)
    def wrapper(*args, **kwargs):
        global _app
        if has_app_context():
            app = current_app._get_current_object()
        else:
            if _app is None:
                from app import create_app

                _app = create_app()
            app = _app
        with app.app_context():  # its teardown gives the job's session back
            return func(*args, **kwargs)

    return wrapper


def get_queue() -> Queue:
    return Queue(QUEUE, connection=get_redis())


def delivery_job_id(message_id: int, attempt: int = 1) -> str:
    """deliver-42 for the first try, deliver-42-3 for the third: a retry never reuses a running job's id."""
    return f"deliver-{message_id}" if attempt <= 1 else f"deliver-{message_id}-{attempt}"


def job_is_live(job_id: str) -> bool:
    """Whether a job with this id is waiting or running (a long-"started" one counts as dead)."""
    try:
        job = Job.fetch(job_id, connection=get_redis())
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=False)
    if status == JobStatus.STARTED and job.started_at:
        started = job.started_at if job.started_at.tzinfo else job.started_at.replace(tzinfo=UTC)
        return datetime.now(UTC) - started < ABANDONED_AFTER
    return status in _LIVE


def enqueue_delivery(message_id: int, attempt: int = 1, at: datetime | None = None) -> str | None:
    """Queue (or schedule, with `at`) the delivery of one message; the job id, or None if Redis is down.

    A message left queued is picked up by the reconciler, so a failure here only delays it.
    """
    job_id = delivery_job_id(message_id, attempt)
    options = {"job_id": job_id, "job_timeout": DELIVERY_TIMEOUT, "result_ttl": 0}
    try:
        queue = get_queue()
        if at is None:
            queue.enqueue("jobs.delivery.deliver_message", message_id, **options)
        else:
            queue.enqueue_at(at, "jobs.delivery.deliver_message", message_id, **options)
    except RedisError as exc:
        log.warning("outbox: message %s stays queued, Redis unavailable: %s", message_id, exc)
        return None
    return job_id


def schedule_wake(conversation_id: int, at: datetime) -> str | None:
    """Wake a snoozed conversation at `at`; None if Redis is down (the reconciler wakes it then).

    RQ keeps scheduled times in whole seconds, rounded down: a wake-up for 12:00:00.6 would
    run at 12:00:00, find the snooze not over yet and do nothing, and the conversation
    would sleep on until the reconciler. So the job is set for the next whole second.
    """
    if at.microsecond:
        at = at.replace(microsecond=0) + timedelta(seconds=1)
    job_id = f"wake-{conversation_id}-{int(at.timestamp())}"
    try:
        get_queue().enqueue_at(
            at, "jobs.snooze.wake_conversation", conversation_id, job_id=job_id, result_ttl=0
        )
    except RedisError as exc:
        log.warning("snooze: wake-up of %s not scheduled, Redis unavailable: %s", conversation_id, exc)
        return None
    return job_id


MEDIA_TIMEOUT = 300  # seconds a media download may run (large videos on a slow link)


def media_job_id(message_id: int, attempt: int = 1) -> str:
    return f"media-{message_id}" if attempt <= 1 else f"media-{message_id}-{attempt}"


def enqueue_media(message_id: int, attempt: int = 1, at: datetime | None = None) -> str | None:
    """Fetch the platform's files of one inbound message (now, or at `at`); None if Redis is down.

    The reconciler finds attachments still missing their file, so a failure here only delays them.
    """
    job_id = media_job_id(message_id, attempt)
    options = {"job_id": job_id, "job_timeout": MEDIA_TIMEOUT, "result_ttl": 0}
    try:
        if at is None:
            get_queue().enqueue("jobs.media.fetch_media", message_id, **options)
        else:
            get_queue().enqueue_at(at, "jobs.media.fetch_media", message_id, **options)
    except RedisError as exc:
        log.warning("media: message %s waits for its files, Redis unavailable: %s", message_id, exc)
        return None
    return job_id


# what a channel job does -> its function (jobs/channels.py)
CHANNEL_JOBS = {
    "setup": "jobs.channels.setup_channel",
    "check": "jobs.channels.check_channel",
    "resync": "jobs.channels.resync_channel",
}


def channel_job_id(action: str, channel_id: int) -> str:
    return f"channel-{action}-{channel_id}"


def enqueue_channel_job(action: str, channel_id: int) -> str | None:
    """Queue a channel's setup / check / resync unless one is waiting or running already.

    Returns the job id, or None when Redis is down (the page says the job could not start).
    """
    job_id = channel_job_id(action, channel_id)
    try:
        if job_is_live(job_id):
            return job_id
        get_queue().enqueue(
            CHANNEL_JOBS[action], channel_id, job_id=job_id, job_timeout=DELIVERY_TIMEOUT, result_ttl=0
        )
    except RedisError as exc:
        log.warning("channels: %s of channel %s not queued, Redis unavailable: %s", action, channel_id, exc)
        return None
    return job_id
