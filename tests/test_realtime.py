"""Realtime: events go out after commit (never on rollback), and the stream a staff tab holds."""

import json
import time

import pytest
from flask import g
from redis import Redis

from extensions import db
from models import RolePermission
from services import clients as client_svc
from services import conversations as svc
from services import realtime
from services.db import begin_write
from services.redis import get_redis
from tests.conftest import free_port
from tests.factories import make_channel, make_client, make_contact, make_conversation, make_user


class Listener:
    """Subscribes to every realtime channel, the way a browser's stream would, and collects events."""

    def __init__(self, app):
        self.pubsub = Redis.from_url(app.config["REDIS_URL"]).pubsub(ignore_subscribe_messages=True)
        self.pubsub.psubscribe("okno:sse:*")
        self.pubsub.get_message(timeout=1)  # the subscription confirmation

    def received(self, wait: float = 0.3) -> list[tuple[str, str, dict]]:
        """(channel, event type, data) of everything published within `wait` seconds."""
        found = []
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            raw = self.pubsub.get_message(timeout=left)
            if raw and raw["type"] == "pmessage":
                payload = json.loads(raw["data"])
                channel = raw["channel"].decode().removeprefix("okno:sse:")
                # a commit's events travel as one batch (a list); a single event as itself
                for item in payload if isinstance(payload, list) else [payload]:
                    found.append((channel, item.get("type"), item["data"]))
        return found

    def types(self, wait: float = 0.3) -> list[str]:
        return [event_type for _channel, event_type, _data in self.received(wait)]


@pytest.fixture
def listener(app):
    listener = Listener(app)
    yield listener
    listener.pubsub.close()


@pytest.fixture
def admin(app):
    return make_user(name="Анна Смирнова")


# --- publish after commit ----------------------------------------------------------------------


def test_event_waits_for_the_commit_then_goes_out(app, listener):
    conversation = make_conversation()
    begin_write()
    realtime.conversation_changed(conversation.id)
    assert listener.received(0.2) == []
    db.session.commit()
    assert listener.received() == [("staff", "conversation.updated", {"id": conversation.id})]


def test_nothing_is_published_when_the_transaction_rolls_back(app, listener):
    conversation = make_conversation()
    begin_write()
    realtime.conversation_changed(conversation.id, counts=True)
    db.session.rollback()
    db.session.commit()  # a later, unrelated commit must not carry the dropped events
    assert listener.received() == []


def test_closing_a_conversation_tells_every_inbox(app, listener, admin):
    conversation = make_conversation()
    svc.close_conversation(conversation.id, admin)
    assert listener.received() == [
        ("staff", "conversation.updated", {"id": conversation.id}),
        ("staff", "counts", {}),
    ]


def test_a_refused_action_publishes_nothing(app, listener, admin):
    conversation = make_conversation()
    with pytest.raises(Exception):  # noqa: B017 (ActionError: the point is what was not published)
        svc.assign_conversation(conversation.id, 987654, admin)
    db.session.rollback()
    assert listener.received() == []


def test_changing_a_clients_category_updates_every_conversation_of_that_client(app, listener, admin):
    client = make_client()
    first = make_conversation(client=client)
    second = make_conversation(channel="whatsapp", client=client)
    other = make_conversation()
    client_svc.set_client_category(client.id, "model", admin, conversation_id=first.id)
    updated = {data["id"] for _ch, kind, data in listener.received() if kind == "conversation.updated"}
    assert updated == {first.id, second.id}
    assert other.id not in updated


def test_linking_a_contact_updates_its_conversation(app, listener, admin):
    contact = make_contact(make_channel("telegram"), name="Ольга")
    conversation = make_conversation(contact=contact)
    client_svc.create_client_from_contact(contact.id, admin, conversation_id=conversation.id)
    assert ("staff", "conversation.updated", {"id": conversation.id}) in listener.received()


def test_a_write_still_succeeds_when_redis_is_unreachable(app, listener, admin):
    conversation = make_conversation()
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    svc.close_conversation(conversation.id, admin)
    db.session.expire_all()
    assert db.session.get(type(conversation), conversation.id).state == "closed"


