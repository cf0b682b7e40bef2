# ruff: noqa: F811
"""Telegram outbound, set-up and health against the Bot API stand-in: what we send (token in the
path, JSON fields, multipart parts) and what each of Telegram's answers does to the message."""

import time
from pathlib import Path

import pytest
from flask import current_app
from rq.registry import ScheduledJobRegistry

from channels.base import PermanentError
from channels.telegram import ALLOWED_UPDATES, adapter
from extensions import db
from jobs import get_queue
from jobs.delivery import deliver_message
from models import Attachment, Contact, Message
from models.base import utcnow
from services import messaging
from services.channels import channel_ref
from tests.conftest import free_port
from tests.factories import committed, make_contact, make_conversation, make_message, make_user
from tests.test_telegram_standin import (
    BAD_GATEWAY,
    BLOCKED,
    CHAT,
    CHAT_NOT_FOUND,
    FLOOD,
    SECRET,
    TOKEN,
    UNAUTHORIZED,
    make_telegram,
    telegram_api,  # noqa: F401  (the fixture: tests name it as a parameter, hence F811 below)
)


@pytest.fixture
def channel(app):
    return make_telegram()


@pytest.fixture
def conversation(channel):
    contact = make_contact(channel, name="Мария Иванова")
    contact.external_id = CHAT
    db.session.commit()
    return make_conversation(contact=contact)


@pytest.fixture
def admin(app):
    return make_user(name="Анна Смирнова")


def reload(message: Message) -> Message:
    return committed(Message, message.id)


def queued_with_file(
    conversation, filename: str, content_type: str, content: bytes, text: str = ""
) -> Message:
    """A staff reply with an attachment stored under UPLOAD_DIR, as the composer leaves it."""
    folder = Path(current_app.config["UPLOAD_DIR"]) / "out"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / filename).write_bytes(content)
    message = make_message(conversation, text, direction="out", delivery_status="queued")
    db.session.add(
        Attachment(
            message_id=message.id,
            filename=filename,
            content_type=content_type,
            size=len(content),
            storage_path=f"out/{filename}",
        )
    )
    db.session.commit()
    return message


# --- sending ----------------------------------------------------------------------------------


def test_a_reply_goes_out_with_sendMessage_and_is_marked_sent(telegram_api, conversation, admin):
    reply = messaging.send_reply(conversation.id, admin, "Да, в субботу в 12:00 есть место <b>!</b>")

    assert deliver_message(reply.id) == "sent"

    [call] = telegram_api.calls
    assert (call.token, call.method) == (TOKEN, "sendMessage")
    assert call.json == {
        "chat_id": CHAT,
        "text": "Да, в субботу в 12:00 есть место <b>!</b>",
    }  # no parse_mode
    reply = reload(reply)
    assert reply.delivery_status == "sent"
    assert reply.external_id == f"{CHAT}:5001"


def test_a_reply_to_a_client_message_quotes_it(telegram_api, conversation, admin):
    quoted = make_message(conversation, "Можно на субботу?", external_id=f"{CHAT}:101")
    reply = messaging.send_reply(conversation.id, admin, "Можно", reply_to_id=quoted.id)

    deliver_message(reply.id)

    [call] = telegram_api.calls
    assert call.json["reply_parameters"] == {"message_id": 101, "allow_sending_without_reply": True}


def test_a_text_longer_than_telegram_takes_goes_in_parts(telegram_api, conversation, admin):
    text = "а" * 4096 + "б" * 10
    reply = messaging.send_reply(conversation.id, admin, text)

    deliver_message(reply.id)

    assert [c.json["text"] for c in telegram_api.of("sendMessage")] == ["а" * 4096, "б" * 10]
    assert reload(reply).external_id == f"{CHAT}:5001"  # the first part


def test_the_bots_buttons_go_as_a_reply_keyboard(telegram_api, conversation):
    message = messaging.send_bot_reply(
        conversation.id, "Здравствуйте!", ["Мои визиты", "Позвать администратора"]
    )

    deliver_message(message.id)

    [call] = telegram_api.calls
    assert call.json["reply_markup"] == {
        "keyboard": [[{"text": "Мои визиты"}], [{"text": "Позвать администратора"}]],
        "resize_keyboard": True,
    }


