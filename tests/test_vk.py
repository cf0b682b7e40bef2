"""VK community messages: Callback API (v5.199) examples in, messages.send to a stand-in out.

The stand-in (pytest-httpserver) plays api.vk.com/method: it checks the form we POST
(access_token, v, peer_id, random_id, ...) and answers {"response": ...} or VK's
{"error": {"error_code", "error_msg"}} bodies, always with HTTP 200 as VK does.
"""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from channels import get_adapter
from channels.base import ChannelRef, ContactBlocked, InboundMessage, TemporaryError
from extensions import db
from jobs.delivery import deliver_message
from models import Attachment, Contact, Conversation, Message
from services import inbound
from services.channels import channel_ref, encrypt_credentials
from tests.factories import committed, make_channel, make_conversation, make_message, make_user

GROUP_ID = 229000001
SECRET = "Zx8kQ2mN4pR7"  # the payloads' secret
TOKEN = "vk1.a.QyZ2xkX0NvbW11bml0eVRva2VuRm9yT2tub1Rlc3Rz"
CONFIRMATION = "a1b2c3d4"
USER = 745312908  # from_id / peer_id in the payloads
PAYLOADS = Path(__file__).parent / "payloads" / "vk"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def vk(app, httpserver):
    app.config["VK_API_URL"] = httpserver.url_for("/method")
    app.config["PUBLIC_URL"] = "https://salon.example"
    return make_channel(
        kind="vk",
        credentials=encrypt_credentials(
            {"group_id": str(GROUP_ID), "access_token": TOKEN, "secret": SECRET, "confirmation": CONFIRMATION}
        ),
    )


@pytest.fixture
def profiles(httpserver):
    """users.get: VK's message carries only the sender's id."""
    httpserver.expect_request("/method/users.get", method="POST").respond_with_json(
        {
            "response": [
                {
                    "id": USER,
                    "first_name": "Мария",
                    "last_name": "Иванова",
                    "photo_100": "https://sun9-1.userapi.com/s/v1/ig2/mariya.jpg?size=100x100",
                    "can_access_closed": True,
                    "is_closed": False,
                }
            ]
        }
    )


@pytest.fixture
def admin(app):
    return make_user(name="Анна Смирнова")


def payload(name: str, **changes) -> bytes:
    data = json.loads((PAYLOADS / name).read_text())
    data.update(changes)
    return json.dumps(data, ensure_ascii=False).encode()


def post(client, channel, body: bytes):
    return client.post(f"/webhooks/{channel.uid}", data=body, headers={"Content-Type": "application/json"})


def client_messages(channel) -> list[Message]:
    db.session.rollback()
    return db.session.scalars(
        select(Message)
        .where(Message.channel_id == channel.id, Message.direction == "in")
        .order_by(Message.id)
    ).all()


def contact_of(channel, external_id: str = str(USER)) -> Contact | None:
    db.session.rollback()
    return db.session.scalars(
        select(Contact).where(Contact.channel_id == channel.id, Contact.external_id == external_id)
    ).first()


def reload(message: Message) -> Message:
    return committed(Message, message.id)


def calls(httpserver, method: str) -> list[dict]:
    """The forms we POSTed to one API method, in order."""
    return [
        request.form.to_dict() for request, _response in httpserver.log if request.path == f"/method/{method}"
    ]


def vk_answers(httpserver, method: str, *answers) -> None:
    """The stand-in answers `method` with these bodies, one per call, in order."""
    for answer in answers:
        httpserver.expect_oneshot_request(f"/method/{method}", method="POST").respond_with_json(answer)


def vk_error(code: int, message: str) -> dict:
    return {
        "error": {
            "error_code": code,
            "error_msg": message,
            "request_params": [
                {"key": "method", "value": "messages.send"},
                {"key": "oauth", "value": "1"},
                {"key": "v", "value": "5.199"},
            ],
        }
    }


def our_reply(channel, admin, text="Ждём вас в субботу в 12:00", peer=str(USER), **kw) -> Message:
    conversation = make_conversation(channel=channel, messages=["Здравствуйте!"])
    contact = db.session.get(Contact, conversation.contact_id)
    contact.external_id = peer
    db.session.commit()
    return make_message(conversation, text, direction="out", author=admin, delivery_status="queued", **kw)


