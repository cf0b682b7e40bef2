"""The website widget, visitor side: sessions and tokens, history, posts, CORS, limits, the live stream,
and the owner's widget settings page."""

import json
import threading
import time
from types import SimpleNamespace

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import func, select

from extensions import db
from jobs.delivery import deliver_message
from models import Channel, Contact, Conversation, Message
from services import messaging
from services.conversations import add_note, close_conversation
from services.widget import issue_token
from tests.conftest import free_port
from tests.factories import make_channel, make_user
from tests.test_realtime import Listener, Stream

SITE = "https://salon.example"


@pytest.fixture
def admin(app):
    return make_user(name="Анна Смирнова")


@pytest.fixture
def widget(app):
    return make_channel(
        "widget",
        name="salon.example",
        settings={"color": "#0f766e", "greeting": "Здравствуйте!", "origins": [SITE]},
    )


def start(client, channel, expect=201, **fields) -> str:
    response = client.post(f"/widget/{channel.uid}/session", json=fields)
    assert response.status_code == expect, response.get_json()
    return response.get_json().get("token")


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def write(client, channel, token, text="Можно записаться на завтра?", client_id=None, **kw):
    body = {"text": text}
    if client_id:
        body["client_id"] = client_id
    return client.post(f"/widget/{channel.uid}/messages", json=body, headers=bearer(token), **kw)


def history(client, channel, token, **args):
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return client.get(f"/widget/{channel.uid}/messages?{query}", headers=bearer(token))


def conversation_of(token_owner_contact_id: int) -> Conversation:
    db.session.rollback()
    return db.session.scalars(
        select(Conversation).where(Conversation.contact_id == token_owner_contact_id)
    ).one()


def contact_id_of(client, channel, token) -> int:
    message_id = write(client, channel, token, "Привет").get_json()["message"]["id"]
    db.session.rollback()
    return db.session.get(Conversation, db.session.get(Message, message_id).conversation_id).contact_id


# --- sessions and tokens -------------------------------------------------------------------------


def test_a_visitor_who_gives_a_name_and_phone_is_shown_to_staff_as_unverified(client, widget):
    token = start(client, widget, name="  Марина  ", phone="8 903 555-12-34")
    write(client, widget, token)
    contact = db.session.scalars(select(Contact).where(Contact.channel_id == widget.id)).one()
    assert (contact.display_name, contact.phone) == ("Марина", "+79035551234")
    assert contact.given_by_visitor is True
    assert contact.client_id is None  # never linked by itself, even if a client has this phone


def test_a_visitor_may_skip_the_introduction(client, widget):
    token = start(client, widget)
    assert write(client, widget, token).status_code == 201
    contact = db.session.scalars(select(Contact).where(Contact.channel_id == widget.id)).one()
    assert (contact.display_name, contact.phone, contact.given_by_visitor) == ("", None, False)


def test_a_phone_that_is_no_phone_is_refused_with_the_reason(client, widget):
    response = client.post(f"/widget/{widget.uid}/session", json={"name": "Марина", "phone": "12"})
    assert response.status_code == 400
    assert "phone" in response.get_json()["error"]
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0


def test_when_the_owner_requires_a_name_the_visitor_cannot_skip(client, widget):
    widget.settings = {**widget.settings, "ask_phone": False, "contact_required": True}
    db.session.commit()
    refused = client.post(f"/widget/{widget.uid}/session", json={})
    assert refused.status_code == 400
    assert "name" in refused.get_json()["error"]
    assert start(client, widget, name="Марина")


def test_a_body_that_is_no_json_object_gets_400_with_the_reason(client, widget):
    response = client.post(
        f"/widget/{widget.uid}/session", data="[1, 2]", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "JSON object" in response.get_json()["error"]


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "eyJ2IjoxLCJjIjoxfQ.forged.signature"],
    ids=["missing", "garbage", "forged"],
)
def test_a_missing_or_forged_token_is_refused(client, widget, token):
    response = client.get(f"/widget/{widget.uid}/messages", headers=bearer(token) if token else {})
    assert response.status_code == 403
    assert response.get_json()["error"]


