"""Realtime: small events naming what changed, published after commit, relayed to browsers over SSE.

Built on flask-sse's wire format (its `Message`, JSON in Redis pub/sub), with its gaps closed:
one shared Redis connection pool (services.redis), channels chosen by the server from who is
logged in, a heartbeat comment so a closed tab frees its thread, and a `resync` event first on
every connection so a browser that missed events re-fetches what it shows.

Events (type -> data): `conversation.updated` {id}, `message.created` {conversation_id,
message_id, direction, assignee_id, with_bot}, `message.updated` {conversation_id, message_id} (delivery
status), `typing` {conversation_id, user_id, name}, `counts` {} (the header badges changed).
"""

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from queue import Empty, SimpleQueue

from flask import Response, current_app
from flask_sse import Message as SSEMessage
from redis import Redis
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from werkzeug.exceptions import NotFound

from extensions import db
from models import Conversation, User
from services.redis import get_redis

log = logging.getLogger(__name__)

STAFF = "staff"
_PENDING = "realtime_pending"
# how long a browser waits before reconnecting after the stream ended (milliseconds)
RECONNECT_MS = 3000


def user_channel(user_id: int) -> str:
    return f"user-{user_id}"


def visitor_channel(contact_id: int) -> str:
    return f"visitor-{contact_id}"


def staff_channels(user: User) -> list[str]:
    """What a staff member's stream listens to: everything the inbox shows, and their own."""
    return [STAFF, user_channel(user.id)]


def _redis_key(channel: str) -> str:
    # pub/sub ignores the database number: keep clear of anything else on the same server
    return f"okno:sse:{channel}"


def _encode(event_type: str, data: dict) -> str:
    return json.dumps(SSEMessage(data, type=event_type).to_dict())


def send_event(channel: str, event_type: str, data: dict) -> None:
    """Publish now, whatever the transaction; raises RedisError (callers that must know, e.g. adapters)."""
    get_redis().publish(_redis_key(channel), _encode(event_type, data))


def publish(event_type: str, data: dict, channel: str = STAFF) -> None:
    """Publish once the current transaction commits; dropped if it rolls back.

    Call it inside the write transaction (after begin_write). With no transaction open
    there is nothing to wait for, and the event goes out at once. A Redis outage is
    logged and ignored: the write is what matters, and browsers resync on reconnect.
    """
    item = (channel, event_type, data)
    session = db.session()
    if not session.in_transaction():
        _send_all([item])
        return
    pending = session.info.setdefault(_PENDING, [])
    if item not in pending:
        pending.append(item)


def conversation_changed(conversation_id: int, counts: bool = False) -> None:
    """The list row (and an open dialog) of this conversation should be re-fetched; `counts` too."""
    publish("conversation.updated", {"id": conversation_id})
    if counts:
        publish("counts", {})


def _send_all(items: list[tuple[str, str, dict]]) -> None:
    """One Redis message per channel for all the events of one commit.

    A reply or a client message names three changes (the message, the row, the counts);
    sent as one batch, each open stream wakes once and writes them in one chunk, which
    is what keeps the cost per message flat as streams are added.
    """
    batches: dict[str, list[dict]] = {}
    for channel, event_type, data in items:
        batches.setdefault(channel, []).append(SSEMessage(data, type=event_type).to_dict())
    try:
        pipe = get_redis().pipeline(transaction=False)
        for channel, events in batches.items():
            pipe.publish(_redis_key(channel), json.dumps(events if len(events) > 1 else events[0]))
        pipe.execute()
    except RedisError as exc:
        log.warning("realtime: %d event(s) not published, Redis unavailable: %s", len(items), exc)


@event.listens_for(OrmSession, "after_commit")
def _publish_after_commit(session) -> None:
    items = session.info.pop(_PENDING, None)
    if items:
        _send_all(items)


@event.listens_for(OrmSession, "after_transaction_end")
def _drop_after_rollback(session, transaction) -> None:
    # after_commit already took what a commit published; what is left belonged to a rollback
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def announce_typing(conversation_id: int, user: User) -> None:
    """ "Anna is typing...": to colleagues, and to a widget visitor; at most once a second per user."""
    conversation = db.session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound()
    try:
        first = get_redis().set(f"okno:typing:{user.id}:{conversation.id}", 1, nx=True, px=1000)
        if not first:
            return
        send_event(
            STAFF, "typing", {"conversation_id": conversation.id, "user_id": user.id, "name": user.name}
        )
        if conversation.channel.kind == "widget":
            send_event(
                visitor_channel(conversation.contact_id),
                "typing",
                {"conversation_id": conversation.id, "name": user.first_name},
            )
    except RedisError as exc:
        log.info("realtime: typing not announced, Redis unavailable: %s", exc)


