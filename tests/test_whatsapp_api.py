"""WhatsApp Cloud API outbound: a local stand-in for graph.facebook.com (pytest-httpserver) checks
what we send and answers as Meta documents, errors included."""

import json
from datetime import timedelta

import pytest
from werkzeug import Response

from channels import get_adapter
from channels.base import (
    ChannelSettings,
    OutboundAttachment,
    OutboundMessage,
    PermanentError,
    TemporaryError,
)
from extensions import db
from jobs.delivery import deliver_message
from models import Channel, Message
from models.base import utcnow
from services import inbound, messaging
from services.channels import channel_ref
from tests.factories import committed, make_conversation, make_message, make_user
from tests.test_whatsapp_webhooks import PHONE_NUMBER_ID, whatsapp_channel

TOKEN = "EAAG-test-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
WABA_ID = "102290129340398"
SENT_WAMID = "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"


def accepted(wamid: str = SENT_WAMID, wa_id: str = "16505551234") -> dict:
    """Meta's answer to a message it took."""
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": wa_id, "wa_id": wa_id}],
        "messages": [{"id": wamid, "message_status": "accepted"}],
    }


def graph_error(
    code: int, message: str, title: str = "", details: str = "", subcode: int | None = None
) -> dict:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf123"}
    if subcode is not None:
        error["error_subcode"] = subcode
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    if title:
        error["error_user_title"] = title
    return {"error": error}


@pytest.fixture
def graph(app, httpserver):
    app.config["WHATSAPP_API_URL"] = httpserver.url_for("/v21.0")
    return httpserver


@pytest.fixture
def admin(app):
    return make_user(name="Анна Смирнова")


@pytest.fixture
def conversation(app):
    """A client who wrote an hour ago: the 24-hour window is open."""
    channel = whatsapp_channel(waba_id=WABA_ID)
    conversation = make_conversation(channel=channel, name="Sheena Nelson")
    conversation.contact.external_id = "16505551234"
    db.session.commit()
    make_message(conversation, "Можно на субботу?", at=utcnow() - timedelta(hours=1), external_id="wamid.IN1")
    return conversation


def messages_endpoint() -> str:
    return f"/v21.0/{PHONE_NUMBER_ID}/messages"


def reload(message: Message) -> Message:
    return committed(Message, message.id)


# --- text, reply-to, templates -----------------------------------------------------------------


def test_a_reply_goes_out_as_text_with_the_bearer_token_and_keeps_the_wamid(graph, conversation, admin):
    graph.expect_oneshot_request(
        messages_endpoint(),
        method="POST",
        headers=BEARER,
        json={
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "16505551234",
            "type": "text",
            "text": {"preview_url": False, "body": "Да, в 15:00 свободно"},
        },
    ).respond_with_json(accepted())
    message = messaging.send_reply(conversation.id, admin, "Да, в 15:00 свободно")
    assert deliver_message(message.id) == "sent"
    graph.check_assertions()
    message = reload(message)
    assert (message.delivery_status, message.external_id) == ("sent", SENT_WAMID)


def test_a_reply_to_a_client_message_quotes_it(graph, conversation, admin):
    quoted = db.session.scalars(db.select(Message).where(Message.external_id == "wamid.IN1")).one()
    graph.expect_oneshot_request(
        messages_endpoint(),
        method="POST",
        headers=BEARER,
        json={
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "16505551234",
            "type": "text",
            "text": {"preview_url": False, "body": "Записала вас"},
            "context": {"message_id": "wamid.IN1"},
        },
    ).respond_with_json(accepted())
    message = messaging.send_reply(conversation.id, admin, "Записала вас", reply_to_id=quoted.id)
    assert deliver_message(message.id) == "sent"
    graph.check_assertions()


def test_a_template_goes_out_with_its_language_and_body_parameters(graph, conversation, admin):
    channel = db.session.get(Channel, conversation.channel_id)
    channel.settings = {
        "templates": [
            {"name": "visit_reminder", "language": "ru", "body": "{{1}}, ждём вас {{2}}", "params": 2}
        ]
    }
    db.session.commit()
    graph.expect_oneshot_request(
        messages_endpoint(),
        method="POST",
        headers=BEARER,
        json={
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "16505551234",
            "type": "template",
            "template": {
                "name": "visit_reminder",
                "language": {"code": "ru"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": "Шина"},
                            {"type": "text", "text": "в субботу"},
                        ],
                    }
                ],
            },
        },
    ).respond_with_json(accepted())
    message = messaging.send_template(conversation.id, admin, "visit_reminder", "ru", ["Шина", "в субботу"])
    assert deliver_message(message.id) == "sent"
    graph.check_assertions()
    message = reload(message)
    assert (message.kind, message.text, message.delivery_status) == (
        "template",
        "Шина, ждём вас в субботу",
        "sent",
    )