def test_a_token_signed_with_another_key_is_refused(app, client, widget):
    token = start(client, widget)
    app.config["SECRET_KEY"] = "another-installation"
    assert history(client, widget, token).status_code == 403


def test_a_token_of_one_widget_does_not_open_another(client, widget):
    other = make_channel("widget", settings={"origins": [SITE]})
    token = start(client, widget)
    write(client, widget, token)
    assert history(client, other, token).status_code == 403
    assert write(client, other, token).status_code == 403


def test_unknown_and_non_widget_channels_are_404(client):
    telegram = make_channel("telegram")
    assert client.get("/widget/no-such-widget/config").status_code == 404
    assert client.get(f"/widget/{telegram.uid}/config").status_code == 404
    assert client.post(f"/widget/{telegram.uid}/session", json={}).status_code == 404


def test_a_disabled_widget_is_gone(client, widget):
    widget.enabled = False
    db.session.commit()
    assert client.get(f"/widget/{widget.uid}/config").status_code == 404


# --- messages and history ----------------------------------------------------------------------------


def test_a_visitor_message_arrives_in_the_inbox_as_unanswered(client, widget):
    token = start(client, widget, name="Марина")
    listener = Listener(client.application)
    response = write(client, widget, token, "Есть время на маникюр сегодня?")
    assert response.status_code == 201
    sent = response.get_json()["message"]
    assert (sent["direction"], sent["text"], sent["state"]) == (
        "in",
        "Есть время на маникюр сегодня?",
        "sent",
    )
    conversation = db.session.scalars(select(Conversation).where(Conversation.channel_id == widget.id)).one()
    assert conversation.unread_count == 1 and conversation.state == "open"
    assert ("staff", "conversation.updated", {"id": conversation.id}) in listener.received()


def test_a_retried_post_with_the_same_client_id_is_stored_once(client, widget):
    token = start(client, widget)
    first = write(client, widget, token, "Здравствуйте", client_id="retry-0001").get_json()["message"]
    again = write(client, widget, token, "Здравствуйте", client_id="retry-0001").get_json()["message"]
    assert first["id"] == again["id"]
    assert first["client_id"] == "retry-0001"
    assert db.session.scalar(select(func.count()).select_from(Message)) == 1
    assert db.session.scalars(select(Conversation)).one().unread_count == 1


def test_two_visitors_with_the_same_client_id_each_keep_their_own_message(client, widget):
    mine, theirs = start(client, widget), start(client, widget)
    a = write(client, widget, mine, "Моё", client_id="same-id-123").get_json()["message"]
    b = write(client, widget, theirs, "Чужое", client_id="same-id-123").get_json()["message"]
    assert a["id"] != b["id"]
    assert b["text"] == "Чужое"


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"text": "   "}, "empty"),
        ({"text": "x" * 4001}, "too long"),
        ({"text": "Привет", "client_id": "bad id!"}, "message id"),
        ({"text": 42}, "must be text"),
    ],
    ids=["empty", "too-long", "bad-client-id", "not-text"],
)
def test_a_bad_message_is_refused_with_the_reason(client, widget, body, reason):
    token = start(client, widget)
    response = client.post(f"/widget/{widget.uid}/messages", json=body, headers=bearer(token))
    assert response.status_code == 400
    assert reason in response.get_json()["error"]
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_history_shows_the_visitors_messages_and_replies_but_never_notes_or_events(client, widget, admin):
    token = start(client, widget)
    write(client, widget, token, "Сколько стоит стрижка?")
    conversation = db.session.scalars(select(Conversation)).one()
    add_note(conversation.id, admin, "Постоянная клиентка, скидка 10%")
    reply = messaging.send_reply(conversation.id, admin, "От 1800 ₽")
    close_conversation(conversation.id, admin)  # an event, too
    found = history(client, widget, token).get_json()["messages"]
    assert [(m["direction"], m["text"]) for m in found] == [
        ("in", "Сколько стоит стрижка?"),
        ("out", "От 1800 ₽"),
    ]
    assert found[1]["author"] == "Анна"  # first name only: the surname stays inside
    assert found[1]["id"] == reply.id