def attach(app, message: Message, filename: str, content_type: str, content: bytes) -> None:
    folder = Path(app.config["UPLOAD_DIR"]) / "2026" / "11"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / filename).write_bytes(content)
    db.session.add(
        Attachment(
            message_id=message.id,
            filename=filename,
            content_type=content_type,
            size=len(content),
            storage_path=f"2026/11/{filename}",
        )
    )
    db.session.commit()


# --- callbacks in -------------------------------------------------------------------------------


def test_the_confirmation_request_is_answered_with_the_code_exactly(client, vk):
    response = post(client, vk, payload("confirmation.json"))
    assert response.status_code == 200
    assert response.data == CONFIRMATION.encode()
    assert response.mimetype == "text/plain"


def test_a_message_lands_in_the_inbox_named_after_the_vk_user_and_vk_gets_ok(
    client, vk, profiles, httpserver
):
    response = post(client, vk, payload("message_new_text.json"))
    assert (response.status_code, response.data) == (200, b"ok")
    (message,) = client_messages(vk)
    assert message.text == "Здравствуйте! Можно записаться на стрижку в субботу?"
    assert message.external_id == "1542"
    assert message.created_at.replace(tzinfo=UTC) == datetime.fromtimestamp(1732608000, UTC)
    contact = contact_of(vk)
    assert contact.display_name == "Мария Иванова"
    assert contact.avatar_url == "https://sun9-1.userapi.com/s/v1/ig2/mariya.jpg?size=100x100"
    (lookup,) = calls(httpserver, "users.get")
    assert lookup == {"user_ids": str(USER), "fields": "photo_100", "access_token": TOKEN, "v": "5.199"}


def test_a_message_is_kept_even_when_vk_wont_tell_the_name(client, vk, httpserver):
    httpserver.expect_request("/method/users.get").respond_with_json(vk_error(5, "User authorization failed"))
    assert post(client, vk, payload("message_new_text.json")).data == b"ok"
    assert len(client_messages(vk)) == 1
    assert contact_of(vk).display_name == ""


@pytest.mark.parametrize(
    ("name", "kind", "files", "urls"),
    [
        (
            "message_new_photo.json",
            "image",
            [("photo745312908_457239017.jpg", "image/jpeg", 0)],
            ["https://sun9-21.userapi.com/impg/c857/v857/photo-z.jpg?size=960x1280&quality=96&type=album"],
        ),
        (
            "message_new_doc.json",
            "file",
            [("Анализы.pdf", "application/pdf", 48213)],
            [
                "https://vk.com/doc745312908_675123456?hash=b1a2c3d4e5&dl=GEYTMNZQGM2DA:1732608070:a1b2c3"
                "&api=1&no_preview=1"
            ],
        ),
        (
            "message_new_voice.json",
            "voice",
            [("voice675123457.ogg", "audio/ogg", 0)],
            ["https://psv4.userapi.com/c4337/u745312908/audiomsg/d1/a1b2c3d4e5.ogg"],
        ),
        (
            "message_new_sticker.json",
            "sticker",
            [("sticker9014.png", "image/png", 0)],
            ["https://vk.com/sticker/1-9014-512"],
        ),
        ("message_new_video.json", "video", [], []),
        ("message_new_geo.json", "location", [], []),
    ],
)
def test_every_vk_message_kind_is_kept_with_its_largest_file(client, vk, profiles, name, kind, files, urls):
    assert post(client, vk, payload(name)).data == b"ok"
    (message,) = client_messages(vk)
    assert message.kind == kind
    assert [(a.filename, a.content_type, a.size) for a in message.attachments] == files
    assert message.data.get("media_urls", []) == urls


def test_a_photos_caption_is_its_text(client, vk, profiles):
    post(client, vk, payload("message_new_photo.json"))
    assert client_messages(vk)[0].text == "Вот такую хочу"


def test_a_video_the_salon_cant_download_is_shown_as_its_vk_link(client, vk, profiles):
    post(client, vk, payload("message_new_video.json"))
    (message,) = client_messages(vk)
    assert message.text == "https://vk.com/video745312908_456239018"
    assert message.data["context"]["videos"][0]["title"] == "Причёска как на видео"