def test_a_template_with_named_parameters_names_each_one(graph, app):
    channel = channel_ref(whatsapp_channel())
    graph.expect_oneshot_request(
        messages_endpoint(),
        method="POST",
        json={
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "16505551234",
            "type": "template",
            "template": {
                "name": "order_ready",
                "language": {"code": "en_US"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [{"type": "text", "text": "Sheena", "parameter_name": "name"}],
                    }
                ],
            },
        },
    ).respond_with_json(accepted())
    template = {"name": "order_ready", "language": "en_US", "params": ["Sheena"], "param_names": ["name"]}
    result = get_adapter("whatsapp").send(channel, outbound(kind="template", template=template, text=""))
    assert result.external_id == SENT_WAMID
    graph.check_assertions()


# --- media -------------------------------------------------------------------------------------


def outbound(text="", attachments=(), **kw) -> OutboundMessage:
    return OutboundMessage(
        message_id=1,
        conversation_id=1,
        contact_id=1,
        contact_external_id="16505551234",
        text=text,
        attachments=attachments,
        **kw,
    )


class Upload:
    """The stand-in's /media endpoint: remembers the multipart parts it got."""

    def __init__(self, media_id: str):
        self.media_id = media_id
        self.parts: dict = {}

    def __call__(self, request):
        upload = request.files["file"]
        self.parts = {
            "form": request.form.to_dict(),
            "filename": upload.filename,
            "content_type": upload.content_type,
            "content": upload.read(),
            "authorization": request.headers.get("Authorization"),
        }
        return Response(json.dumps({"id": self.media_id}), content_type="application/json")


@pytest.mark.parametrize(
    ("filename", "content_type", "sent_as"),
    [("hair.jpg", "image/jpeg", "image"), ("prices.pdf", "application/pdf", "document")],
)
def test_a_file_is_uploaded_first_then_sent_by_its_media_id(
    graph, app, tmp_path, filename, content_type, sent_as
):
    path = tmp_path / filename
    path.write_bytes(b"\x89file-bytes")
    upload = Upload("1166846181421424")
    graph.expect_oneshot_request(f"/v21.0/{PHONE_NUMBER_ID}/media", method="POST").respond_with_handler(
        upload
    )
    media = {"id": "1166846181421424", "caption": "Вот прайс"}
    if sent_as == "document":
        media["filename"] = filename
    graph.expect_oneshot_request(
        messages_endpoint(),
        method="POST",
        headers=BEARER,
        json={
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "16505551234",
            "type": sent_as,
            sent_as: media,
        },
    ).respond_with_json(accepted())
    message = outbound("Вот прайс", (OutboundAttachment(filename, content_type, str(path)),))
    result = get_adapter("whatsapp").send(channel_ref(whatsapp_channel()), message)
    graph.check_assertions()
    assert result.external_id == SENT_WAMID
    assert upload.parts == {
        "form": {"messaging_product": "whatsapp", "type": content_type},
        "filename": filename,
        "content_type": content_type,
        "content": b"\x89file-bytes",
        "authorization": f"Bearer {TOKEN}",
    }


def test_a_clients_photo_is_fetched_through_its_media_id_with_the_token(graph, app):
    graph.expect_oneshot_request("/v21.0/1003383421387256", method="GET", headers=BEARER).respond_with_json(
        {
            "messaging_product": "whatsapp",
            "url": graph.url_for("/whatsapp_business/attachments/?mid=1003383421387256&ext=1"),
            "mime_type": "image/jpeg",
            "sha256": "XQ8WHBJ32pWvB5X6N5LSfmeaNnDRvBuE4dNeanTzjEE=",
            "file_size": 4,
            "id": "1003383421387256",
        }
    )
    graph.expect_oneshot_request(
        "/whatsapp_business/attachments/", method="GET", headers=BEARER
    ).respond_with_data(b"\xff\xd8\xff\xe0", content_type="image/jpeg")
    fetched = get_adapter("whatsapp").fetch_media(channel_ref(whatsapp_channel()), "1003383421387256")
    graph.check_assertions()
    assert (fetched.content, fetched.content_type) == (b"\xff\xd8\xff\xe0", "image/jpeg")