def test_a_reply_that_failed_is_not_shown_to_the_visitor(client, widget, admin):
    token = start(client, widget)
    write(client, widget, token)
    conversation = db.session.scalars(select(Conversation)).one()
    reply = messaging.send_reply(conversation.id, admin, "Не дойдёт")
    messaging.mark_failed(reply.id, "Realtime unavailable")
    assert [m["direction"] for m in history(client, widget, token).get_json()["messages"]] == ["in"]


def test_a_returning_visitor_sees_their_history_and_asks_only_for_what_is_newer(client, widget, admin):
    token = start(client, widget)
    first = write(client, widget, token, "Первое").get_json()["message"]
    write(client, widget, token, "Второе")
    assert [m["text"] for m in history(client, widget, token).get_json()["messages"]] == ["Первое", "Второе"]
    newer = history(client, widget, token, after=first["id"]).get_json()["messages"]
    assert [m["text"] for m in newer] == ["Второе"]
    assert history(client, widget, token, after="soon").status_code == 400


def test_a_visitor_only_ever_reads_their_own_conversation(client, widget):
    mine, theirs = start(client, widget), start(client, widget)
    write(client, widget, mine, "Мой секрет")
    write(client, widget, theirs, "Их секрет")
    assert [m["text"] for m in history(client, widget, mine).get_json()["messages"]] == ["Мой секрет"]
    assert [m["text"] for m in history(client, widget, theirs).get_json()["messages"]] == ["Их секрет"]
    assert history(client, widget, start(client, widget)).get_json()["messages"] == []


def test_a_day_old_token_gets_a_fresh_one_with_the_history(client, widget, monkeypatch):
    now = int(time.time())
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now - 2 * 86400)
    old = start(client, widget)
    monkeypatch.undo()
    fresh = history(client, widget, old).get_json()["token"]
    assert fresh != old
    assert "token" not in history(client, widget, fresh).get_json()


def test_a_token_older_than_a_year_is_refused(client, widget, monkeypatch):
    now = int(time.time())
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now - 366 * 86400)
    old = start(client, widget)
    monkeypatch.undo()
    assert history(client, widget, old).status_code == 403


def test_replies_the_open_widget_showed_read_as_read_for_staff(client, widget, admin):
    token = start(client, widget)
    write(client, widget, token)
    conversation = db.session.scalars(select(Conversation)).one()
    reply = messaging.send_reply(conversation.id, admin, "Ждём вас")
    listener = Listener(client.application)
    response = client.post(f"/widget/{widget.uid}/read", json={"up_to": reply.id}, headers=bearer(token))
    assert response.get_json() == {"read": 1}
    db.session.rollback()
    assert db.session.get(Message, reply.id).delivery_status == "read"
    assert ("staff", "message.updated", {"conversation_id": conversation.id, "message_id": reply.id}) in (
        listener.received()
    )
    assert deliver_message(reply.id) == "skipped"  # read already: nothing left to deliver


# --- CORS ----------------------------------------------------------------------------------------


def test_an_allowed_site_gets_cors_headers(client, widget):
    response = client.get(f"/widget/{widget.uid}/config", headers={"Origin": SITE})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    assert "Origin" in response.headers["Vary"]


