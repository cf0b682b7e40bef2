"""Telegram updates posted to /webhooks/<uid>: the Bot API's own Update objects (tests/payloads/telegram),
checked by the secret-token header, stored once, with their kinds, edits, replies and blocks."""

import copy
import json

import pytest
from sqlalchemy import select

from extensions import db
from models import Contact, Conversation, Message
from services import messaging
from services.channels import encrypt_credentials
from tests.factories import make_channel, make_user
from tests.test_telegram_standin import CHAT, SECRET, TOKEN, make_telegram, payload, post_update


def client_messages(channel) -> list[Message]:
    db.session.rollback()
    return db.session.scalars(
        select(Message)
        .where(Message.channel_id == channel.id, Message.direction == "in")
        .order_by(Message.id)
    ).all()


def contact_of(channel) -> Contact:
    db.session.rollback()
    return db.session.scalars(select(Contact).where(Contact.channel_id == channel.id)).one()


@pytest.fixture
def channel(app):
    return make_telegram()


def test_a_text_message_lands_in_the_inbox_under_the_writers_name(client, channel):
    response = post_update(client, channel, payload("text"))

    assert response.status_code == 200
    [message] = client_messages(channel)
    assert message.text == "Здравствуйте! Можно записаться на стрижку в субботу?"
    assert message.external_id == f"{CHAT}:101"
    assert message.created_at.timestamp() == 1764150000
    contact = contact_of(channel)
    assert (contact.external_id, contact.display_name) == (CHAT, "Мария Иванова")
    conversation = db.session.get(Conversation, message.conversation_id)
    assert conversation.unread_count == 1
    assert conversation.last_message_preview.startswith("Здравствуйте!")


@pytest.mark.parametrize(
    "name, kind, text, attachment, file_id",
    [
        (
            "photo",
            "image",
            "Вот такую стрижку хочу",
            ("photo_102.jpg", "image/jpeg", 86213),
            "AgACAgIAAxkBAAIBZ2VhX1large",
        ),
        ("document", "file", "", ("сертификат.pdf", "application/pdf", 254310), "BQACAgIAAxkBAAIBaGVhX2doc"),
        ("voice", "voice", "", ("voice.ogg", "audio/ogg", 11234), "AwACAgIAAxkBAAIBaWVhX3voice"),
        (
            "video",
            "video",
            "Как у вас в прошлый раз",
            ("IMG_4821.MP4", "video/mp4", 2451877),
            "BAACAgIAAxkBAAIBamVhX4video",
        ),
        ("sticker", "sticker", "", ("sticker.webp", "image/webp", 23118), "CAACAgIAAxkBAAIBa2VhX5sticker"),
    ],
)
def test_media_messages_keep_their_kind_caption_and_file_for_the_fetch_job(
    client, channel, name, kind, text, attachment, file_id
):
    assert post_update(client, channel, payload(name)).status_code == 200

    [message] = client_messages(channel)
    assert (message.kind, message.text) == (kind, text)
    assert [(a.filename, a.content_type, a.size) for a in message.attachments] == [attachment]
    assert message.data["media_urls"] == [file_id]  # the largest photo size, fetched later by getFile


def test_a_sticker_keeps_its_emoji(client, channel):
    post_update(client, channel, payload("sticker"))
    [message] = client_messages(channel)
    assert message.data["context"] == {"sticker": {"emoji": "😍"}}


def test_a_location_keeps_its_coordinates(client, channel):
    post_update(client, channel, payload("location"))
    [message] = client_messages(channel)
    assert message.kind == "location"
    assert message.data["context"] == {"location": {"lat": 55.751244, "lon": 37.618423}}


def test_a_venue_is_a_location_with_its_name_and_address(client, channel):
    post_update(client, channel, payload("venue"))
    [message] = client_messages(channel)
    assert message.kind == "location"
    assert message.data["context"]["location"] == {
        "lat": 55.7558,
        "lon": 37.6173,
        "title": "ТЦ Охотный ряд",
        "address": "Манежная пл., 1, Москва",
    }


def test_a_shared_contact_is_offered_to_the_card_not_written_into_it(client, channel):
    post_update(client, channel, payload("contact"))

    [message] = client_messages(channel)
    assert message.kind == "contact"
    assert message.data["context"] == {
        "contact": {"phone": "79161234567", "name": "Мария Иванова", "own": True}
    }
    assert contact_of(channel).phone is None  # staff decide whether it goes to the client card