def test_a_location_keeps_its_coordinates_and_shows_the_place(client, vk, profiles):
    post(client, vk, payload("message_new_geo.json"))
    (message,) = client_messages(vk)
    assert message.text == "Москва, Тверская улица, 7"
    assert message.data["context"]["location"] == {
        "lat": 55.751244,
        "lon": 37.618423,
        "address": "Москва, Тверская улица, 7",
    }


def test_a_voice_message_keeps_vks_transcript(client, vk, profiles):
    post(client, vk, payload("message_new_voice.json"))
    assert client_messages(vk)[0].data["context"]["transcript"] == "Я немного опоздаю минут на десять"


def test_a_reply_to_our_message_is_linked_to_it(client, vk, profiles, admin):
    post(client, vk, payload("message_new_text.json"))
    conversation = db.session.get(Conversation, client_messages(vk)[0].conversation_id)
    ours = make_message(
        conversation, "Ждём вас в субботу в 12:00?", direction="out", author=admin, external_id="1543"
    )
    post(client, vk, payload("message_new_reply.json"))
    answer = client_messages(vk)[-1]
    assert answer.text == "Да, в 12:00 удобно"
    assert answer.reply_to_id == ours.id


def test_a_forwarded_message_shows_its_text(client, vk, profiles):
    post(client, vk, payload("message_new_forward.json"))
    (message,) = client_messages(vk)
    assert message.text == "» Маша, запишись к Ольге, она лучший мастер"
    assert message.reply_to_id is None  # forwarded from another conversation: nothing here to link


def test_a_chat_message_is_known_by_its_conversation_message_id(client, vk, profiles):
    post(client, vk, payload("message_new_chat.json"))
    (message,) = client_messages(vk)
    assert message.external_id == "c2000000003_87"
    assert contact_of(vk, "2000000003") is not None


def test_the_same_callback_delivered_twice_is_stored_once(client, vk, profiles):
    body = payload("message_new_text.json")
    assert post(client, vk, body).data == b"ok"
    assert post(client, vk, body).data == b"ok"
    assert len(client_messages(vk)) == 1


def test_an_edit_replaces_the_text_and_keeps_the_earlier_one(client, vk, profiles):
    post(client, vk, payload("message_new_text.json"))
    assert post(client, vk, payload("message_edit.json")).data == b"ok"
    (message,) = client_messages(vk)
    assert message.text == "Здравствуйте! Можно записаться на стрижку в воскресенье?"
    assert message.edited_at is not None
    assert [r.text for r in message.revisions] == ["Здравствуйте! Можно записаться на стрижку в субботу?"]


def test_our_own_reply_echoed_back_is_not_a_client_message(client, vk, profiles):
    post(client, vk, payload("message_new_text.json"))
    assert post(client, vk, payload("message_reply.json")).data == b"ok"
    assert [m.external_id for m in client_messages(vk)] == ["1542"]


def test_denying_messages_blocks_the_contact_and_allowing_unblocks_it(client, vk, profiles, admin):
    post(client, vk, payload("message_new_text.json"))
    conversation = db.session.get(Conversation, client_messages(vk)[0].conversation_id)
    queued = make_message(conversation, "Ждём вас", direction="out", author=admin, delivery_status="queued")
    assert post(client, vk, payload("message_deny.json")).data == b"ok"
    assert contact_of(vk).blocked is True
    assert reload(queued).delivery_error == "Bot blocked by the user"
    assert post(client, vk, payload("message_allow.json")).data == b"ok"
    assert contact_of(vk).blocked is False


@pytest.mark.parametrize(
    "changes",
    [{"secret": "wrong-secret"}, {"secret": ""}, {"secret": None}, {"group_id": 1}],
    ids=["wrong-secret", "empty-secret", "no-secret", "another-community"],
)
def test_a_callback_without_our_secret_or_for_another_community_is_refused(client, vk, profiles, changes):
    data = json.loads(payload("message_new_text.json"))
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not None}
    response = post(client, vk, json.dumps(data).encode())
    assert response.status_code == 403
    assert client_messages(vk) == []


def test_the_confirmation_code_is_not_given_to_someone_without_the_secret(client, vk):
    response = post(client, vk, payload("confirmation.json", secret="guess"))
    assert response.status_code == 403
    assert CONFIRMATION.encode() not in response.data


def test_a_body_that_is_not_json_is_refused_with_the_reason(client, vk):
    response = post(client, vk, b"type=message_new")
    assert response.status_code == 400
    assert "JSON" in response.get_json()["error"]