def test_a_preflight_from_an_allowed_site_is_answered(client, widget):
    response = client.options(
        f"/widget/{widget.uid}/messages",
        headers={
            "Origin": SITE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]


def test_another_site_gets_no_cors_headers_and_is_refused(client, widget):
    for method, path in (("get", "config"), ("post", "session"), ("options", "messages")):
        response = getattr(client, method)(
            f"/widget/{widget.uid}/{path}", headers={"Origin": "https://evil.test"}
        )
        assert response.status_code == 403, path
        assert "Access-Control-Allow-Origin" not in response.headers
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0


def test_okno_itself_is_always_an_allowed_origin(client, widget):
    response = client.get(f"/widget/{widget.uid}/config", headers={"Origin": "http://localhost"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost"


def test_origins_compare_as_browsers_send_them(client):
    channel = make_channel("widget", settings={"origins": ["https://salon.example"]})
    ok = client.get(f"/widget/{channel.uid}/config", headers={"Origin": "https://SALON.example:443"})
    other_port = client.get(f"/widget/{channel.uid}/config", headers={"Origin": "https://salon.example:8443"})
    plain_http = client.get(f"/widget/{channel.uid}/config", headers={"Origin": "http://salon.example"})
    assert (ok.status_code, other_port.status_code, plain_http.status_code) == (200, 403, 403)


# --- limits and faults ----------------------------------------------------------------------------


def test_posts_are_limited_per_visitor(app, client, widget):
    app.config["WIDGET_POSTS_PER_MINUTE"] = 3
    greedy, calm = start(client, widget), start(client, widget)
    codes = [write(client, widget, greedy, f"Сообщение {i}").status_code for i in range(4)]
    assert codes == [201, 201, 201, 429]
    assert "minute" in write(client, widget, greedy, "ещё").get_json()["error"]
    assert write(client, widget, calm, "А я только начала").status_code == 201


def test_new_sessions_are_limited_per_address(app, client, widget):
    app.config["WIDGET_SESSIONS_PER_MINUTE"] = 2
    codes = [client.post(f"/widget/{widget.uid}/session", json={}).status_code for _ in range(3)]
    assert codes == [201, 201, 429]


def test_a_visitor_message_is_stored_while_redis_is_down(app, client, widget):
    token = start(client, widget)
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    assert write(client, widget, token, "Redis спит").status_code == 201
    assert db.session.scalars(select(Message)).one().text == "Redis спит"


def test_fifty_concurrent_posts_are_all_stored_once_and_in_order(app, client, widget):
    app.config["WIDGET_POSTS_PER_MINUTE"] = 1000
    token = start(client, widget)
    # the threads must not touch the test's own ORM objects (its session is not theirs)
    channel = SimpleNamespace(uid=widget.uid)
    senders, each = 10, 5
    barrier = threading.Barrier(senders)
    failures: list[str] = []

    def sender(n: int) -> None:
        http = app.test_client()
        barrier.wait()
        for i in range(each):
            for _attempt in range(2):  # every post is retried once, as a flaky network would
                with app.app_context():
                    response = write(http, channel, token, f"{n}-{i}", client_id=f"sender-{n}-msg-{i}")
                if response.status_code != 201:
                    failures.append(f"{n}-{i}: {response.status_code} {response.get_data(as_text=True)}")

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []

    db.session.rollback()
    stored = db.session.scalars(select(Message).order_by(Message.id)).all()
    texts = [m.text for m in stored]
    assert len(texts) == senders * each == len(set(texts))
    for n in range(senders):  # each sender's messages in the order it sent them
        assert [t for t in texts if t.startswith(f"{n}-")] == [f"{n}-{i}" for i in range(each)]
    times = [m.created_at for m in stored]
    assert times == sorted(times)  # the dialog order and the clock agree
    conversation = db.session.scalars(select(Conversation)).one()
    assert conversation.unread_count == senders * each
    assert conversation.last_message_preview == stored[-1].text
    assert [m["text"] for m in history(client, widget, token).get_json()["messages"]] == texts


# --- the live stream ------------------------------------------------------------------------------


@pytest.fixture
def open_stream(app):
    app.config["SSE_HEARTBEAT"] = 0.3
    opened: list[Stream] = []

    def open_(client, channel, token) -> Stream:
        stream = Stream(client.get(f"/widget/{channel.uid}/stream?token={token}"))
        opened.append(stream)
        return stream

    yield open_
    for stream in opened:
        stream.close()


def events_until(stream: Stream, event_type: str, limit: int = 20) -> list[str]:
    seen = []
    for _ in range(limit):
        chunk = stream.next()
        seen.append(chunk)
        if chunk.startswith(f"event:{event_type}\n"):
            return seen
    raise AssertionError(f"no {event_type} in {seen}")


def test_the_visitor_stream_starts_with_resync_and_brings_a_delivered_reply(
    client, widget, admin, open_stream
):
    token = start(client, widget)
    write(client, widget, token, "Можно на завтра?")
    conversation = db.session.scalars(select(Conversation)).one()
    stream = open_stream(client, widget, token)
    assert stream.response.status_code == 200
    assert stream.response.headers["X-Accel-Buffering"] == "no"
    assert stream.next().startswith("event:resync\n")

    reply = messaging.send_reply(conversation.id, admin, "Да, в 15:00")
    assert deliver_message(reply.id) == "delivered"
    created = events_until(stream, "message.created")[-1]
    data = json.loads(created.split("data:", 1)[1])
    assert data == {"conversation_id": conversation.id, "message_id": reply.id}
    found = history(client, widget, token, after=data["message_id"] - 1).get_json()["messages"]
    assert [(m["text"], m["state"]) for m in found] == [("Да, в 15:00", "delivered")]


def test_a_visitors_own_message_reaches_their_other_open_tab(client, widget, open_stream):
    token = start(client, widget)
    stream = open_stream(client, widget, token)
    stream.next()
    sent = write(client, widget, token, "Можно на завтра?").get_json()["message"]
    created = events_until(stream, "message.created")[-1]
    assert json.loads(created.split("data:", 1)[1])["message_id"] == sent["id"]


def test_staff_typing_reaches_the_visitor_with_the_first_name_only(
    client, widget, admin, login_as, open_stream
):
    token = start(client, widget)
    write(client, widget, token)
    conversation = db.session.scalars(select(Conversation)).one()
    staff = login_as(admin)
    stream = open_stream(client, widget, token)
    stream.next()
    staff.post(f"/c/{conversation.id}/typing")
    typing = events_until(stream, "typing")[-1]
    assert json.loads(typing.split("data:", 1)[1])["name"] == "Анна"
    assert "Смирнова" not in typing


def test_a_visitor_stream_never_carries_another_visitors_events(client, widget, admin, open_stream):
    mine, theirs = start(client, widget), start(client, widget)
    write(client, widget, mine)
    write(client, widget, theirs)
    their_conversation = conversation_of(
        db.session.scalars(select(Contact).where(Contact.channel_id == widget.id).order_by(Contact.id))
        .all()[1]
        .id
    )
    stream = open_stream(client, widget, mine)
    stream.next()
    reply = messaging.send_reply(their_conversation.id, admin, "Это не вам")
    deliver_message(reply.id)
    assert stream.next() == ": heartbeat\n\n"


def test_the_stream_is_refused_without_a_valid_token(client, widget):
    assert client.get(f"/widget/{widget.uid}/stream").status_code == 403
    assert client.get(f"/widget/{widget.uid}/stream?token=forged").status_code == 403


def test_a_token_names_its_visitor_not_one_chosen_in_the_query(client, widget, open_stream):
    mine, theirs = start(client, widget), start(client, widget)
    their_id = contact_id_of(client, widget, theirs)
    stream = open_stream(client, widget, f"{mine}&contact={their_id}&channel=visitor-{their_id}")
    stream.next()
    from services import realtime

    realtime.send_event(realtime.visitor_channel(their_id), "message.created", {"message_id": 1})
    assert stream.next() == ": heartbeat\n\n"


def test_a_token_for_a_contact_of_another_channel_is_refused(client, widget):
    other = make_channel("widget")
    stranger = Contact(channel_id=other.id, external_id="visitor-x")
    db.session.add(stranger)
    db.session.commit()
    forged_here = issue_token(stranger)
    assert history(client, widget, forged_here).status_code == 403


# --- the script, the config, the demo -------------------------------------------------------------


def test_the_script_knows_its_own_endpoints(client, widget):
    response = client.get(f"/widget/{widget.uid}/widget.js")
    assert response.status_code == 200
    assert response.mimetype == "application/javascript"
    source = response.get_data(as_text=True)
    assert f'"uid": "{widget.uid}"' in source
    assert f'"api": "http://localhost/widget/{widget.uid}/"' in source
    assert "/*OKNO_BOOT*/" not in source
    assert "attachShadow" in source


def test_the_config_carries_the_salons_name_colour_greeting_and_questions(client, widget):
    config = client.get(f"/widget/{widget.uid}/config?lang=en").get_json()
    assert config["color"] == "#0f766e"
    assert config["greeting"] == "Здравствуйте!"
    assert (config["ask_name"], config["ask_phone"], config["contact_required"]) == (True, True, False)
    assert config["max_upload_bytes"] == 10 * 1024 * 1024
    assert "image/png" in config["accept"]
    assert config["strings"]["send"] == "Send"
    assert config["title"]


def test_an_empty_greeting_falls_back_to_the_standard_one(client):
    channel = make_channel("widget")
    assert client.get(f"/widget/{channel.uid}/config?lang=en").get_json()["greeting"].startswith("Hello")


def test_the_demo_page_embeds_the_demo_widget_from_the_same_origin(client):
    make_channel("widget", name="Другой сайт")
    demo = make_channel("widget", name="Сайт салона")
    demo.uid = "demo-widget"
    db.session.commit()
    html = client.get("/widget/demo").get_data(as_text=True)
    assert '<script src="http://localhost/widget/demo-widget/widget.js" async></script>' in html
    same_origin = client.get("/widget/demo-widget/config", headers={"Origin": "http://localhost"})
    assert same_origin.status_code == 200


def test_the_demo_page_without_a_widget_says_how_to_add_one(client):
    response = client.get("/widget/demo")
    assert response.status_code == 200
    assert "<script src=" not in response.get_data(as_text=True).split("</style>")[-1]


# --- the owner's widget settings ----------------------------------------------------------------------


@pytest.fixture
def owner(app, login_as):
    return login_as(make_user(role="owner", name="Ольга Владелица"))


def test_the_owner_sees_the_embed_code_built_from_the_public_url(app, owner, widget):
    app.config["PUBLIC_URL"] = "https://okno.salon.example/"
    html = owner.get("/settings/widget").get_data(as_text=True)
    snippet = (
        f'&lt;script src="https://okno.salon.example/widget/{widget.uid}/widget.js" async&gt;&lt;/script&gt;'
    )
    assert snippet in html


def test_the_owner_saves_colour_greeting_origins_and_questions(owner, widget):
    response = owner.post(
        f"/settings/widget/{widget.id}",
        data={
            "name": "Наш сайт",
            "color": "#1D4ED8",
            "greeting": "Добрый день!",
            "origins": "https://Salon.example/\nhttps://www.salon.example:443, https://salon.example",
            "ask_name": "1",
        },
        htmx=False,
    )
    assert response.status_code == 303
    db.session.rollback()
    saved = db.session.get(Channel, widget.id)
    assert saved.name == "Наш сайт"
    assert saved.settings == {
        "color": "#1d4ed8",
        "greeting": "Добрый день!",
        "ask_name": True,
        "ask_phone": False,
        "contact_required": False,
        "origins": ["https://salon.example", "https://www.salon.example"],
    }


def test_an_origin_that_is_no_site_address_is_refused_next_to_the_field(owner, widget):
    response = owner.post(
        f"/settings/widget/{widget.id}",
        data={"name": "Сайт", "color": "#1d4ed8", "origins": "salon.example/contacts"},
        htmx=False,
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="widget-{widget.id}-origins-error"' in html
    assert "salon.example/contacts" in html
    db.session.rollback()
    assert db.session.get(Channel, widget.id).settings["origins"] == [SITE]


def test_the_owner_adds_a_widget_with_its_own_code(owner):
    response = owner.post("/settings/widget", data={"name": "salon.example"}, htmx=False)
    assert response.status_code == 303
    channel = db.session.scalars(select(Channel).where(Channel.kind == "widget")).one()
    assert channel.uid.startswith("widget-")
    assert f"/widget/{channel.uid}/widget.js" in owner.get("/settings/widget").get_data(as_text=True)


def test_only_the_owner_may_change_the_widget(login_as, widget):
    admin = login_as(make_user(role="admin"))
    assert admin.get("/settings/widget").status_code == 403
    assert (
        admin.post(f"/settings/widget/{widget.id}", data={"name": "x", "color": "#000000"}).status_code == 403
    )


def test_a_changed_setting_reaches_the_widget_at_once(owner, client, widget):
    owner.post(
        f"/settings/widget/{widget.id}",
        data={"name": "Сайт", "color": "#b91c1c", "origins": "https://new-site.example"},
        htmx=False,
    )
    assert client.get(f"/widget/{widget.uid}/config").get_json()["color"] == "#b91c1c"
    assert client.get(f"/widget/{widget.uid}/config", headers={"Origin": SITE}).status_code == 403
    allowed = client.get(f"/widget/{widget.uid}/config", headers={"Origin": "https://new-site.example"})
    assert allowed.status_code == 200
