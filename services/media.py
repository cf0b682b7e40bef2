"""Files clients sent through a messenger: fetched from the platform by a job, kept like uploads.

receive_message keeps the platform's links in Message.data["media_urls"] (in attachment
order) and queues jobs.media.fetch_media. The job downloads each file still missing and
stores it here; a temporary refusal is tried again with backoff, a permanent one leaves
the attachment in place with the reason in Message.data["media_error"].
"""

from datetime import datetime, timedelta

from sqlalchemy import select
from werkzeug.exceptions import NotFound

from channels.base import ChannelRef
from extensions import db
from jobs import enqueue_media
from models import Attachment, Channel, Message
from models.base import utcnow
from services.attachments import StoredUpload
from services.channels import channel_ref
from services.db import begin_write
from services.messaging import message_updated, retry_at

MAX_ATTEMPTS = 6
# seconds before attempt 2, 3, ...: the platform's retry_after wins when longer
BACKOFF = (15, 60, 300, 1200, 3600)
# platforms keep files for days at least; after that a link is not worth asking again
FETCH_WITHIN = timedelta(days=7)


def pending_media(message_id: int) -> tuple[ChannelRef, list[tuple[int, str]]] | None:
    """The channel and the (attachment id, platform link) pairs still to fetch, or None."""
    message = db.session.get(Message, message_id)
    if message is None or message.direction != "in":
        return None
    data = message.data or {}
    if data.get("media_error"):
        return None
    urls = data.get("media_urls") or []
    pairs = zip(message.attachments, urls, strict=False)
    items = [(a.id, url) for a, url in pairs if url and not a.storage_path]
    if not items:
        return None
    return channel_ref(db.session.get(Channel, message.channel_id)), items


def _message(message_id: int) -> Message:
    message = db.session.get(Message, message_id)
    if message is None:
        raise NotFound()
    return message


def save_media(attachment_id: int, stored: StoredUpload) -> bool:
    """Attach a fetched file to its attachment row; False when it had one already (a job ran twice)."""
    begin_write()
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or attachment.storage_path:
        db.session.rollback()
        return False
    attachment.storage_path = stored.storage_path
    attachment.size = stored.size
    attachment.content_type = stored.content_type
    if not attachment.filename:
        attachment.filename = stored.filename
    message_updated(_message(attachment.message_id))
    db.session.commit()
    return True


def media_failed(message_id: int, reason: str) -> None:
    """The platform won't give the file: the attachment stays, staff see why it has no file."""
    begin_write()
    message = _message(message_id)
    message.data = {**(message.data or {}), "media_error": (reason or "The file could not be fetched.")[:500]}
    message_updated(message)
    db.session.commit()


def postpone_media(message_id: int, reason: str, retry_after: float | None = None) -> datetime | None:
    """A temporary refusal: try again later with backoff; None once attempts ran out (failed)."""
    begin_write()
    message = _message(message_id)
    data = dict(message.data or {})
    attempts = int(data.get("media_attempts") or 0) + 1
    if attempts >= MAX_ATTEMPTS:
        db.session.rollback()
        media_failed(message_id, reason)
        return None
    at = retry_at(attempts, BACKOFF, retry_after)
    message.data = {**data, "media_attempts": attempts, "media_last_error": reason[:500]}
    db.session.commit()
    enqueue_media(message_id, attempt=attempts + 1, at=at)
    return at


def stale_media(older_than: timedelta, limit: int = 200) -> list[tuple[int, int]]:
    """Inbound messages whose files are still missing `older_than` after they came, and not given
    up on: (message id, next attempt number), for the reconciler."""
    now = utcnow()
    rows = db.session.execute(
        select(Message.id, Message.data)
        .where(
            Message.id.in_(select(Attachment.message_id).where(Attachment.storage_path == "")),
            Message.direction == "in",
            Message.created_at < now - older_than,
            Message.created_at > now - FETCH_WITHIN,
        )
        .order_by(Message.id)
        .limit(limit)
    ).all()
    return [
        (message_id, int(data.get("media_attempts") or 0) + 1)
        for message_id, data in rows
        if (data or {}).get("media_urls") and not data.get("media_error")
    ]