def test_an_expired_media_id_is_a_permanent_failure(graph, app):
    graph.expect_oneshot_request("/v21.0/1003383421387256", method="GET").respond_with_json(
        graph_error(
            100, "Unsupported get request. Object with ID '1003383421387256' does not exist", subcode=33
        ),
        status=400,
    )
    with pytest.raises(PermanentError, match="does not exist"):
        get_adapter("whatsapp").fetch_media(channel_ref(whatsapp_channel()), "1003383421387256")


# --- errors ------------------------------------------------------------------------------------


def test_the_closed_24_hour_window_fails_the_message_with_a_clear_reason(graph, conversation, admin):
    graph.expect_oneshot_request(messages_endpoint(), method="POST").respond_with_json(
        graph_error(
            131047,
            "Re-engagement message",
            details="Message failed to send because more than 24 hours have passed since the customer last "
            "replied to this number.",
        ),
        status=400,
    )
    message = messaging.send_reply(conversation.id, admin, "Напоминаем о записи")
    assert deliver_message(message.id) == "failed"
    message = reload(message)
    assert message.delivery_status == "failed"
    assert "24-hour reply window has closed" in message.delivery_error


def test_an_invalid_token_fails_the_message_with_metas_description(graph, conversation, admin):
    graph.expect_oneshot_request(messages_endpoint(), method="POST").respond_with_json(
        graph_error(
            190, "Error validating access token: Session has expired on Friday, 13-Jun-25.", subcode=463
        ),
        status=401,
    )
    message = messaging.send_reply(conversation.id, admin, "Здравствуйте")
    assert deliver_message(message.id) == "failed"
    error = reload(message).delivery_error
    assert "access token is invalid or expired" in error
    assert "Session has expired" in error


@pytest.mark.parametrize(
    ("status", "body", "headers", "retry_after"),
    [
        (429, graph_error(130429, "Rate limit hit"), {}, 60.0),
        (400, graph_error(131056, "(Business Account, Consumer Account) pair rate limit hit"), {}, 60.0),
        (400, graph_error(80007, "Rate limit issues"), {"Retry-After": "120"}, 120.0),
        (500, graph_error(1, "An unknown error occurred"), {}, None),
        (503, "Service Unavailable", {}, None),
    ],
    ids=["throughput-429", "pair-limit", "waba-limit-retry-after", "unknown-500", "plain-503"],
)
def test_rate_limits_and_server_errors_are_temporary(graph, app, status, body, headers, retry_after):
    answer = (
        Response(json.dumps(body), status=status, headers=headers, content_type="application/json")
        if isinstance(body, dict)
        else Response(body, status=status)
    )
    graph.expect_oneshot_request(messages_endpoint(), method="POST").respond_with_response(answer)
    with pytest.raises(TemporaryError) as caught:
        get_adapter("whatsapp").send(channel_ref(whatsapp_channel()), outbound("Здравствуйте"))
    assert caught.value.retry_after == retry_after


def test_a_rate_limited_reply_stays_queued_for_another_try(graph, conversation, admin):
    graph.expect_oneshot_request(messages_endpoint(), method="POST").respond_with_json(
        graph_error(130429, "Rate limit hit"), status=429
    )
    message = messaging.send_reply(conversation.id, admin, "Здравствуйте")
    assert deliver_message(message.id) == "retry"
    message = reload(message)
    assert message.delivery_status == "queued"
    assert "Rate limit hit" in message.data["last_error"]


def test_a_refused_request_shows_metas_message_and_code(graph, app):
    graph.expect_oneshot_request(messages_endpoint(), method="POST").respond_with_json(
        graph_error(131026, "Message undeliverable", details="Message Undeliverable."), status=400
    )
    with pytest.raises(PermanentError) as caught:
        get_adapter("whatsapp").send(channel_ref(whatsapp_channel()), outbound("Здравствуйте"))
    assert caught.value.reason == "Message undeliverable: Message Undeliverable. (code 131026)"


# --- health, webhook registration, templates sync ----------------------------------------------


def test_the_health_check_reads_the_number_and_the_webhook_subscription(graph, app):
    graph.expect_oneshot_request(f"/v21.0/{PHONE_NUMBER_ID}", method="GET", headers=BEARER).respond_with_json(
        {
            "verified_name": "Okno Demo Salon",
            "display_phone_number": "+7 495 123-45-67",
            "quality_rating": "GREEN",
            "id": PHONE_NUMBER_ID,
        }
    )
    graph.expect_oneshot_request(f"/v21.0/{WABA_ID}/subscribed_apps", method="GET").respond_with_json(
        {"data": [{"whatsapp_business_api_data": {"id": "670843887433847", "name": "Okno"}}]}
    )
    health = get_adapter("whatsapp").check_health(channel_ref(whatsapp_channel(waba_id=WABA_ID)))
    graph.check_assertions()
    assert health.ok
    assert health.details == {
        "display_phone_number": "+7 495 123-45-67",
        "verified_name": "Okno Demo Salon",
        "quality_rating": "GREEN",
    }


