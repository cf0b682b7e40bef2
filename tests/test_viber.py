"""Viber bots: signed callbacks from Viber's documented examples in, send_message to a stand-in out.

The stand-in (pytest-httpserver) plays chatapi.viber.com/pa: it checks the token header
and the JSON we send, and answers with Viber's own status codes.
"""

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from sqlalchemy import select

import jobs.media
from blueprints.media import media_url
from channels import get_adapter
from channels.base import ChannelRef, PermanentError
from extensions import db
from jobs.delivery import deliver_message
from models import Attachment, Contact, Conversation, Message
from services import bot, messaging
from services.channels import channel_ref, encrypt_credentials
from tests.factories import committed, make_channel, make_conversation, make_message, make_user

TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
PAYLOADS = Path(__file__).parent / "payloads" / "viber"
CLIENT_ID = "01234567890A="  # sender.id in the payloads
OUR_TOKEN = "5741311803571721200"  # the message_token of our reply in delivered/seen/failed
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def viber(app, httpserver):
    app.config["VIBER_API_URL"] = httpserver.url_for("/pa")
    app.config["PUBLIC_URL"] = "https://salon.example"
    return make_channel(
        kind="viber",
        credentials=encrypt_credentials({"token": TOKEN}),
        settings={"account_name": "Салон Окно", "account_avatar": "https://salon.example/logo.jpg"},
    )


@pytest.fixture
def admin(app):
    return make_user(name="Анна Смирнова")


def payload(name: str, **changes) -> bytes:
    data = json.loads((PAYLOADS / name).read_text())
    data.update(changes)
    return json.dumps(data, ensure_ascii=False).encode()


def sign(body: bytes, token: str = TOKEN) -> str:
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def post(client, channel, body: bytes, signature: str | None = "valid"):
    headers = {"Content-Type": "application/json"}
    if signature == "valid":
        signature = sign(body)
    if signature is not None:
        headers["X-Viber-Content-Signature"] = signature
    return client.post(f"/webhooks/{channel.uid}", data=body, headers=headers)


def client_messages(channel) -> list[Message]:
    db.session.rollback()
    return db.session.scalars(
        select(Message)
        .where(Message.channel_id == channel.id, Message.direction == "in")
        .order_by(Message.id)
    ).all()


def contact_of(channel, external_id: str = CLIENT_ID) -> Contact | None:
    db.session.rollback()
    return db.session.scalars(
        select(Contact).where(Contact.channel_id == channel.id, Contact.external_id == external_id)
    ).first()


def reload(message: Message) -> Message:
    return committed(Message, message.id)


def contact_of_message(message: Message) -> Contact:
    return db.session.get(Conversation, message.conversation_id).contact


def sent_to_viber(httpserver, method: str = "send_message") -> list:
    return [request for request, _response in httpserver.log if request.path == f"/pa/{method}"]


def viber_answers(httpserver, *answers, method: str = "send_message") -> None:
    """The stand-in answers these bodies to `method`, in order (HTTP 200, as Viber does)."""
    for answer in answers:
        httpserver.expect_ordered_request(f"/pa/{method}", method="POST").respond_with_json(answer)


def ok(token: int = 5741311803571721999) -> dict:
    return {"status": 0, "status_message": "ok", "message_token": token, "chat_hostname": "SN-CHAT-05_"}


def our_reply(channel, admin, text="Так, є вільне вікно о 12:00", **kw) -> Message:
    conversation = make_conversation(channel=channel, messages=["Добрий день!"])
    return make_message(conversation, text, direction="out", author=admin, delivery_status="queued", **kw)


def attach(app, message: Message, filename: str, content_type: str, content: bytes) -> Attachment:
    folder = Path(app.config["UPLOAD_DIR"]) / "2026" / "11"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / filename).write_bytes(content)
    attachment = Attachment(
        message_id=message.id,
        filename=filename,
        content_type=content_type,
        size=len(content),
        storage_path=f"2026/11/{filename}",
    )
    db.session.add(attachment)
    db.session.commit()
    return attachment