def test_a_message_new_without_its_message_is_refused_with_the_reason(client, vk):
    response = post(client, vk, payload("message_new_text.json", object="nothing"))
    assert response.status_code == 400
    assert "object" in response.get_json()["error"]


def test_an_event_we_dont_handle_is_answered_ok_and_ignored(client, vk):
    response = post(client, vk, payload("group_join.json"))
    assert (response.status_code, response.data) == (200, b"ok")
    assert client_messages(vk) == []


# --- messages.send out --------------------------------------------------------------------------


def test_a_reply_is_sent_with_the_community_token_and_a_random_id_from_our_message(vk, admin, httpserver):
    vk_answers(httpserver, "messages.send", {"response": 1560})
    reply = our_reply(vk, admin)
    assert deliver_message(reply.id) == "sent"
    (sent,) = calls(httpserver, "messages.send")
    assert sent == {
        "peer_id": str(USER),
        "random_id": str(reply.id),
        "message": "Ждём вас в субботу в 12:00",
        "access_token": TOKEN,
        "v": "5.199",
    }
    reply = reload(reply)
    assert (reply.delivery_status, reply.external_id) == ("sent", "1560")


def test_a_retried_send_carries_the_same_random_id_so_vk_does_not_double_it(vk, admin, httpserver):
    vk_answers(httpserver, "messages.send", vk_error(10, "Internal server error"), {"response": 1561})
    reply = our_reply(vk, admin)
    assert deliver_message(reply.id) == "retry"
    assert deliver_message(reply.id) == "sent"
    first, second = calls(httpserver, "messages.send")
    assert first["random_id"] == second["random_id"] == str(reply.id)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (901, "Can't send messages for users without permission"),
        (902, "Can't send messages to this user due to their privacy settings"),
    ],
)
def test_a_client_who_forbade_messages_fails_the_reply_as_blocked(vk, admin, httpserver, code, words):
    vk_answers(httpserver, "messages.send", vk_error(code, words))
    reply = our_reply(vk, admin)
    assert deliver_message(reply.id) == "blocked"
    reply = reload(reply)
    assert (reply.delivery_status, reply.delivery_error) == ("failed", "Bot blocked by the user")
    assert contact_of(vk).blocked is True


@pytest.mark.parametrize(("code", "words"), [(6, "Too many requests per second"), (9, "Flood control")])
def test_vks_rate_limits_are_tried_again_later(vk, admin, httpserver, code, words):
    vk_answers(httpserver, "messages.send", vk_error(code, words))
    reply = our_reply(vk, admin)
    assert deliver_message(reply.id) == "retry"
    reply = reload(reply)
    assert reply.delivery_status == "queued"
    assert words in reply.data["last_error"]


def test_a_revoked_token_fails_the_reply_with_vks_words(vk, admin, httpserver):
    vk_answers(
        httpserver, "messages.send", vk_error(5, "User authorization failed: invalid access_token (4).")
    )
    reply = our_reply(vk, admin)
    assert deliver_message(reply.id) == "failed"
    assert "invalid access_token" in reload(reply).delivery_error
    assert contact_of(vk).blocked is False


def test_a_reply_to_a_client_message_quotes_it(vk, admin, httpserver):
    vk_answers(httpserver, "messages.send", {"response": 1562})
    reply = our_reply(vk, admin)
    quoted = make_message(
        db.session.get(Conversation, reply.conversation_id), "Можно в субботу?", external_id="1542"
    )
    reply.reply_to_id = quoted.id
    db.session.commit()
    deliver_message(reply.id)
    assert calls(httpserver, "messages.send")[0]["reply_to"] == "1542"


def test_a_reply_in_a_chat_quotes_by_conversation_message_id(vk, admin, httpserver):
    vk_answers(httpserver, "messages.send", {"response": 0})
    reply = our_reply(vk, admin, peer="2000000003")
    quoted = make_message(
        db.session.get(Conversation, reply.conversation_id), "Есть окошко?", external_id="c2000000003_87"
    )
    reply.reply_to_id = quoted.id
    db.session.commit()
    assert deliver_message(reply.id) == "sent"
    (sent,) = calls(httpserver, "messages.send")
    assert "reply_to" not in sent
    assert json.loads(sent["forward"]) == {
        "peer_id": 2000000003,
        "conversation_message_ids": [87],
        "is_reply": True,
    }