def test_a_revoked_token_makes_the_channel_unhealthy_with_the_reason(graph, app):
    graph.expect_oneshot_request(f"/v21.0/{PHONE_NUMBER_ID}", method="GET").respond_with_json(
        graph_error(190, "The access token could not be decrypted"), status=401
    )
    health = get_adapter("whatsapp").check_health(channel_ref(whatsapp_channel()))
    assert not health.ok
    assert "The access token could not be decrypted" in health.reason


def test_an_app_not_subscribed_to_the_account_is_unhealthy(graph, app):
    graph.expect_oneshot_request(f"/v21.0/{PHONE_NUMBER_ID}", method="GET").respond_with_json(
        {"display_phone_number": "+7 495 123-45-67", "id": PHONE_NUMBER_ID}
    )
    graph.expect_oneshot_request(f"/v21.0/{WABA_ID}/subscribed_apps", method="GET").respond_with_json(
        {"data": []}
    )
    health = get_adapter("whatsapp").check_health(channel_ref(whatsapp_channel(waba_id=WABA_ID)))
    assert not health.ok
    assert "not subscribed" in health.reason


def test_registering_points_the_accounts_webhooks_at_the_channel(graph, app):
    app.config["PUBLIC_URL"] = "https://salon.example"
    channel = whatsapp_channel(waba_id=WABA_ID)
    graph.expect_oneshot_request(
        f"/v21.0/{WABA_ID}/subscribed_apps",
        method="POST",
        headers=BEARER,
        json={
            "override_callback_uri": f"https://salon.example/webhooks/{channel.uid}",
            "verify_token": "okno-verify-7c1d",
        },
    ).respond_with_json({"success": True})
    get_adapter("whatsapp").register_webhook(channel_ref(channel))
    graph.check_assertions()


def message_template(name, language, body, **extra) -> dict:
    components = [{"type": "BODY", "text": body}, *extra.pop("components", [])]
    return {"name": name, "language": language, "status": "APPROVED", "category": "UTILITY",
            "components": components, "id": f"id-{name}-{language}", **extra}  # fmt: skip


def test_a_sync_refreshes_the_approved_templates_page_by_page(graph, app):
    channel = whatsapp_channel(waba_id=WABA_ID)
    graph.expect_oneshot_request(
        f"/v21.0/{WABA_ID}/message_templates",
        method="GET",
        headers=BEARER,
        query_string={
            "status": "APPROVED",
            "fields": "name,language,status,category,parameter_format,components",
            "limit": "100",
        },
    ).respond_with_json(
        {
            "data": [
                message_template("visit_reminder", "ru", "{{1}}, ждём вас {{2}} в салоне"),
                message_template(
                    "promo_photo",
                    "ru",
                    "Новая коллекция",
                    components=[
                        {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW"]}}
                    ],
                ),
            ],
            "paging": {
                "cursors": {"before": "MAZDZD", "after": "MQZDZD"},
                "next": graph.url_for(f"/v21.0/{WABA_ID}/message_templates") + "?after=MQZDZD&limit=100",
            },
        }
    )
    graph.expect_oneshot_request(
        f"/v21.0/{WABA_ID}/message_templates", method="GET", query_string={"after": "MQZDZD", "limit": "100"}
    ).respond_with_json(
        {
            "data": [
                message_template(
                    "order_ready", "en_US", "Hi {{name}}, your order is ready", parameter_format="NAMED"
                )
            ],
            "paging": {"cursors": {"before": "MQZDZD", "after": "MgZDZD"}},
        }
    )
    events = get_adapter("whatsapp").resync(channel_ref(channel), None)
    graph.check_assertions()
    assert [type(e) for e in events] == [ChannelSettings]
    inbound.handle_events(channel.id, events)
    db.session.rollback()
    templates = db.session.get(Channel, channel.id).settings["templates"]
    assert templates == [
        {
            "name": "order_ready",
            "language": "en_US",
            "body": "Hi {{name}}, your order is ready",
            "params": 1,
            "param_names": ["name"],
        },
        {"name": "visit_reminder", "language": "ru", "body": "{{1}}, ждём вас {{2}} в салоне", "params": 2},
    ]


def test_a_sync_without_a_business_account_id_asks_nothing(graph, app):
    assert get_adapter("whatsapp").resync(channel_ref(whatsapp_channel()), None) == []
    assert graph.log == []
