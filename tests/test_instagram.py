"""Instagram messaging: Meta's webhook payloads in, direct messages and comment replies out through a
local stand-in for the Graph API."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug import Response

from channels import get_adapter
from channels.base import OutboundAttachment, OutboundMessage, PermanentError
from channels.instagram import short_id
from extensions import db
from jobs.delivery import deliver_message
from models import Contact, Conversation, Message
from models.base import utcnow
from services import messaging, windows
from services.channels import channel_ref, encrypt_credentials
from services.errors import ActionError
from tests.factories import committed, make_channel, make_conversation, make_message, make_user
from tests.test_whatsapp_api import graph_error
from tests.test_whatsapp_webhooks import APP_SECRET, VERIFY_TOKEN, payload, post_webhook

IG_USER_ID = "17841405822304914"
PAGE_ID = "105954558954427"
IGSID = "1254459154682919"
TOKEN = "IGQVJ-test-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
MID = (
    "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1ODIyMzA0OTE0OjM0MDI4MjM2Njg0MTcxMDMwMDk0OTEyODE3OTE0NjU3"
    "NzE5NjAxNToyMDI1MDYwODE"
)
COMMENT_ID = "17865799348089039"


def instagram_channel(**credentials):
    creds = {
        "ig_user_id": IG_USER_ID,
        "access_token": TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        **credentials,
    }
    return make_channel("instagram", credentials=encrypt_credentials(creds))


@pytest.fixture
def channel(app):
    return instagram_channel()


@pytest.fixture
def admin(app):
    return make_user(name="Анна Смирнова")


@pytest.fixture
def graph(app, httpserver):
    app.config["INSTAGRAM_API_URL"] = httpserver.url_for("/v21.0")
    return httpserver


def webhook(client, channel, name: str):
    return post_webhook(client, channel, payload("instagram", name))


def stored(channel, direction: str = "in") -> list[Message]:
    db.session.rollback()
    return db.session.scalars(
        select(Message)
        .where(Message.channel_id == channel.id, Message.direction == direction)
        .order_by(Message.id)
    ).all()


def reload(message: Message) -> Message:
    return committed(Message, message.id)  # the delivery job wrote in a session of its own


def conversation_with(channel, external_id: str = IGSID) -> Conversation:
    conversation = make_conversation(channel=channel, name="anna.hair")
    conversation.contact.external_id = external_id
    db.session.commit()
    return conversation


# --- direct messages in ------------------------------------------------------------------------


def test_a_direct_message_lands_in_the_inbox(client, channel):
    response = webhook(client, channel, "message_text")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "ok")
    [message] = stored(channel)
    assert (message.text, message.external_id) == (
        "Hi! Do you have a free slot on Saturday?",
        short_id(MID + "A"),
    )
    contact = db.session.scalars(select(Contact).where(Contact.channel_id == channel.id)).one()
    assert contact.external_id == IGSID


def test_the_same_direct_message_twice_is_stored_once(client, channel):
    webhook(client, channel, "message_text")
    webhook(client, channel, "message_text")
    assert len(stored(channel)) == 1


def test_a_photo_keeps_its_link_for_the_fetch_job(client, channel):
    webhook(client, channel, "message_image")
    [message] = stored(channel)
    [attachment] = message.attachments
    assert message.kind == "image"
    assert attachment.content_type == "image/jpeg"
    assert message.data["media_urls"] == [
        "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17954362145880327&signature=AbzN"
    ]


def test_a_shared_reel_arrives_as_its_link(client, channel):
    webhook(client, channel, "message_share")
    [message] = stored(channel)
    assert (message.kind, message.text) == ("text", "https://www.instagram.com/reel/C8xYz12abCD/")


def test_a_reply_to_our_message_keeps_the_link(client, channel):
    conversation = conversation_with(channel)
    ours = make_message(conversation, "Есть окно в 12:00", direction="out", external_id=short_id(MID + "Z"))
    webhook(client, channel, "message_reply")
    reply = stored(channel)[-1]
    assert (reply.text, reply.reply_to_id) == ("This one please", ours.id)


def test_our_own_echo_is_not_stored_as_a_client_message(client, channel):
    assert webhook(client, channel, "message_echo").status_code == 200
    assert stored(channel) == []


def test_a_message_the_client_deleted_stays_in_the_history(client, channel):
    webhook(client, channel, "message_text")
    assert webhook(client, channel, "message_deleted").status_code == 200
    [message] = stored(channel)
    assert message.text == "Hi! Do you have a free slot on Saturday?"


def test_an_edit_replaces_the_text_and_keeps_the_earlier_one(client, channel):
    webhook(client, channel, "message_text")
    webhook(client, channel, "message_edit")
    [message] = stored(channel)
    assert message.text == "Hi! Do you have a free slot on Sunday?"
    assert [r.text for r in message.revisions] == ["Hi! Do you have a free slot on Saturday?"]
    assert message.edited_at is not None


def test_seen_marks_our_message_read(client, channel):
    conversation = conversation_with(channel)
    ours = make_message(conversation, "Есть окно в 12:00", direction="out", external_id=short_id(MID + "Y"))
    ours.delivery_status = "sent"
    db.session.commit()
    webhook(client, channel, "message_seen")
    assert db.session.get(Message, ours.id).delivery_status == "read"


def test_a_reaction_is_answered_200_and_ignored(client, channel):
    assert webhook(client, channel, "reaction").status_code == 200
    assert stored(channel) == []


def test_a_wrong_signature_is_refused_with_403(client, channel):
    body = payload("instagram", "message_text")
    assert post_webhook(client, channel, body, signature="sha256=" + "ab" * 32).status_code == 403
    assert post_webhook(client, channel, body, signature=None).status_code == 403
    assert stored(channel) == []


def test_a_malformed_body_is_answered_400_with_the_reason(client, channel):
    body = json.dumps({"object": "instagram", "entry": [{"id": IG_USER_ID, "messaging": [{"message": {}}]}]})
    response = post_webhook(client, channel, body.encode())
    assert response.status_code == 400
    assert "sender" in response.get_json()["error"]


def test_the_verification_handshake_echoes_the_challenge(client, channel):
    args = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "8437271"}
    response = client.get(f"/webhooks/{channel.uid}", query_string=args)
    assert (response.status_code, response.get_data(as_text=True)) == (200, "8437271")
    args["hub.verify_token"] = "nope"
    assert client.get(f"/webhooks/{channel.uid}", query_string=args).status_code == 403


# --- comments ----------------------------------------------------------------------------------


def test_a_comment_on_the_salons_post_becomes_a_conversation_with_the_commenter(client, channel):
    assert webhook(client, channel, "comment").status_code == 200
    [message] = stored(channel)
    assert (message.text, message.external_id) == ("How much is this colouring?", COMMENT_ID)
    assert message.data["context"] == {"comment_id": COMMENT_ID, "media_id": "18068375821000000"}
    contact = db.session.scalars(select(Contact).where(Contact.channel_id == channel.id)).one()
    assert (contact.external_id, contact.display_name) == (IGSID, "anna.hair")


def test_the_salons_own_comment_is_not_a_client_message(client, channel):
    body = json.loads(payload("instagram", "comment"))
    body["entry"][0]["changes"][0]["value"]["from"] = {"id": IG_USER_ID, "username": "okno.salon"}
    assert post_webhook(client, channel, json.dumps(body).encode()).status_code == 200
    assert stored(channel) == []


def test_the_answer_to_a_comment_goes_back_as_a_comment_reply(graph, client, channel, admin):
    webhook(client, channel, "comment")
    conversation_id = stored(channel)[0].conversation_id
    graph.expect_oneshot_request(
        f"/v21.0/{COMMENT_ID}/replies", method="POST", headers=BEARER, data="message=1+500+%E2%82%BD"
    ).respond_with_json({"id": "17890455512345678"})
    message = messaging.send_reply(conversation_id, admin, "1 500 ₽")
    assert deliver_message(message.id) == "sent"
    graph.check_assertions()
    message = reload(message)
    assert (message.delivery_status, message.external_id) == ("sent", "17890455512345678")


def test_a_comment_can_be_answered_after_24_hours(app, channel, admin):
    conversation = conversation_with(channel)
    make_message(
        conversation,
        "Сколько стоит?",
        at=utcnow() - timedelta(days=3),
        external_id=COMMENT_ID,
        data={"context": {"comment_id": COMMENT_ID, "media_id": "1"}},
    )
    assert windows.window_open(conversation)
    assert messaging.send_reply(conversation.id, admin, "1 500 ₽").delivery_status == "queued"


def test_after_a_later_direct_message_the_answer_goes_as_a_direct_message(graph, client, channel, admin):
    comment = json.loads(payload("instagram", "comment"))
    comment["entry"][0]["time"] = int((utcnow() - timedelta(hours=2)).timestamp())
    direct = json.loads(payload("instagram", "message_text"))
    direct["entry"][0]["messaging"][0]["timestamp"] = int((utcnow() - timedelta(hours=1)).timestamp() * 1000)
    post_webhook(client, channel, json.dumps(comment).encode())
    post_webhook(client, channel, json.dumps(direct).encode())
    conversation_id = stored(channel)[0].conversation_id
    graph.expect_oneshot_request(
        f"/v21.0/{IG_USER_ID}/messages",
        method="POST",
        headers=BEARER,
        json={"recipient": {"id": IGSID}, "message": {"text": "Да, в 12:00"}},
    ).respond_with_json({"recipient_id": IGSID, "message_id": MID + "Q"})
    message = messaging.send_reply(conversation_id, admin, "Да, в 12:00")
    assert deliver_message(message.id) == "sent"
    graph.check_assertions()


# --- direct messages out -----------------------------------------------------------------------


def test_a_reply_goes_out_as_a_direct_message_with_the_token(graph, channel, admin):
    conversation = conversation_with(channel)
    make_message(conversation, "Hi!", at=utcnow() - timedelta(hours=2))
    graph.expect_oneshot_request(
        f"/v21.0/{IG_USER_ID}/messages",
        method="POST",
        headers=BEARER,
        json={"recipient": {"id": IGSID}, "message": {"text": "Здравствуйте! Есть окно в субботу."}},
    ).respond_with_json({"recipient_id": IGSID, "message_id": MID + "R"})
    message = messaging.send_reply(conversation.id, admin, "Здравствуйте! Есть окно в субботу.")
    assert deliver_message(message.id) == "sent"
    graph.check_assertions()
    assert reload(message).external_id == short_id(MID + "R")


def test_a_direct_reply_after_24_hours_is_refused(app, channel, admin):
    conversation = conversation_with(channel)
    make_message(conversation, "Hi!", at=utcnow() - timedelta(hours=25))
    with pytest.raises(ActionError, match="Instagram"):
        messaging.send_reply(conversation.id, admin, "Здравствуйте")


def test_instagrams_own_window_refusal_fails_the_message_with_a_clear_reason(graph, channel, admin):
    conversation = conversation_with(channel)
    make_message(conversation, "Hi!", at=utcnow() - timedelta(hours=23, minutes=59))
    graph.expect_oneshot_request(f"/v21.0/{IG_USER_ID}/messages", method="POST").respond_with_json(
        graph_error(10, "This message is sent outside of allowed window.", subcode=2534022), status=400
    )
    message = messaging.send_reply(conversation.id, admin, "Здравствуйте")
    assert deliver_message(message.id) == "failed"
    assert "24-hour reply window has closed" in reload(message).delivery_error


def test_a_client_who_blocked_the_account_is_marked_blocked(graph, channel, admin):
    conversation = conversation_with(channel)
    make_message(conversation, "Hi!", at=utcnow() - timedelta(hours=1))
    graph.expect_oneshot_request(f"/v21.0/{IG_USER_ID}/messages", method="POST").respond_with_json(
        graph_error(551, "This person isn't available right now.", subcode=1545041), status=400
    )
    message = messaging.send_reply(conversation.id, admin, "Здравствуйте")
    assert deliver_message(message.id) == "blocked"
    db.session.rollback()
    assert db.session.get(Message, message.id).delivery_status == "failed"
    assert db.session.get(Conversation, conversation.id).contact.blocked


def test_a_file_is_uploaded_through_the_linked_page_then_sent_by_its_attachment_id(graph, app, tmp_path):
    path = tmp_path / "price.png"
    path.write_bytes(b"\x89PNG-bytes")
    seen = {}

    def upload(request):
        seen.update(
            form=request.form.to_dict(),
            filename=request.files["filedata"].filename,
            content_type=request.files["filedata"].content_type,
            authorization=request.headers.get("Authorization"),
        )
        return Response(json.dumps({"attachment_id": "1857777774821032"}), content_type="application/json")

    graph.expect_oneshot_request(f"/v21.0/{PAGE_ID}/message_attachments", method="POST").respond_with_handler(
        upload
    )
    graph.expect_oneshot_request(
        f"/v21.0/{PAGE_ID}/messages",
        method="POST",
        headers=BEARER,
        json={
            "recipient": {"id": IGSID},
            "message": {"attachment": {"type": "image", "payload": {"attachment_id": "1857777774821032"}}},
        },
    ).respond_with_json({"recipient_id": IGSID, "message_id": MID + "F"})
    channel = instagram_channel(ig_user_id="", page_id=PAGE_ID)
    message = OutboundMessage(
        message_id=1,
        conversation_id=1,
        contact_id=1,
        contact_external_id=IGSID,
        text="",
        attachments=(OutboundAttachment("price.png", "image/png", str(path)),),
    )
    result = get_adapter("instagram").send(channel_ref(channel), message)
    graph.check_assertions()
    assert result.external_id == short_id(MID + "F")
    assert seen == {
        "form": {
            "platform": "instagram",
            "message": json.dumps({"attachment": {"type": "image", "payload": {"is_reusable": True}}}),
        },
        "filename": "price.png",
        "content_type": "image/png",
        "authorization": f"Bearer {TOKEN}",
    }


def test_a_file_without_a_linked_page_fails_saying_why(app, tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"x")
    message = OutboundMessage(
        1, 1, 1, IGSID, "", attachments=(OutboundAttachment("a.png", "image/png", str(path)),)
    )
    with pytest.raises(PermanentError, match="Facebook Page"):
        get_adapter("instagram").send(channel_ref(instagram_channel()), message)


def test_the_health_check_reads_the_account(graph, channel):
    graph.expect_oneshot_request(
        f"/v21.0/{IG_USER_ID}", method="GET", headers=BEARER, query_string={"fields": "id,username"}
    ).respond_with_json({"id": IG_USER_ID, "username": "okno.salon"})
    health = get_adapter("instagram").check_health(channel_ref(channel))
    assert health.ok
    assert health.details == {"id": IG_USER_ID, "username": "okno.salon"}


def test_an_expired_token_makes_the_channel_unhealthy(graph, channel):
    graph.expect_oneshot_request(f"/v21.0/{IG_USER_ID}", method="GET").respond_with_json(
        graph_error(190, "Error validating access token: Session has expired", subcode=463), status=400
    )
    health = get_adapter("instagram").check_health(channel_ref(channel))
    assert not health.ok
    assert "Session has expired" in health.reason