def test_the_bots_handoff_message_takes_the_keyboard_away(telegram_api, conversation):
    message = messaging.send_bot_reply(
        conversation.id, "Администратор скоро ответит", context={"remove_keyboard": True}
    )

    deliver_message(message.id)

    assert telegram_api.calls[0].json["reply_markup"] == {"remove_keyboard": True}


def test_a_photo_is_uploaded_with_sendPhoto_and_the_text_as_caption(telegram_api, conversation):
    message = queued_with_file(conversation, "work.jpg", "image/jpeg", b"\xff\xd8\xff\xe0 jpeg", "Результат")

    assert deliver_message(message.id) == "sent"

    [call] = telegram_api.calls
    assert (call.token, call.method) == (TOKEN, "sendPhoto")
    assert call.form == {"chat_id": CHAT, "caption": "Результат"}
    assert call.files == {"photo": ("work.jpg", b"\xff\xd8\xff\xe0 jpeg", "image/jpeg")}


def test_a_file_is_uploaded_with_sendDocument(telegram_api, conversation):
    message = queued_with_file(conversation, "price.pdf", "application/pdf", b"%PDF-1.4 price")

    deliver_message(message.id)

    [call] = telegram_api.calls
    assert call.method == "sendDocument"
    assert call.form == {"chat_id": CHAT}
    assert call.files == {"document": ("price.pdf", b"%PDF-1.4 price", "application/pdf")}


def test_a_client_who_blocked_the_bot_fails_the_reply_and_is_marked_blocked(
    telegram_api, conversation, admin
):
    telegram_api.answer("sendMessage", 403, BLOCKED)
    reply = messaging.send_reply(conversation.id, admin, "Ждём вас!")

    assert deliver_message(reply.id) == "blocked"

    reply = reload(reply)
    assert reply.delivery_status == "failed"
    assert reply.delivery_error == "Forbidden: bot was blocked by the user"
    assert db.session.get(Contact, conversation.contact_id).blocked is True


def test_flood_control_retries_no_sooner_than_telegram_asks(telegram_api, conversation, admin):
    telegram_api.answer("sendMessage", 429, FLOOD)
    reply = messaging.send_reply(conversation.id, admin, "Ждём вас!")
    before = int(time.time())  # RQ keeps scheduled times to the second

    assert deliver_message(reply.id) == "retry"

    reply = reload(reply)
    assert reply.delivery_status == "queued"
    assert reply.data["last_error"] == "Too Many Requests: retry after 35"
    at = ScheduledJobRegistry(queue=get_queue()).get_scheduled_time(f"deliver-{reply.id}-2")
    assert at.timestamp() >= before + 35


def test_a_bad_gateway_from_telegram_is_tried_again_later(telegram_api, conversation, admin):
    telegram_api.answer("sendMessage", 502, BAD_GATEWAY)
    reply = messaging.send_reply(conversation.id, admin, "Ждём вас!")

    assert deliver_message(reply.id) == "retry"
    assert reload(reply).delivery_status == "queued"


@pytest.mark.parametrize(
    "answer, shown", [(CHAT_NOT_FOUND, "Bad Request: chat not found"), (UNAUTHORIZED, "Unauthorized")]
)
def test_a_refusal_fails_the_reply_with_telegrams_description(
    telegram_api, conversation, admin, answer, shown
):
    telegram_api.answer("sendMessage", answer["error_code"], answer)
    reply = messaging.send_reply(conversation.id, admin, "Ждём вас!")

    assert deliver_message(reply.id) == "failed"

    reply = reload(reply)
    assert (reply.delivery_status, reply.delivery_error) == ("failed", shown)
    assert TOKEN not in reply.delivery_error
    assert db.session.get(Contact, conversation.contact_id).blocked is False


# --- media ------------------------------------------------------------------------------------


def test_a_clients_photo_is_fetched_with_getFile_then_the_file_url(telegram_api, channel):
    telegram_api.files["AgACAgIAAxkBAAIBZ2VhX1large"] = ("photos/file_12.jpg", b"\xff\xd8 the photo")

    fetched = adapter.fetch_media(channel_ref(channel), "AgACAgIAAxkBAAIBZ2VhX1large")

    assert telegram_api.of("getFile")[0].json == {"file_id": "AgACAgIAAxkBAAIBZ2VhX1large"}
    assert (fetched.content, fetched.content_type, fetched.filename) == (
        b"\xff\xd8 the photo",
        "image/jpeg",
        "file_12.jpg",
    )


