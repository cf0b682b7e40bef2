"""WhatsApp Cloud API webhooks: the payloads Meta documents, posted to /webhooks/<uid> and signed."""

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from extensions import db
from models import Contact, Conversation, Message
from services.channels import encrypt_credentials
from tests.factories import make_channel, make_conversation, make_message

PAYLOADS = Path(__file__).parent / "payloads"
APP_SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
VERIFY_TOKEN = "okno-verify-7c1d"
PHONE_NUMBER_ID = "106540352242922"
WA_ID = "16505551234"
OUR_WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MDRCRkM4MUE0QjBGQ0M5RTkA"


def payload(platform: str, name: str) -> bytes:
    return (PAYLOADS / platform / f"{name}.json").read_bytes()


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(client, channel, body: bytes, signature: str | None = "auto"):
    headers = {"Content-Type": "application/json"}
    if signature == "auto":
        signature = sign(body)
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return client.post(f"/webhooks/{channel.uid}", data=body, headers=headers)


def whatsapp_channel(**credentials):
    creds = {
        "phone_number_id": PHONE_NUMBER_ID,
        "access_token": "EAAG-test-token",
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        **credentials,
    }
    return make_channel("whatsapp", credentials=encrypt_credentials(creds))


def stored(channel) -> list[Message]:
    db.session.rollback()
    return db.session.scalars(
        select(Message)
        .where(Message.channel_id == channel.id, Message.direction == "in")
        .order_by(Message.id)
    ).all()


def our_message(channel, external_id: str = OUR_WAMID, status: str = "sent") -> Message:
    """A reply the salon sent earlier (the platform's statuses and quotes refer to it)."""
    conversation = db.session.scalars(
        select(Conversation).where(Conversation.channel_id == channel.id)
    ).first() or make_conversation(channel=channel)
    return make_message(
        conversation, "Ждём вас в 15:00", direction="out", external_id=external_id, delivery_status=status
    )


@pytest.fixture
def channel(app):
    return whatsapp_channel()


# --- messages ----------------------------------------------------------------------------------


def test_a_text_message_lands_in_the_inbox_with_the_senders_name_and_phone(client, channel):
    response = post_webhook(client, channel, payload("whatsapp", "text"))
    assert (response.status_code, response.get_data(as_text=True)) == (200, "ok")
    [message] = stored(channel)
    assert message.text == "Does it come in another color?"
    assert message.external_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgAA="
    contact = db.session.scalars(select(Contact).where(Contact.channel_id == channel.id)).one()
    assert (contact.external_id, contact.display_name, contact.phone) == (
        WA_ID,
        "Sheena Nelson",
        "+16505551234",
    )


def test_the_same_update_delivered_twice_is_stored_once(client, channel):
    body = payload("whatsapp", "text")
    assert post_webhook(client, channel, body).status_code == 200
    assert post_webhook(client, channel, body).status_code == 200
    assert len(stored(channel)) == 1


def test_a_reply_to_our_message_keeps_the_link_to_it(client, channel):
    post_webhook(client, channel, payload("whatsapp", "text"))
    quoted = our_message(channel, "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MDRCRkM4MUE0QjBGQ0M5RTkA")
    post_webhook(client, channel, payload("whatsapp", "text_reply"))
    reply = stored(channel)[-1]
    assert (reply.text, reply.reply_to_id) == ("Yes, 15:00 suits me", quoted.id)


@pytest.mark.parametrize(
    ("name", "kind", "text", "filename", "content_type", "media_id"),
    [
        ("image", "image", "This is how my hair looks now", "image-1003383421387256.jpg", "image/jpeg",
         "1003383421387256"),
        ("document", "file", "Price list", "prices.pdf", "application/pdf", "1003383421387257"),
        ("audio", "voice", "", "audio-1003383421387258.oga", "audio/ogg", "1003383421387258"),
        ("video", "video", "The result!", "video-1003383421387259.mp4", "video/mp4", "1003383421387259"),
        ("sticker", "sticker", "", "sticker-1003383421387260.webp", "image/webp", "1003383421387260"),
    ],
)  # fmt: skip
def test_media_messages_keep_the_media_id_for_the_fetch_job(
    client, channel, name, kind, text, filename, content_type, media_id
):
    assert post_webhook(client, channel, payload("whatsapp", name)).status_code == 200
    [message] = stored(channel)
    [attachment] = message.attachments
    assert (message.kind, message.text) == (kind, text)
    assert (attachment.filename, attachment.content_type, attachment.storage_path) == (
        filename,
        content_type,
        "",
    )
    assert message.data["media_urls"] == [media_id]


def test_a_location_keeps_its_coordinates_and_shows_the_place(client, channel):
    post_webhook(client, channel, payload("whatsapp", "location"))
    [message] = stored(channel)
    assert message.kind == "location"
    assert message.text == "Main Street Beauty, 1 Hacker Way, Menlo Park, CA 94025"
    place = message.data["context"]["location"]
    assert (round(place["lat"], 4), round(place["lon"], 4)) == (37.4833, -122.1496)