# --- the stream --------------------------------------------------------------------------------

SSE = {"Accept": "text/event-stream"}


class Stream:
    """Reads an SSE response chunk by chunk, as the browser's EventSource would."""

    def __init__(self, response):
        self.response = response
        self.chunks = iter(response.response)

    def next(self) -> str:
        chunk = next(self.chunks)
        return chunk.decode() if isinstance(chunk, bytes) else chunk

    def close(self):
        self.response.close()


def forget_last_request() -> None:
    """Test requests share the test's app context, and with it `g`: the logged-in user and CSRF
    token Flask-Login and Flask-WTF cache there. A second staff member must not inherit them."""
    for name in list(g):
        g.pop(name)


@pytest.fixture
def open_stream(app, login_as):
    """Opens a staff member's stream; log everyone in first (the stream gives the session back)."""
    app.config["SSE_HEARTBEAT"] = 0.3
    opened = []

    def open_(staff, url="/stream") -> Stream:
        forget_last_request()
        stream = Stream(staff.get(url, headers=SSE))
        opened.append(stream)
        return stream

    yield open_
    for stream in opened:
        stream.close()


def test_a_logged_out_caller_gets_401_not_a_login_page(client):
    assert client.get("/stream").status_code == 401
    assert client.get("/stream", headers=SSE).status_code == 401


def test_a_role_without_chat_gets_403(app, login_as):
    assert not db.session.get(RolePermission, "master").may_chat
    master = make_user(role="master")
    assert login_as(master).get("/stream", headers=SSE).status_code == 403


def test_stream_starts_with_resync_and_is_never_buffered(app, login_as, open_stream, admin):
    stream = open_stream(login_as(admin))
    assert stream.response.status_code == 200
    assert stream.response.mimetype == "text/event-stream"
    assert stream.response.headers["X-Accel-Buffering"] == "no"
    assert "no-cache" in stream.response.headers["Cache-Control"]
    first = stream.next()
    assert first.startswith("event:resync\n")
    assert "retry:" in first


def test_an_idle_stream_sends_heartbeat_comments(app, login_as, open_stream, admin):
    stream = open_stream(login_as(admin))
    stream.next()
    started = time.monotonic()
    assert stream.next() == ": heartbeat\n\n"
    assert 0.2 <= time.monotonic() - started < 2


def test_a_committed_change_reaches_the_stream(app, login_as, open_stream, admin):
    conversation = make_conversation()
    stream = open_stream(login_as(admin))
    stream.next()
    svc.close_conversation(conversation.id, db.session.merge(admin))
    # the commit's events arrive together, in one chunk
    assert stream.next() == (
        f'event:conversation.updated\ndata:{{"id": {conversation.id}}}\n\nevent:counts\ndata:{{}}\n\n'
    )


def test_personal_events_reach_only_their_user(app, login_as, open_stream, admin):
    admin_id = admin.id
    me = login_as(admin)
    forget_last_request()
    colleague = login_as(make_user())
    mine, theirs = open_stream(me), open_stream(colleague)
    mine.next(), theirs.next()
    realtime.send_event(realtime.user_channel(admin_id), "counts", {})
    assert mine.next().startswith("event:counts\n")
    assert theirs.next() == ": heartbeat\n\n"


def test_the_channel_cannot_be_chosen_from_the_query_string(app, login_as, open_stream, admin):
    stream = open_stream(login_as(admin), "/stream?channel=visitor-1")
    stream.next()
    realtime.send_event(
        realtime.visitor_channel(1), "message.created", {"conversation_id": 1, "message_id": 1}
    )
    assert stream.next() == ": heartbeat\n\n"


def test_without_redis_the_stream_ends_asking_the_browser_to_come_back(app, login_as, admin):
    staff = login_as(admin)
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    response = staff.get("/stream", headers=SSE)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.startswith("retry:")
    assert "resync" not in body


