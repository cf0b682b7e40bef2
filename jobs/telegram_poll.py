"""The `telegram-poll` process: long-polling getUpdates for Telegram bots without a webhook.

A channel polls when its settings say "mode": "polling", or when PUBLIC_URL is not https
(Telegram posts webhooks to https only). Updates go through the same inbound path as the
webhook (services.inbound.handle_events), which stores each message once.

The offset lives in Redis only: Telegram forgets an update once getUpdates is called with
a higher offset, so a lost offset brings back just the updates not yet confirmed, and the
inbound path dedupes them. The process never exits on its own (the Procfile would stop the
whole stack): with no polling channel it sleeps quietly and looks again now and then.
"""

import logging
import signal
import threading

from flask import Flask
from sqlalchemy import select

from channels.base import DeliveryError, MalformedPayload, PermanentError
from channels.telegram import POLL_TIMEOUT, adapter, events_from_update, is_polling
from extensions import db
from models import Channel
from services import inbound
from services.channels import channel_ref
from services.redis import get_redis

log = logging.getLogger(__name__)

IDLE_SECONDS = 30  # how often to look for polling channels when there are none
ERROR_SECONDS = 10  # pause after a failure (the platform, Redis or the database)
REFUSED_SECONDS = 60  # pause after Telegram refused for good (a revoked token)
CONFLICT = "webhook is active"  # getUpdates refused while a webhook is set (error 409)


def offset_key(channel_id: int) -> str:
    return f"okno:telegram:offset:{channel_id}"


def polling_channel_ids() -> list[int]:
    """Enabled Telegram channels with a bot token that get their updates by polling."""
    rows = db.session.scalars(
        select(Channel).where(Channel.kind == "telegram", Channel.enabled.is_(True)).order_by(Channel.id)
    ).all()
    refs = [channel_ref(c) for c in rows]
    db.session.rollback()
    return [ref.id for ref in refs if ref.credentials.get("token") and is_polling(ref)]


def poll_once(channel_id: int, timeout: int = 0) -> int:
    """One getUpdates call for one channel, its updates fed to the inbound path; how many updates.

    Each update is applied before the offset moves past it, so a crash repeats an update
    (stored once) rather than losing it. An update we can't read is logged and skipped:
    it must not block the ones behind it.
    """
    channel = db.session.get(Channel, channel_id)
    if channel is None:
        return 0
    ref = channel_ref(channel)
    db.session.rollback()  # nothing held while Telegram holds the call open
    redis = get_redis()
    stored = redis.get(offset_key(channel_id))
    offset = int(stored) if stored else None
    try:
        updates = adapter.get_updates(ref, offset=offset, timeout=timeout)
    except PermanentError as exc:
        if CONFLICT in exc.reason:  # a webhook left from before: polling can't start until it's gone
            log.warning("telegram channel %s: deleting the webhook so polling can start", channel_id)
            adapter.call(ref, "deleteWebhook", {"drop_pending_updates": False})
            return 0
        raise
    for update in updates:
        try:
            inbound.handle_events(channel_id, events_from_update(update))
        except MalformedPayload as exc:
            log.warning(
                "telegram channel %s: update %s skipped: %s", channel_id, update.get("update_id"), exc
            )
        except Exception:
            db.session.rollback()
            log.exception("telegram channel %s: update %s failed", channel_id, update.get("update_id"))
        if isinstance(update.get("update_id"), int):
            redis.set(offset_key(channel_id), update["update_id"] + 1)
    return len(updates)


def poll_round(app: Flask) -> float | None:
    """Poll every polling channel once; the seconds to wait before the next round, None when no
    channel polls (the caller idles)."""
    with app.app_context():
        ids = polling_channel_ids()
        if not ids:
            return None
        # one channel may hold the call open; several take turns with short calls
        timeout = POLL_TIMEOUT if len(ids) == 1 else 2
        failures = []
        for channel_id in ids:
            try:
                poll_once(channel_id, timeout)
            except DeliveryError as exc:
                log.warning("telegram channel %s: polling failed: %s", channel_id, exc.reason)
                failures.append(exc)
        if len(failures) < len(ids):
            return 0
        # nothing got through: don't hammer Telegram (a refused token won't work in ten seconds either)
        refused = all(isinstance(exc, PermanentError) for exc in failures)
        return REFUSED_SECONDS if refused else ERROR_SECONDS


def run_poller(app: Flask, once: bool = False, stop: threading.Event | None = None) -> None:
    """Poll until stopped (SIGTERM / SIGINT, or `stop`); `once`: one round, then return.

    A signal ends the process at once, even inside a long-poll: a write it interrupts rolls
    back, and an update applied before its offset was saved comes again and is stored once.
    """
    stop = stop or threading.Event()
    if not once and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _exit)
    idle_logged = False
    while not stop.is_set():
        try:
            pause = poll_round(app)
        except Exception:  # the database or Redis is away: wait and try again, never exit
            log.exception("telegram polling: round failed")
            if once:
                return
            stop.wait(ERROR_SECONDS)
            continue
        if once:
            return
        if pause is not None:
            idle_logged = False
            if pause:
                stop.wait(pause)
            continue
        if not idle_logged:
            log.info("telegram polling: no channel polls; looking again every %s s", IDLE_SECONDS)
            idle_logged = True
        stop.wait(IDLE_SECONDS)


def _exit(signum, frame):
    raise SystemExit(0)