def test_a_photo_is_uploaded_to_vk_and_attached(app, vk, admin, httpserver):
    upload_url = httpserver.url_for("/upload/photo")
    vk_answers(
        httpserver,
        "photos.getMessagesUploadServer",
        {"response": {"album_id": -64, "upload_url": upload_url, "user_id": 0, "group_id": GROUP_ID}},
    )
    httpserver.expect_oneshot_request("/upload/photo", method="POST").respond_with_json(
        {
            "server": 852436,
            "photo": '[{"markers_restarted":true,"photo":"a1b2c3d4e5:w"}]',
            "hash": "9f8e7d6c5b4a",
        }
    )
    vk_answers(
        httpserver,
        "photos.saveMessagesPhoto",
        {"response": [{"album_id": -64, "date": 1732608400, "id": 457239101, "owner_id": -GROUP_ID,
                       "access_key": "7c1b2a3d4e", "sizes": [], "text": "", "has_tags": False}]},
    )  # fmt: skip
    vk_answers(httpserver, "messages.send", {"response": 1563})
    reply = our_reply(vk, admin, text="Наш новый зал")
    attach(app, reply, "hall.jpg", "image/jpeg", JPEG)
    assert deliver_message(reply.id) == "sent"
    assert calls(httpserver, "photos.getMessagesUploadServer")[0]["peer_id"] == str(USER)
    (upload,) = [r for r, _ in httpserver.log if r.path == "/upload/photo"]
    assert upload.files["photo"].filename == "hall.jpg"
    assert upload.files["photo"].read() == JPEG
    saved = calls(httpserver, "photos.saveMessagesPhoto")[0]
    assert (saved["server"], saved["hash"]) == ("852436", "9f8e7d6c5b4a")
    assert saved["photo"] == '[{"markers_restarted":true,"photo":"a1b2c3d4e5:w"}]'
    sent = calls(httpserver, "messages.send")[0]
    assert sent["attachment"] == f"photo-{GROUP_ID}_457239101_7c1b2a3d4e"
    assert sent["message"] == "Наш новый зал"


def test_a_document_is_uploaded_as_a_doc_and_attached(app, vk, admin, httpserver):
    upload_url = httpserver.url_for("/upload/doc")
    vk_answers(httpserver, "docs.getMessagesUploadServer", {"response": {"upload_url": upload_url}})
    httpserver.expect_oneshot_request("/upload/doc", method="POST").respond_with_json(
        {"file": "745312908|0|-1|852436|a1b2c3d4e5|pdf|4821|price.pdf|9f8e7d6c|0|0"}
    )
    vk_answers(
        httpserver,
        "docs.save",
        {"response": {"type": "doc", "doc": {"id": 675123999, "owner_id": -GROUP_ID, "title": "price.pdf",
                                             "size": len(PDF), "ext": "pdf", "type": 1, "url": "https://vk.com/doc"}}},
    )  # fmt: skip
    vk_answers(httpserver, "messages.send", {"response": 1564})
    reply = our_reply(vk, admin, text="")
    attach(app, reply, "price.pdf", "application/pdf", PDF)
    assert deliver_message(reply.id) == "sent"
    server = calls(httpserver, "docs.getMessagesUploadServer")[0]
    assert (server["type"], server["peer_id"]) == ("doc", str(USER))
    (upload,) = [r for r, _ in httpserver.log if r.path == "/upload/doc"]
    assert upload.files["file"].read() == PDF
    assert calls(httpserver, "docs.save")[0]["title"] == "price.pdf"
    assert calls(httpserver, "messages.send")[0]["attachment"] == f"doc-{GROUP_ID}_675123999"


def test_a_file_vk_refuses_to_take_fails_with_vks_reason(app, vk, admin, httpserver):
    upload_url = httpserver.url_for("/upload/doc")
    vk_answers(httpserver, "docs.getMessagesUploadServer", {"response": {"upload_url": upload_url}})
    httpserver.expect_oneshot_request("/upload/doc", method="POST").respond_with_json(
        {"error": "file type is not allowed", "error_descr": "file type is not allowed"}
    )
    reply = our_reply(vk, admin, text="")
    attach(app, reply, "price.pdf", "application/pdf", PDF)
    assert deliver_message(reply.id) == "failed"
    assert "file type is not allowed" in reload(reply).delivery_error
    assert calls(httpserver, "messages.send") == []