# --- callbacks in -------------------------------------------------------------------------------


def test_a_text_message_lands_in_the_inbox_with_the_senders_name_and_avatar(client, viber):
    response = post(client, viber, payload("message_text.json"))
    assert response.status_code == 200
    (message,) = client_messages(viber)
    assert message.text == "Добрий день! Чи є вільний час на манікюр у суботу?"
    assert message.external_id == "5741311803571721087"
    contact = contact_of(viber)
    assert contact.display_name == "Олена Коваль"
    assert contact.avatar_url.startswith("https://media-direct.cdn.viber.com/")


@pytest.mark.parametrize(
    ("name", "kind", "files", "text"),
    [
        ("message_picture.json", "image", [("nails.jpg", "image/jpeg", 184302)], "Ось такий дизайн хочу"),
        ("message_video.json", "video", [("hair.mp4", "video/mp4", 2355500)], ""),
        ("message_file.json", "file", [("Направлення.pdf", "application/pdf", 52310)], ""),
        ("message_sticker.json", "sticker", [("46105.png", "image/png", 0)], ""),
        ("message_location.json", "location", [], "50.4501, 30.5234"),
        ("message_contact.json", "contact", [], "Ірина Мельник, +380671234567"),
        ("message_url.json", "text", [], "https://instagram.com/p/C9xYz12AbCd/"),
    ],
)
def test_every_viber_message_kind_is_kept_with_its_files(client, viber, name, kind, files, text):
    body = payload(name)
    assert post(client, viber, body).status_code == 200
    (message,) = client_messages(viber)
    assert message.kind == kind
    assert message.text == text
    assert [(a.filename, a.content_type, a.size) for a in message.attachments] == files
    media = json.loads(body)["message"].get("media")
    if files:  # the worker fetches the file later from Viber's link
        assert message.data["media_urls"] == [media]


def test_a_shared_location_and_contact_keep_their_facts_for_the_card(client, viber):
    post(client, viber, payload("message_location.json"))
    post(client, viber, payload("message_contact.json"))
    location, contact = client_messages(viber)
    assert location.data["context"] == {"location": {"lat": 50.4501, "lon": 30.5234}}
    assert contact.data["context"] == {"contact": {"name": "Ірина Мельник", "phone": "+380671234567"}}
    # a shared contact's phone is offered, never taken as the writer's own
    assert contact_of(viber).phone is None


def test_the_worker_fetches_a_photo_from_the_link_viber_gave(app, client, viber, httpserver):
    httpserver.expect_request("/viber-media/photo.jpg").respond_with_data(JPEG, content_type="image/jpeg")
    body = json.loads(payload("message_picture.json"))
    body["message"]["media"] = httpserver.url_for("/viber-media/photo.jpg")
    post(client, viber, json.dumps(body).encode())
    (message,) = client_messages(viber)
    jobs.media.fetch_media(message.id)
    (attachment,) = reload(message).attachments
    assert attachment.storage_path
    assert (Path(app.config["UPLOAD_DIR"]) / attachment.storage_path).read_bytes() == JPEG


def test_the_same_callback_delivered_twice_is_stored_once(client, viber):
    body = payload("message_text.json")
    assert post(client, viber, body).status_code == 200
    assert post(client, viber, body).status_code == 200
    assert len(client_messages(viber)) == 1


@pytest.mark.parametrize(
    "signed",
    [
        lambda body: None,
        lambda body: "",
        lambda body: "0" * 64,
        lambda body: sign(b"another body"),
        lambda body: sign(body, token="not-the-bots-token"),
    ],
    ids=["missing", "empty", "zeros", "of-another-body", "with-another-token"],
)
def test_a_callback_without_the_bots_signature_is_refused(client, viber, signed):
    body = payload("message_text.json")
    response = post(client, viber, body, signature=signed(body))
    assert response.status_code == 403
    assert client_messages(viber) == []