class _Hub:
    """One Redis subscription per process, shared by every stream the process serves.

    A subscription of its own per stream made every open tab read, parse and format each
    event for itself (20 staff tabs: 20 times per message). The hub reads an event once,
    formats its SSE text once and hands that text to the streams listening on its channel;
    each stream thread only wakes and writes. It subscribes to every realtime channel (a
    pattern), so a stream joining never waits for a subscription of its own. When Redis
    fails the hub ends every stream (the browsers come back and resync) and the next stream
    to open starts it again.
    """

    # events waiting for one stream whose browser stopped reading: past this, that stream is ended
    MAX_BACKLOG = 1000
    POLL = 1.0  # seconds between checks of a quiet subscription

    def __init__(self, redis: Redis):
        self.redis = redis
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._listeners: dict[bytes, set[SimpleQueue]] = {}
        self._thread: threading.Thread | None = None

    def join(self, channels: list[str]) -> SimpleQueue:
        """A queue that receives the SSE text of every event on `channels`; raises RedisError."""
        queue: SimpleQueue = SimpleQueue()
        with self._lock:
            if self._thread is None:
                self._start()
            for channel in channels:
                self._listeners.setdefault(_redis_key(channel).encode(), set()).add(queue)
        return queue

    def leave(self, channels: list[str], queue: SimpleQueue) -> None:
        with self._lock:
            for channel in channels:
                key = _redis_key(channel).encode()
                listeners = self._listeners.get(key)
                if listeners is not None:
                    listeners.discard(queue)
                    if not listeners:
                        del self._listeners[key]

    def _start(self) -> None:
        pubsub = self.redis.pubsub()
        try:
            pubsub.psubscribe(_redis_key("*"))
            # the subscription is in force once Redis confirms it: only then may a stream say resync
            deadline = time.monotonic() + 5
            while True:
                raw = pubsub.get_message(timeout=max(deadline - time.monotonic(), 0))
                if raw is not None and raw["type"] == "psubscribe":
                    break
                if time.monotonic() >= deadline:
                    raise RedisTimeoutError("no confirmation of the subscription")
        except BaseException:
            pubsub.close()
            raise
        self._thread = threading.Thread(target=self._run, args=(pubsub,), name="sse-hub", daemon=True)
        self._thread.start()

    def _run(self, pubsub) -> None:
        try:
            while True:
                raw = pubsub.get_message(timeout=self.POLL)
                if raw is None or raw["type"] != "pmessage":
                    continue
                with self._lock:
                    queues = list(self._listeners.get(raw["channel"], ()))
                if queues:
                    self._hand_out(queues, _sse_text(raw["data"]))
        except RedisError as exc:
            log.info("realtime: streams ended, Redis unavailable: %s", exc)
        except Exception:
            log.exception("realtime: streams ended")
        finally:
            with self._lock:
                ended = {queue for listeners in self._listeners.values() for queue in listeners}
                self._listeners.clear()
                self._thread = None
            for queue in ended:
                queue.put(None)
            try:
                pubsub.close()
            except RedisError:
                pass

    def _hand_out(self, queues: list[SimpleQueue], text: str) -> None:
        for queue in queues:
            if queue.qsize() < self.MAX_BACKLOG:
                queue.put(text)
                continue
            with self._lock:  # a tab that stopped reading: end its stream, it resyncs when back
                for listeners in self._listeners.values():
                    listeners.discard(queue)
            queue.put(None)


_hubs: dict[int, _Hub] = {}
_hubs_lock = threading.Lock()


def _hub(redis: Redis) -> _Hub:
    """The hub of this process for this Redis client (a forked child makes its own)."""
    with _hubs_lock:
        hub = _hubs.get(id(redis))
        if hub is None or hub.pid != os.getpid() or hub.redis is not redis:
            hub = _hubs[id(redis)] = _Hub(redis)
        return hub


def _sse_text(raw: bytes) -> str:
    payload = json.loads(raw)
    # one event, or the batch of one commit (see _send_all)
    batch = payload if isinstance(payload, list) else [payload]
    return "".join(str(SSEMessage(**item)) for item in batch)


def event_stream(redis: Redis, channels: list[str], heartbeat: float) -> Iterator[str]:
    """SSE text for one browser: `resync` first, then every event on `channels`, comments when idle.

    Needs no app or request context (the request is gone while this runs). Joins the
    process's subscription before sending `resync`, so nothing published between the
    browser's re-fetch and the join is missed. Ends when Redis fails: the browser
    reconnects by itself after RECONNECT_MS and gets a fresh `resync`.
    """
    hub = _hub(redis)
    try:
        queue = hub.join(channels)
    except RedisError as exc:
        log.info("realtime: stream refused, Redis unavailable: %s", exc)
        yield str(SSEMessage("", retry=RECONNECT_MS))
        return
    try:
        yield str(SSEMessage({}, type="resync", retry=RECONNECT_MS))
        last_write = time.monotonic()
        while True:
            wait = heartbeat - (time.monotonic() - last_write)
            if wait <= 0:
                yield ": heartbeat\n\n"
                last_write = time.monotonic()
                continue
            try:
                text = queue.get(timeout=wait)
            except Empty:
                continue
            if text is None:
                return
            yield text
            last_write = time.monotonic()
    finally:
        hub.leave(channels, queue)


def sse_response(events: Iterator[str]) -> Response:
    """An event stream as the browser's EventSource reads it: never cached, never buffered by a proxy.

    The stream needs the database only to know who is asking: the session's connection is
    given back before the first event, not held for the hours a tab stays open.
    """
    db.session.remove()
    response = Response(events, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def open_stream(user: User) -> Iterator[str]:
    """The event stream of a logged-in staff member: their channels only, never one they asked for."""
    return event_stream(get_redis(), staff_channels(user), current_app.config.get("SSE_HEARTBEAT", 15))