def test_the_salon_bots_buttons_become_a_vk_keyboard(vk, httpserver):
    vk_answers(httpserver, "messages.send", {"response": 1565})
    reply = our_reply(
        vk,
        None,
        text="Выберите:",
        data={"bot": True, "buttons": ["Мои визиты", "Связаться с администратором"]},
    )
    deliver_message(reply.id)
    keyboard = json.loads(calls(httpserver, "messages.send")[0]["keyboard"])
    assert [[button["action"]["label"] for button in row] for row in keyboard["buttons"]] == [
        ["Мои визиты"],
        ["Связаться с администратором"],
    ]
    assert keyboard["buttons"][0][0]["action"]["type"] == "text"


def test_a_community_without_bot_features_gets_the_text_without_the_buttons(vk, httpserver):
    vk_answers(
        httpserver,
        "messages.send",
        vk_error(912, "This is a chat bot feature, change this status in settings"),
        {"response": 1566},
    )
    reply = our_reply(vk, None, text="Выберите:", data={"bot": True, "buttons": ["Мои визиты"]})
    assert deliver_message(reply.id) == "sent"
    with_keyboard, without = calls(httpserver, "messages.send")
    assert "keyboard" in with_keyboard
    assert "keyboard" not in without
    assert without["random_id"] == with_keyboard["random_id"]


# --- health and sync ----------------------------------------------------------------------------


def group(**changes) -> dict:
    item = {
        "id": GROUP_ID,
        "name": "Салон красоты «Окно»",
        "screen_name": "okno_salon",
        "is_closed": 0,
        "type": "group",
        "photo_50": "https://sun9-7.userapi.com/okno-50.jpg",
        "photo_100": "https://sun9-7.userapi.com/okno-100.jpg",
        "photo_200": "https://sun9-7.userapi.com/okno-200.jpg",
    }
    item.update(changes)
    return {"response": {"groups": [item], "profiles": []}}


def callback_servers(vk, status="ok", url=None) -> dict:
    return {
        "response": {
            "count": 1,
            "items": [
                {
                    "id": 3,
                    "title": "Okno",
                    "creator_id": 530001122,
                    "url": url or f"https://salon.example/webhooks/{vk.uid}",
                    "secret_key": SECRET,
                    "status": status,
                }
            ],
        }
    }


def test_a_healthy_community_reports_its_name(vk, httpserver):
    vk_answers(httpserver, "groups.getById", group())
    vk_answers(httpserver, "groups.getCallbackServers", callback_servers(vk))
    health = get_adapter("vk").check_health(channel_ref(vk))
    assert health.ok
    assert health.details["vk_group_name"] == "Салон красоты «Окно»"
    assert calls(httpserver, "groups.getCallbackServers")[0]["group_id"] == str(GROUP_ID)


def test_a_token_of_another_community_makes_the_channel_broken(vk, httpserver):
    vk_answers(httpserver, "groups.getById", group(id=1))
    health = get_adapter("vk").check_health(channel_ref(vk))
    assert not health.ok
    assert str(GROUP_ID) in health.reason


def test_a_revoked_token_makes_the_channel_broken_with_vks_reason(vk, httpserver):
    vk_answers(
        httpserver, "groups.getById", vk_error(5, "User authorization failed: invalid access_token (4).")
    )
    health = get_adapter("vk").check_health(channel_ref(vk))
    assert not health.ok
    assert "invalid access_token" in health.reason


def test_a_callback_server_vk_cannot_reach_makes_the_channel_broken(vk, httpserver):
    vk_answers(httpserver, "groups.getById", group())
    vk_answers(httpserver, "groups.getCallbackServers", callback_servers(vk, status="failed"))
    assert not get_adapter("vk").check_health(channel_ref(vk)).ok


def test_no_callback_server_pointing_at_us_makes_the_channel_broken(vk, httpserver):
    vk_answers(httpserver, "groups.getById", group())
    vk_answers(
        httpserver, "groups.getCallbackServers", callback_servers(vk, url="https://old-crm.example/vk")
    )
    health = get_adapter("vk").check_health(channel_ref(vk))
    assert not health.ok
    assert f"/webhooks/{vk.uid}" in health.reason


