"""fetch_media(message_id): download the files a client sent through a messenger."""

import logging

from channels import get_adapter
from channels.base import PermanentError, TemporaryError
from extensions import db
from jobs import MEDIA_TIMEOUT, with_app
from services import media
from services.attachments import UploadRefused, store_fetched
from services.redis import get_redis

log = logging.getLogger(__name__)


@with_app
def fetch_media(message_id: int) -> str:
    """Fetch every attachment of the message still missing its file, and keep it.

    Idempotent: an attachment that has its file is skipped, and a Redis lock keeps two
    jobs for the same message from downloading at once. No transaction is open while
    the platform answers. A temporary refusal stops the round and schedules the next one
    (what was fetched stays); a permanent one is noted on the message, and the rest go on.
    """
    work = media.pending_media(message_id)
    db.session.rollback()
    if work is None:
        return "nothing"
    channel, items = work
    lock = f"okno:fetching-media:{message_id}"
    redis = get_redis()
    if not redis.set(lock, 1, nx=True, ex=MEDIA_TIMEOUT + 60):
        return "busy"
    fetched_count = 0
    try:
        for attachment_id, url in items:
            try:
                fetched = get_adapter(channel.kind).fetch_media(channel, url)
                stored = store_fetched(fetched.content, fetched.filename, fetched.content_type)
            except TemporaryError as exc:
                at = media.postpone_media(message_id, exc.reason, exc.retry_after)
                return "retry" if at else "failed"
            except PermanentError as exc:
                media.media_failed(message_id, exc.reason)
                continue
            except UploadRefused as exc:
                media.media_failed(message_id, str(exc))
                continue
            except Exception as exc:  # an adapter bug or an unforeseen network error: try again later
                log.exception("fetching media of message %s failed unexpectedly", message_id)
                at = media.postpone_media(message_id, f"Unexpected error: {exc.__class__.__name__}")
                return "retry" if at else "failed"
            fetched_count += media.save_media(attachment_id, stored)
    finally:
        redis.delete(lock)
    return f"fetched {fetched_count}"