def test_a_body_that_is_not_json_is_refused_with_the_reason(client, viber):
    response = post(client, viber, b"event=message&text=hi")
    assert response.status_code == 400
    assert "JSON" in response.get_json()["error"]


def test_a_message_callback_missing_its_token_is_refused_with_the_reason(client, viber):
    body = json.loads(payload("message_text.json"))
    del body["message_token"]
    response = post(client, viber, json.dumps(body).encode())
    assert response.status_code == 400
    assert "message_token" in response.get_json()["error"]
    assert client_messages(viber) == []


def test_an_event_we_dont_handle_is_answered_200_and_ignored(client, viber):
    body = json.dumps({"event": "client_status", "timestamp": 1732608000000, "user_id": CLIENT_ID}).encode()
    response = post(client, viber, body)
    assert response.status_code == 200
    assert client_messages(viber) == []


def test_the_set_webhook_check_is_answered_200(client, viber):
    assert post(client, viber, payload("webhook.json")).status_code == 200


def delivered_reply(client, viber, admin) -> Message:
    post(client, viber, payload("message_text.json"))
    conversation = db.session.get(Conversation, client_messages(viber)[0].conversation_id)
    return make_message(
        conversation,
        "Так, о 12:00",
        direction="out",
        author=admin,
        delivery_status="sent",
        external_id=OUR_TOKEN,
    )


def test_delivered_and_seen_move_our_message_forward_and_never_back(client, viber, admin):
    reply = delivered_reply(client, viber, admin)
    post(client, viber, payload("delivered.json"))
    assert reload(reply).delivery_status == "delivered"
    post(client, viber, payload("seen.json"))
    assert reload(reply).delivery_status == "read"
    post(client, viber, payload("delivered.json", timestamp=1732608300000))  # late, out of order
    assert reload(reply).delivery_status == "read"


def test_a_failed_callback_fails_our_message_with_vibers_description(client, viber, admin):
    reply = delivered_reply(client, viber, admin)
    post(client, viber, payload("failed.json"))
    reply = reload(reply)
    assert (reply.delivery_status, reply.delivery_error) == ("failed", "failure description")


def test_unsubscribing_blocks_the_contact_and_fails_queued_replies(client, viber, admin):
    post(client, viber, payload("message_text.json"))
    conversation = db.session.get(Conversation, client_messages(viber)[0].conversation_id)
    queued = make_message(
        conversation, "Чекаємо вас", direction="out", author=admin, delivery_status="queued"
    )
    assert post(client, viber, payload("unsubscribed.json")).status_code == 200
    assert contact_of(viber).blocked is True
    queued = reload(queued)
    assert queued.delivery_status == "failed"
    assert queued.delivery_error == "Bot blocked by the user"


def test_subscribing_again_unblocks_the_contact(client, viber):
    post(client, viber, payload("message_text.json"))
    post(client, viber, payload("unsubscribed.json"))
    post(client, viber, payload("subscribed.json"))
    assert contact_of(viber).blocked is False


def test_someone_who_opens_the_bot_unsubscribed_gets_the_welcome_in_the_answer(client, viber):
    response = post(client, viber, payload("conversation_started.json"))
    assert response.status_code == 200
    assert response.content_type == "application/json"
    welcome = response.get_json()
    assert "receiver" not in welcome
    assert welcome["type"] == "text"
    assert welcome["sender"] == {"name": "Салон Окно", "avatar": "https://salon.example/logo.jpg"}
    assert "Салон Окно" in welcome["text"]
    labels = [button["ActionBody"] for button in welcome["keyboard"]["Buttons"]]
    assert labels == [str(bot.MY_VISITS), str(bot.TALK_TO_ADMIN)]
    # nothing to show staff until they write: no contact, no conversation
    assert contact_of(viber, "Nw5lC2HqGx0pNf9cTzqBvw==") is None