def test_a_file_telegram_no_longer_has_fails_for_good(telegram_api, channel):
    telegram_api.answer(
        "getFile", 400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"}
    )

    with pytest.raises(PermanentError, match="invalid file_id"):
        adapter.fetch_media(channel_ref(channel), "gone")


# --- webhook registration and health ----------------------------------------------------------


def test_with_an_https_address_the_webhook_is_registered_with_the_secret(telegram_api, app, channel):
    app.config["PUBLIC_URL"] = "https://salon.example"

    adapter.register_webhook(channel_ref(channel))

    [call] = telegram_api.calls
    assert call.method == "setWebhook"
    assert call.json == {
        "url": f"https://salon.example/webhooks/{channel.uid}",
        "secret_token": SECRET,
        "allowed_updates": list(ALLOWED_UPDATES),
    }


@pytest.mark.parametrize(
    "public_url, settings", [("http://127.0.0.1:5000", {}), ("https://salon.example", {"mode": "polling"})]
)
def test_a_polling_channel_deletes_its_webhook_instead(telegram_api, app, public_url, settings):
    app.config["PUBLIC_URL"] = public_url
    channel = make_telegram(**settings)

    adapter.register_webhook(channel_ref(channel))

    assert [c.method for c in telegram_api.calls] == ["deleteWebhook"]


def test_a_healthy_bot_reports_its_username_for_deep_links(telegram_api, app, channel):
    app.config["PUBLIC_URL"] = "https://salon.example"
    telegram_api.webhook = {"url": f"https://salon.example/webhooks/{channel.uid}", "pending_update_count": 0}

    health = adapter.check_health(channel_ref(channel))

    assert health.ok
    # merged into the channel's settings: nothing that would overwrite the owner's choices (mode, bot)
    assert health.details == {"username": "okno_salon_bot", "bot_name": "Okno Salon"}
    assert [c.method for c in telegram_api.calls] == ["getMe", "getWebhookInfo"]


def test_a_recent_webhook_error_marks_the_channel_broken_with_telegrams_words(telegram_api, app, channel):
    app.config["PUBLIC_URL"] = "https://salon.example"
    telegram_api.webhook = {
        "url": f"https://salon.example/webhooks/{channel.uid}",
        "pending_update_count": 7,
        "last_error_date": int(utcnow().timestamp()) - 120,
        "last_error_message": "Wrong response from the webhook: 502 Bad Gateway",
    }

    health = adapter.check_health(channel_ref(channel))

    assert not health.ok
    assert "Wrong response from the webhook: 502 Bad Gateway" in health.reason


def test_an_old_webhook_error_no_longer_counts(telegram_api, app, channel):
    app.config["PUBLIC_URL"] = "https://salon.example"
    telegram_api.webhook = {
        "url": f"https://salon.example/webhooks/{channel.uid}",
        "pending_update_count": 0,
        "last_error_date": int(utcnow().timestamp()) - 2 * 86400,
        "last_error_message": "Connection timed out",
    }

    assert adapter.check_health(channel_ref(channel)).ok


def test_a_webhook_registered_elsewhere_marks_the_channel_broken(telegram_api, app, channel):
    app.config["PUBLIC_URL"] = "https://salon.example"
    telegram_api.webhook = {"url": "https://old-host.example/hook", "pending_update_count": 3}

    health = adapter.check_health(channel_ref(channel))

    assert not health.ok
    assert health.details["username"] == "okno_salon_bot"


def test_a_revoked_token_marks_the_channel_broken(telegram_api, app):
    channel = make_telegram({"token": "7000000001:revoked", "secret": SECRET})

    health = adapter.check_health(channel_ref(channel))

    assert not health.ok
    assert "Unauthorized" in health.reason
    assert "revoked" not in health.reason  # the token never shows


def test_telegram_out_of_reach_is_reported_as_such(app, channel):
    app.config["TELEGRAM_API_URL"] = f"http://127.0.0.1:{free_port()}"

    health = adapter.check_health(channel_ref(channel))

    assert not health.ok
    assert "did not answer" in health.reason