def test_a_shared_contact_offers_its_phone(client, channel):
    post_webhook(client, channel, payload("whatsapp", "contacts"))
    [message] = stored(channel)
    assert message.kind == "contact"
    assert message.text == "Barbara J. Johnson +1 (940) 555-1234"
    assert message.data["context"]["contact"] == {"name": "Barbara J. Johnson", "phone": "+1 (940) 555-1234"}


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("interactive_button_reply", "Confirm"),
        ("interactive_list_reply", "Haircut"),
        ("button", "Reschedule"),
    ],
)
def test_a_pressed_button_reads_as_its_title(client, channel, name, text):
    post_webhook(client, channel, payload("whatsapp", name))
    [message] = stored(channel)
    assert (message.kind, message.text) == ("text", text)


@pytest.mark.parametrize("name", ["reaction", "template_status_update"])
def test_events_we_do_not_handle_are_answered_200_and_ignored(client, channel, name):
    response = post_webhook(client, channel, payload("whatsapp", name))
    assert response.status_code == 200
    assert stored(channel) == []


def test_an_update_for_another_number_of_the_same_app_is_ignored(client, app):
    channel = whatsapp_channel(phone_number_id="999999999999999")
    assert post_webhook(client, channel, payload("whatsapp", "text")).status_code == 200
    assert stored(channel) == []


# --- statuses ----------------------------------------------------------------------------------


def test_delivery_statuses_move_the_ticks_forward_and_never_back(client, channel):
    message = our_message(channel)
    post_webhook(client, channel, payload("whatsapp", "status_delivered"))
    assert db.session.get(Message, message.id).delivery_status == "delivered"
    post_webhook(client, channel, payload("whatsapp", "status_read"))
    db.session.rollback()
    assert db.session.get(Message, message.id).delivery_status == "read"
    post_webhook(client, channel, payload("whatsapp", "status_sent"))
    db.session.rollback()
    assert db.session.get(Message, message.id).delivery_status == "read"


def test_a_message_outside_the_24_hour_window_fails_saying_so(client, channel):
    message = our_message(channel)
    post_webhook(client, channel, payload("whatsapp", "status_failed_131047"))
    message = db.session.get(Message, message.id)
    assert message.delivery_status == "failed"
    assert "24-hour" in message.delivery_error
    assert "template" in message.delivery_error


def test_another_failure_shows_whatsapps_title_details_and_code(client, channel):
    message = our_message(channel)
    post_webhook(client, channel, payload("whatsapp", "status_failed_131026"))
    message = db.session.get(Message, message.id)
    assert message.delivery_status == "failed"
    assert message.delivery_error == "Message undeliverable: Message Undeliverable. (code 131026)"


# --- authenticity and malformed bodies ----------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [
        lambda body: None,
        lambda body: "",
        lambda body: "sha256=" + "0" * 64,
        lambda body: sign(b"another body"),
        lambda body: sign(body, secret="another secret"),
        lambda body: sign(body).removeprefix("sha256="),
    ],
    ids=["missing", "empty", "zeros", "other-body", "other-secret", "no-prefix"],
)
def test_a_missing_or_wrong_signature_is_refused_with_403(client, channel, signature):
    body = payload("whatsapp", "text")
    response = post_webhook(client, channel, body, signature=signature(body))
    assert response.status_code == 403
    assert stored(channel) == []


def test_a_channel_without_an_app_secret_accepts_no_webhook(client, app):
    channel = make_channel(
        "whatsapp", credentials=encrypt_credentials({"phone_number_id": PHONE_NUMBER_ID, "access_token": "t"})
    )
    assert post_webhook(client, channel, payload("whatsapp", "text")).status_code == 403


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"entry": []}).encode(), "object"),
        (json.dumps({"object": "whatsapp_business_account", "entry": {"id": 1}}).encode(), "entry"),
        (
            json.dumps(
                {
                    "object": "whatsapp_business_account",
                    "entry": [{"changes": [{"field": "messages", "value": 5}]}],
                }
            ).encode(),
            "value",
        ),
        (
            json.dumps(
                {
                    "object": "whatsapp_business_account",
                    "entry": [
                        {"changes": [{"field": "messages", "value": {"messages": [{"type": "text"}]}}]}
                    ],
                }
            ).encode(),
            "from",
        ),
    ],
)
def test_a_malformed_body_is_answered_400_with_the_reason(client, channel, body, reason):
    response = post_webhook(client, channel, body)
    assert response.status_code == 400
    assert reason in response.get_json()["error"]


# --- the GET handshake -------------------------------------------------------------------------


def test_the_verification_handshake_echoes_the_challenge(client, channel):
    response = client.get(
        f"/webhooks/{channel.uid}",
        query_string={
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "1158201444",
        },
    )
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "1158201444"
    assert response.mimetype == "text/plain"


@pytest.mark.parametrize(
    "args",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
        {"hub.challenge": "1158201444"},
    ],
    ids=["wrong-token", "wrong-mode", "no-token"],
)
def test_the_handshake_with_a_wrong_token_or_mode_is_refused(client, channel, args):
    response = client.get(f"/webhooks/{channel.uid}", query_string=args)
    assert response.status_code == 403
    assert "1158201444" not in response.get_data(as_text=True)