def test_the_welcome_says_only_to_write_when_the_salon_bot_is_off(client, viber):
    viber.settings = {**viber.settings, "bot": False}
    db.session.commit()
    welcome = post(client, viber, payload("conversation_started.json")).get_json()
    assert "keyboard" not in welcome
    assert welcome["text"]


def test_a_subscriber_who_opens_the_bot_is_greeted_by_the_salon_bot_through_send_message(
    client, viber, httpserver
):
    viber_answers(httpserver, ok(5741311803571721500))
    assert post(client, viber, payload("conversation_started_subscribed.json")).status_code == 200
    contact = contact_of(viber)
    conversation = db.session.scalars(select(Conversation).where(Conversation.contact_id == contact.id)).one()
    assert conversation.with_bot is True
    greeting = db.session.scalars(
        select(Message).where(Message.conversation_id == conversation.id, Message.direction == "out")
    ).one()
    assert deliver_message(greeting.id) == "sent"
    (request,) = sent_to_viber(httpserver)
    sent = request.get_json()
    assert sent["receiver"] == CLIENT_ID
    assert sent["text"] == greeting.text
    assert [b["Text"] for b in sent["keyboard"]["Buttons"]] == greeting.data["buttons"]
    assert reload(greeting).external_id == "5741311803571721500"


# --- send_message out ---------------------------------------------------------------------------


def test_a_reply_goes_to_the_client_signed_with_the_salon_and_the_staff_member(viber, admin, httpserver):
    viber_answers(httpserver, ok(5741311803571721777))
    reply = our_reply(viber, admin)
    assert deliver_message(reply.id) == "sent"
    (request,) = sent_to_viber(httpserver)
    assert request.headers["X-Viber-Auth-Token"] == TOKEN
    assert request.get_json() == {
        "receiver": contact_of_message(reply).external_id,
        "sender": {"name": "Салон Окно · Анна Смирнова", "avatar": "https://salon.example/logo.jpg"},
        "type": "text",
        "text": "Так, є вільне вікно о 12:00",
    }
    reply = reload(reply)
    assert (reply.delivery_status, reply.external_id) == ("sent", "5741311803571721777")


def test_a_reply_written_in_the_inbox_reaches_viber(viber, admin, httpserver):
    viber_answers(httpserver, ok())
    conversation = make_conversation(channel=viber, messages=["Добрий день!"])
    reply = messaging.send_reply(conversation.id, admin, "Добрий день! Слухаю вас")
    deliver_message(reply.id)
    assert sent_to_viber(httpserver)[0].get_json()["text"] == "Добрий день! Слухаю вас"
    assert reload(reply).delivery_status == "sent"


def test_the_sender_name_fits_vibers_28_characters(viber, httpserver):
    viber_answers(httpserver, ok())
    long_name = make_user(name="Анастасия Константинопольская")
    deliver_message(our_reply(viber, long_name).id)
    name = sent_to_viber(httpserver)[0].get_json()["sender"]["name"]
    assert len(name) <= 28
    assert "Анастасия" in name


def test_a_client_who_unsubscribed_fails_the_reply_as_blocked_and_is_marked(viber, admin, httpserver):
    viber_answers(httpserver, {"status": 6, "status_message": "receiverNotSubscribed"})
    reply = our_reply(viber, admin)
    assert deliver_message(reply.id) == "blocked"
    reply = reload(reply)
    assert (reply.delivery_status, reply.delivery_error) == ("failed", "Bot blocked by the user")
    assert contact_of_message(reply).blocked is True


def test_a_client_no_longer_on_viber_fails_the_reply_with_vibers_reason(viber, admin, httpserver):
    viber_answers(httpserver, {"status": 5, "status_message": "receiverNotRegistered"})
    reply = our_reply(viber, admin)
    assert deliver_message(reply.id) == "failed"
    reply = reload(reply)
    assert reply.delivery_status == "failed"
    assert "receiverNotRegistered" in reply.delivery_error
    assert contact_of_message(reply).blocked is False