def test_a_reply_keeps_the_link_to_the_quoted_message(client, channel):
    post_update(client, channel, payload("text"))
    post_update(client, channel, payload("reply"))

    first, reply = client_messages(channel)
    assert reply.reply_to_id == first.id


def test_the_same_update_delivered_twice_is_stored_once(client, channel):
    first = post_update(client, channel, payload("text"))
    again = post_update(client, channel, payload("text"))

    assert (first.status_code, again.status_code) == (200, 200)
    assert len(client_messages(channel)) == 1
    conversation = db.session.scalars(select(Conversation).where(Conversation.channel_id == channel.id)).one()
    assert conversation.unread_count == 1


def test_an_edit_replaces_the_text_and_keeps_the_earlier_one(client, channel):
    post_update(client, channel, payload("text"))
    response = post_update(client, channel, payload("edited_message"))

    assert response.status_code == 200
    [message] = client_messages(channel)
    assert message.text == "Здравствуйте! Можно записаться на окрашивание в субботу?"
    assert message.edited_at.timestamp() == 1764150600
    assert [r.text for r in message.revisions] == ["Здравствуйте! Можно записаться на стрижку в субботу?"]


def test_blocking_the_bot_marks_the_contact_and_fails_queued_replies(client, channel):
    post_update(client, channel, payload("text"))
    conversation = db.session.scalars(select(Conversation).where(Conversation.channel_id == channel.id)).one()
    reply = messaging.send_reply(conversation.id, make_user(), "Да, на 12:00 есть место")

    response = post_update(client, channel, payload("my_chat_member_kicked"))

    assert response.status_code == 200
    assert contact_of(channel).blocked is True
    reply = db.session.get(Message, reply.id)
    assert reply.delivery_status == "failed"
    assert reply.delivery_error == "Bot blocked by the user"


def test_restarting_the_bot_clears_the_block(client, channel):
    post_update(client, channel, payload("text"))
    post_update(client, channel, payload("my_chat_member_kicked"))

    post_update(client, channel, payload("my_chat_member_member"))

    assert contact_of(channel).blocked is False


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x"])
def test_a_missing_or_wrong_secret_token_is_refused(client, channel, secret):
    response = post_update(client, channel, payload("text"), secret=secret)

    assert response.status_code == 403
    assert "Secret-Token" in response.get_json()["error"]
    assert client_messages(channel) == []


def test_a_channel_saved_without_a_secret_accepts_only_the_one_registered_for_it(app, client):
    from channels.telegram import webhook_secret
    from services.channels import channel_ref

    channel = make_channel("telegram", credentials=encrypt_credentials({"token": TOKEN}))
    derived = webhook_secret(channel_ref(channel))

    assert post_update(client, channel, payload("text"), secret="").status_code == 403
    assert post_update(client, channel, payload("text"), secret=SECRET).status_code == 403
    assert post_update(client, channel, payload("text"), secret=derived).status_code == 200


def _without(update: dict, *path: str) -> dict:
    update = copy.deepcopy(update)
    target = update
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return update


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"{not json", "not JSON"),
        (json.dumps([1, 2]), "JSON object"),
        (json.dumps(_without(payload("text"), "update_id")), "update_id"),
        (json.dumps(_without(payload("text"), "message", "chat")), "'chat'"),
        (json.dumps(_without(payload("text"), "message", "message_id")), "'message_id'"),
        (json.dumps(_without(payload("photo"), "message", "photo", 2, "file_id")), "file_id"),
    ],
)
def test_a_malformed_update_is_400_with_the_reason(client, channel, body, reason):
    response = post_update(client, channel, body)

    assert response.status_code == 400
    assert reason in response.get_json()["error"]


def test_an_update_kind_we_dont_handle_is_answered_200_and_ignored(client, channel):
    response = post_update(client, channel, payload("callback_query"))

    assert response.status_code == 200
    assert client_messages(channel) == []


def test_messages_from_group_chats_are_ignored(client, channel):
    response = post_update(client, channel, payload("group_message"))

    assert response.status_code == 200
    assert client_messages(channel) == []
    assert db.session.scalars(select(Contact).where(Contact.channel_id == channel.id)).all() == []


def test_an_unknown_channel_uid_is_404(client, app):
    response = client.post("/webhooks/nope", data="{}", content_type="application/json")
    assert response.status_code == 404