def test_every_open_stream_of_a_process_shares_one_redis_subscription(app, login_as, open_stream, admin):
    conversation = make_conversation()
    staff = login_as(admin)
    streams = [open_stream(staff) for _ in range(5)]
    for stream in streams:
        assert stream.next().startswith("event:resync\n")
    redis = Redis.from_url(app.config["REDIS_URL"])
    # the tests' own listener fixtures are not in use here: what is subscribed is the process's hub
    assert redis.pubsub_numpat() == 1
    assert redis.pubsub_channels() == []
    svc.close_conversation(conversation.id, db.session.merge(admin))
    for stream in streams:
        assert stream.next().startswith("event:conversation.updated\n")


def test_redis_lost_mid_stream_ends_it_and_the_next_stream_works_once_redis_is_back(
    app, login_as, open_stream, admin, redis_server
):
    conversation = make_conversation()
    staff = login_as(admin)
    stream = open_stream(staff)
    assert stream.next().startswith("event:resync\n")
    redis_server.stop()
    try:
        # the browser is told nothing more: the stream ends, and EventSource comes back by itself
        with pytest.raises(StopIteration):
            while stream.next() == ": heartbeat\n\n":
                pass
    finally:
        redis_server.start()
    again = open_stream(staff)
    assert again.next().startswith("event:resync\n")
    svc.close_conversation(conversation.id, db.session.merge(admin))
    assert again.next().startswith("event:conversation.updated\n")


def test_a_stream_whose_tab_stopped_reading_is_ended_instead_of_piling_up_events(app, monkeypatch):
    monkeypatch.setattr(realtime._Hub, "MAX_BACKLOG", 5)
    stream = realtime.event_stream(get_redis(), [realtime.user_channel(4242)], heartbeat=30)
    assert next(stream).startswith("event:resync\n")
    # the tab reads nothing while 8 events come for it: 5 wait, then it is let go
    for n in range(8):
        realtime.send_event(realtime.user_channel(4242), "counts", {"n": n})
    deadline = time.monotonic() + 5
    while realtime._hub(get_redis())._listeners.get(b"okno:sse:user-4242") and time.monotonic() < deadline:
        time.sleep(0.05)
    received = [next(stream) for _ in range(5)]  # what had waited
    assert [json.loads(chunk.split("data:")[1])["n"] for chunk in received] == [0, 1, 2, 3, 4]
    with pytest.raises(StopIteration):  # then the end: the browser reconnects and resyncs
        next(stream)


# --- typing ------------------------------------------------------------------------------------


def test_typing_is_announced_to_colleagues_once_a_second(app, login_as, listener, admin):
    conversation = make_conversation()
    staff = login_as(admin)
    assert staff.post(f"/c/{conversation.id}/typing").status_code == 204
    assert staff.post(f"/c/{conversation.id}/typing").status_code == 204
    assert listener.received() == [
        (
            "staff",
            "typing",
            {"conversation_id": conversation.id, "user_id": admin.id, "name": "Анна Смирнова"},
        )
    ]
    time.sleep(1.05)
    staff.post(f"/c/{conversation.id}/typing")
    assert listener.types() == ["typing"]


def test_typing_in_a_widget_conversation_reaches_the_visitor(app, login_as, listener, admin):
    conversation = make_conversation(channel="widget")
    login_as(admin).post(f"/c/{conversation.id}/typing")
    received = listener.received()
    assert (
        f"visitor-{conversation.contact_id}",
        "typing",
        {"conversation_id": conversation.id, "name": "Анна"},
    ) in (received)


def test_typing_refusals(app, login_as, admin):
    conversation = make_conversation()
    staff = login_as(admin)
    assert staff.post("/c/987654/typing").status_code == 404
    assert staff.post(f"/c/{conversation.id}/typing", headers={"X-CSRFToken": "forged"}).status_code == 400
    staff.post("/logout", htmx=False)
    assert staff.post(f"/c/{conversation.id}/typing").status_code == 401


def test_typing_answers_while_redis_is_down(app, login_as, admin):
    conversation = make_conversation()
    staff = login_as(admin)
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    assert staff.post(f"/c/{conversation.id}/typing").status_code == 204