def test_too_many_requests_is_tried_again_later(viber, admin, httpserver):
    viber_answers(httpserver, {"status": 12, "status_message": "tooManyRequests"})
    reply = our_reply(viber, admin)
    assert deliver_message(reply.id) == "retry"
    reply = reload(reply)
    assert reply.delivery_status == "queued"
    assert "tooManyRequests" in reply.data["last_error"]


def test_a_server_error_is_tried_again_later(viber, admin, httpserver):
    httpserver.expect_request("/pa/send_message").respond_with_data("Bad Gateway", status=502)
    reply = our_reply(viber, admin)
    assert deliver_message(reply.id) == "retry"
    assert reload(reply).delivery_status == "queued"


def test_a_revoked_token_fails_the_reply_with_vibers_words(viber, admin, httpserver):
    viber_answers(httpserver, {"status": 2, "status_message": "invalidAuthToken"})
    reply = our_reply(viber, admin)
    assert deliver_message(reply.id) == "failed"
    assert "invalidAuthToken" in reload(reply).delivery_error


def test_the_salon_bots_buttons_become_a_viber_keyboard(viber, httpserver):
    viber_answers(httpserver, ok())
    conversation = make_conversation(channel=viber, messages=["/start"])
    reply = make_message(
        conversation,
        "Вітаємо!",
        direction="out",
        delivery_status="queued",
        data={"bot": True, "buttons": ["Мої візити", "Зв'язатися з адміністратором"]},
    )
    deliver_message(reply.id)
    sent = sent_to_viber(httpserver)[0].get_json()
    assert sent["sender"] == {"name": "Салон Окно", "avatar": "https://salon.example/logo.jpg"}
    buttons = sent["keyboard"]["Buttons"]
    assert [(b["ActionType"], b["ActionBody"], b["Text"]) for b in buttons] == [
        ("reply", "Мої візити", "Мої візити"),
        ("reply", "Зв'язатися з адміністратором", "Зв'язатися з адміністратором"),
    ]
    assert sum(b["Columns"] for b in buttons) == 6  # one row


def test_a_photo_goes_as_a_picture_with_the_text_as_its_caption_from_a_signed_link(
    app, client, viber, admin, httpserver
):
    viber_answers(httpserver, ok())
    reply = our_reply(viber, admin, text="Ось наш новий салон")
    attach(app, reply, "salon.jpg", "image/jpeg", JPEG)
    deliver_message(reply.id)
    (request,) = sent_to_viber(httpserver)
    sent = request.get_json()
    assert (sent["type"], sent["text"]) == ("picture", "Ось наш новий салон")
    assert sent["media"].startswith("https://salon.example/media/")
    # Viber downloads the picture from that link, without a login
    response = client.get(sent["media"].removeprefix("https://salon.example"))
    assert response.status_code == 200
    assert response.data == JPEG
    assert response.content_type == "image/jpeg"


def test_a_document_goes_as_a_file_after_the_text(app, client, viber, admin, httpserver):
    viber_answers(httpserver, ok(1), ok(2))
    reply = our_reply(viber, admin, text="Прайс у файлі")
    attach(app, reply, "price.pdf", "application/pdf", PDF)
    deliver_message(reply.id)
    text, file = (r.get_json() for r in sent_to_viber(httpserver))
    assert (text["type"], text["text"]) == ("text", "Прайс у файлі")
    assert (file["type"], file["file_name"], file["size"]) == ("file", "price.pdf", len(PDF))
    assert client.get(file["media"].removeprefix("https://salon.example")).data == PDF
    assert reload(reply).external_id == "2"  # the last part: delivered when all is


def test_a_media_link_opens_only_its_own_attachment_and_expires(app, client, viber, admin):
    reply = our_reply(viber, admin)
    attachment = attach(app, reply, "salon.jpg", "image/jpeg", JPEG)
    token = media_url(attachment.id).rsplit("/", 1)[1]
    assert client.get(f"/media/{token}").status_code == 200
    assert client.get(f"/media/{token[:-2]}xx").status_code == 404  # tampered
    assert client.get(f"/media/{attachment.id}").status_code == 404  # a bare id is no link
    app.config["MEDIA_LINK_MAX_AGE"] = -1
    assert client.get(f"/media/{token}").status_code == 404  # expired