def history_message(mid: int, date: int, text: str, out: int = 0) -> dict:
    return {
        "date": date,
        "from_id": -GROUP_ID if out else USER,
        "id": mid,
        "out": out,
        "attachments": [],
        "conversation_message_id": mid - 22,
        "fwd_messages": [],
        "important": False,
        "is_hidden": False,
        "peer_id": USER,
        "random_id": 0,
        "text": text,
    }


def test_a_sync_brings_the_client_messages_written_since_the_last_sync_once(client, vk, profiles, httpserver):
    since = datetime(2024, 11, 26, 8, 0, tzinfo=UTC)  # 1732608000
    post(client, vk, payload("message_new_text.json"))  # 1542 arrived by webhook already
    vk_answers(
        httpserver,
        "messages.getConversations",
        {
            "response": {
                "count": 2,
                "items": [
                    {
                        "conversation": {
                            "peer": {"id": USER, "type": "user", "local_id": USER},
                            "last_message_id": 1571,
                            "in_read": 1570,
                            "out_read": 1571,
                            "can_write": {"allowed": True},
                        },
                        "last_message": history_message(1571, 1732609200, "Хорошо, до встречи", out=1),
                    },
                    {
                        "conversation": {
                            "peer": {"id": 600100200, "type": "user", "local_id": 600100200},
                            "last_message_id": 1200,
                            "can_write": {"allowed": True},
                        },
                        "last_message": history_message(1200, 1732000000, "Старое"),
                    },
                ],
                "profiles": [
                    {
                        "id": USER,
                        "first_name": "Мария",
                        "last_name": "Иванова",
                        "photo_100": "https://a/m.jpg",
                    }
                ],
            }
        },
    )
    vk_answers(
        httpserver,
        "messages.getHistory",
        {
            "response": {
                "count": 5,
                "items": [  # newest first, as VK gives them
                    history_message(1571, 1732609200, "Хорошо, до встречи", out=1),
                    history_message(1570, 1732609100, "А можно на 13:00?"),
                    history_message(1542, 1732608000, "Здравствуйте! Можно записаться на стрижку в субботу?"),
                    history_message(1530, 1732600000, "Вчерашнее сообщение"),
                ],
                "profiles": [],
            }
        },
    )
    events = get_adapter("vk").resync(channel_ref(vk), since)
    assert [e.external_message_id for e in events if isinstance(e, InboundMessage)] == ["1542", "1570"]
    assert all(e.contact_name == "Мария Иванова" for e in events if isinstance(e, InboundMessage))
    assert calls(httpserver, "messages.getHistory")[0]["peer_id"] == str(USER)
    inbound.handle_events(vk.id, events)
    assert [m.text for m in client_messages(vk)] == [
        "Здравствуйте! Можно записаться на стрижку в субботу?",
        "А можно на 13:00?",
    ]


def test_a_sync_learns_of_a_block_the_webhook_missed(vk, httpserver):
    vk_answers(
        httpserver,
        "messages.getConversations",
        {
            "response": {
                "count": 1,
                "items": [
                    {
                        "conversation": {
                            "peer": {"id": USER, "type": "user", "local_id": USER},
                            "can_write": {"allowed": False, "reason": 901},
                        },
                        "last_message": history_message(1542, 1732608000, "Здравствуйте!"),
                    }
                ],
            }
        },
    )
    vk_answers(httpserver, "messages.getHistory", {"response": {"count": 0, "items": []}})
    events = get_adapter("vk").resync(channel_ref(vk), datetime(2024, 11, 26, tzinfo=UTC))
    assert events == [ContactBlocked(str(USER), blocked=True)]


def test_a_sync_that_vk_rate_limits_is_tried_again(vk, httpserver):
    vk_answers(httpserver, "messages.getConversations", vk_error(6, "Too many requests per second"))
    with pytest.raises(TemporaryError):
        get_adapter("vk").resync(channel_ref(vk), None)


def test_credentials_tried_before_the_channel_is_saved_need_no_callback_server_yet(app, vk, httpserver):
    vk_answers(httpserver, "groups.getById", group())
    unsaved = ChannelRef(
        id=0,
        kind="vk",
        uid="",
        credentials={"group_id": str(GROUP_ID), "access_token": TOKEN},
        api_url=app.config["VK_API_URL"],
    )
    assert get_adapter("vk").check_health(unsaved).ok
    assert calls(httpserver, "groups.getCallbackServers") == []