# --- operations ---------------------------------------------------------------------------------


def test_registering_the_webhook_asks_viber_for_our_url_and_events(viber, httpserver):
    viber_answers(httpserver, {"status": 0, "status_message": "ok", "event_types": []}, method="set_webhook")
    get_adapter("viber").register_webhook(channel_ref(viber))
    (request,) = sent_to_viber(httpserver, "set_webhook")
    assert request.headers["X-Viber-Auth-Token"] == TOKEN
    assert request.get_json() == {
        "url": f"https://salon.example/webhooks/{viber.uid}",
        "event_types": ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"],
        "send_name": True,
        "send_photo": True,
    }


def test_a_webhook_viber_cannot_reach_is_refused_with_vibers_reason(viber, httpserver):
    viber_answers(httpserver, {"status": 1, "status_message": "invalidUrl"}, method="set_webhook")
    with pytest.raises(PermanentError, match="invalidUrl"):
        get_adapter("viber").register_webhook(channel_ref(viber))


def account_info(**changes) -> dict:
    info = {
        "status": 0,
        "status_message": "ok",
        "id": "pa:75346594275468546724",
        "name": "Салон Окно",
        "uri": "okno-salon",
        "icon": "https://media.viber.com/okno.jpg",
        "background": "https://media.viber.com/okno-bg.jpg",
        "category": "Health & Beauty",
        "subcategory": "Beauty salon",
        "location": {"lon": 30.5234, "lat": 50.4501},
        "country": "UA",
        "webhook": "https://salon.example/webhooks/",
        "event_types": ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"],
        "subscribers_count": 35,
        "members": [{"id": "01234567890A=", "name": "Оксана", "avatar": "", "role": "admin"}],
    }
    info.update(changes)
    return info


def test_a_healthy_channel_reports_its_account_for_the_sender_name(viber, httpserver):
    viber_answers(
        httpserver,
        account_info(webhook=f"https://salon.example/webhooks/{viber.uid}"),
        method="get_account_info",
    )
    health = get_adapter("viber").check_health(channel_ref(viber))
    assert health.ok
    assert health.details["account_name"] == "Салон Окно"
    assert health.details["account_avatar"] == "https://media.viber.com/okno.jpg"


def test_a_webhook_set_elsewhere_makes_the_channel_broken_with_the_reason(viber, httpserver):
    viber_answers(
        httpserver, account_info(webhook="https://old-crm.example/viber"), method="get_account_info"
    )
    health = get_adapter("viber").check_health(channel_ref(viber))
    assert not health.ok
    assert "https://old-crm.example/viber" in health.reason


def test_a_revoked_token_makes_the_channel_broken_with_vibers_reason(viber, httpserver):
    viber_answers(httpserver, {"status": 2, "status_message": "invalidAuthToken"}, method="get_account_info")
    health = get_adapter("viber").check_health(channel_ref(viber))
    assert not health.ok
    assert "invalidAuthToken" in health.reason


def test_a_media_link_viber_no_longer_serves_is_a_permanent_failure(viber, httpserver):
    httpserver.expect_request("/viber-media/gone.jpg").respond_with_data("", status=404)
    with pytest.raises(PermanentError):
        get_adapter("viber").fetch_media(channel_ref(viber), httpserver.url_for("/viber-media/gone.jpg"))


def test_a_token_tried_before_the_channel_is_saved_needs_no_webhook_yet(app, viber, httpserver):
    viber_answers(httpserver, account_info(webhook=""), method="get_account_info")
    unsaved = ChannelRef(
        id=0, kind="viber", uid="", credentials={"token": TOKEN}, api_url=app.config["VIBER_API_URL"]
    )
    health = get_adapter("viber").check_health(unsaved)
    assert health.ok
    assert health.details["account_name"] == "Салон Окно"
