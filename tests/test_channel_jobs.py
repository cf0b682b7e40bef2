"""Channel jobs against local stand-ins of the platforms: health checks, webhook set-up, Sync now,
media fetching, the scheduled checks, and sends through a broken or disabled channel failing fast."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select, update
from werkzeug import Response

from channels.base import Health, InboundAttachment, InboundMessage
from extensions import db
from jobs import get_queue
from jobs.channels import check_channel, resync_channel, setup_channel
from jobs.delivery import deliver_message
from jobs.media import fetch_media
from jobs.reconcile import reconcile_channels
from models import Attachment, Channel, Message
from models.base import utcnow
from services import channels, messaging
from services.db import begin_write
from services.errors import ActionError
from services.redis import get_redis
from tests.factories import committed, make_channel, make_conversation, make_user

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
VIBER_TOKEN = "445da6az1s345z78-dazcczb2542zv51a"
FILE_ID = "AgACAgIAAxkBAAIBZ2VhX1large"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 200 + b"\xff\xd9"
ME = {
    "ok": True,
    "result": {
        "id": 123456789,
        "is_bot": True,
        "first_name": "Салон Окно",
        "username": "okno_salon_bot",
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
    },
}
NO_WEBHOOK = {"ok": True, "result": {"url": "", "has_custom_certificate": False, "pending_update_count": 0}}
UNAUTHORIZED = {"ok": False, "error_code": 401, "description": "Unauthorized"}


@pytest.fixture
def telegram_api(app, httpserver):
    """The Bot API stand-in: every method is POST {api}/bot<token>/<method>."""
    app.config["TELEGRAM_API_URL"] = httpserver.url_for("/tg")
    return httpserver


def bot(method: str) -> str:
    return f"/tg/bot{TOKEN}/{method}"


def telegram_channel(**settings) -> Channel:
    return make_channel(
        kind="telegram",
        credentials=channels.encrypt_credentials({"token": TOKEN, "secret": "hook-secret"}),
        settings=settings,
    )


def fresh(channel: Channel) -> Channel:
    return committed(Channel, channel.id)  # the job wrote in a session of its own


def answer_health(api, me=ME) -> None:
    api.expect_request(bot("getMe"), method="POST").respond_with_json(me, status=200 if me["ok"] else 401)
    api.expect_request(bot("getWebhookInfo"), method="POST").respond_with_json(NO_WEBHOOK)


# --- check_channel ------------------------------------------------------------------------------


def test_a_check_that_passes_marks_the_channel_working_and_keeps_the_bots_username(telegram_api):
    channel = telegram_channel(mode="webhook")
    answer_health(telegram_api)

    assert check_channel(channel.id) == "ok"

    channel = fresh(channel)
    assert channel.health == "ok" and channel.health_reason == ""
    assert channel.health_checked_at is not None
    assert channel.settings["username"] == "okno_salon_bot"
    # the adapter reports polling (PUBLIC_URL is http here), but the owner's choice stays
    assert channel.settings["mode"] == "webhook"


def test_a_revoked_token_breaks_the_channel_with_telegrams_reason_and_replies_are_refused(telegram_api):
    channel = telegram_channel()
    answer_health(telegram_api, UNAUTHORIZED)
    conversation = make_conversation(channel=channel, messages=["Здравствуйте"])

    assert check_channel(channel.id) == "broken"

    channel = fresh(channel)
    assert channel.health == "broken"
    assert "Unauthorized" in channel.health_reason
    with pytest.raises(ActionError, match="Unauthorized"):
        messaging.send_reply(conversation.id, make_user(), "Добрый день!")


def test_a_broken_channel_works_again_after_a_check_that_passes(telegram_api):
    channel = telegram_channel()
    channels.record_health(channel.id, Health(ok=False, reason="Unauthorized"))
    answer_health(telegram_api)

    check_channel(channel.id)

    assert fresh(channel).health == "ok"


# --- setup_channel (after a save) -----------------------------------------------------------------


@pytest.fixture
def viber_api(app, httpserver):
    app.config["VIBER_API_URL"] = httpserver.url_for("/viber")
    return httpserver


def viber_channel() -> Channel:
    return make_channel(
        kind="viber", credentials=channels.encrypt_credentials({"token": "445da6az1s345z78-dazcczb2542zv51a"})
    )


def test_saving_a_viber_channel_registers_our_webhook_url_with_viber(viber_api):
    channel = viber_channel()
    url = channels.webhook_url(channel)
    registered = []

    def set_webhook(request):
        assert request.headers["X-Viber-Auth-Token"] == VIBER_TOKEN
        registered.append(request.get_json())
        return Response(
            json.dumps({"status": 0, "status_message": "ok", "event_types": ["delivered", "seen"]}),
            content_type="application/json",
        )

    viber_api.expect_request("/viber/set_webhook", method="POST").respond_with_handler(set_webhook)
    viber_api.expect_request("/viber/get_account_info", method="POST").respond_with_json(
        {
            "status": 0,
            "status_message": "ok",
            "id": "pa:75346594275468546724",
            "name": "Салон Окно",
            "uri": "okno-salon",
            "icon": "https://example.com/icon.jpg",
            "webhook": url,
            "members_count": 2,
        }
    )

    assert setup_channel(channel.id) == "ok"

    assert [r["url"] for r in registered] == [url]
    channel = fresh(channel)
    assert channel.health == "ok"
    assert channel.settings["account_name"] == "Салон Окно"


def test_a_webhook_viber_refuses_breaks_the_channel_with_the_reason(viber_api):
    channel = viber_channel()
    viber_api.expect_request("/viber/set_webhook", method="POST").respond_with_json(
        {"status": 1, "status_message": "invalidUrl"}
    )

    assert setup_channel(channel.id) == "broken"

    channel = fresh(channel)
    assert channel.health == "broken"
    assert "invalidUrl" in channel.health_reason


# --- resync_channel (Sync now) --------------------------------------------------------------------


def text_update(update_id: int, message_id: int, text: str) -> dict:
    person = {"id": 111222333, "is_bot": False, "first_name": "Мария", "language_code": "ru"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "from": person,
            "chat": {"id": 111222333, "first_name": "Мария", "type": "private"},
            "date": int(utcnow().timestamp()) - 60,
            "text": text,
        },
    }


def test_sync_now_brings_what_telegram_still_holds_once_and_reports_the_count(telegram_api):
    channel = telegram_channel(mode="polling")
    updates = [text_update(815600001, 101, "Здравствуйте!"), text_update(815600002, 102, "Можно на завтра?")]
    telegram_api.expect_request(bot("getUpdates"), method="POST").respond_with_json(
        {"ok": True, "result": updates}
    )
    answer_health(telegram_api)

    assert resync_channel(channel.id) == "brought 2"
    first = fresh(channel)
    assert first.last_sync_at is not None
    assert first.settings["last_sync_count"] == 2
    assert first.health_checked_at is not None  # the sync checked the channel again

    assert resync_channel(channel.id) == "brought 0"  # the same updates again: stored once
    assert fresh(channel).settings["last_sync_count"] == 0
    texts = db.session.scalars(
        select(Message.text).where(Message.channel_id == channel.id, Message.direction == "in")
    ).all()
    assert sorted(texts) == ["Здравствуйте!", "Можно на завтра?"]


def test_a_refused_sync_says_why_and_keeps_the_last_sync_time(telegram_api):
    channel = telegram_channel(mode="polling")
    telegram_api.expect_request(bot("getUpdates"), method="POST").respond_with_json(
        {
            "ok": False,
            "error_code": 409,
            "description": "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        },
        status=409,
    )
    answer_health(telegram_api)

    assert resync_channel(channel.id) == "failed"

    channel = fresh(channel)
    assert channel.last_sync_at is None
    assert "Conflict" in channel.settings["last_sync_error"]


# --- fetch_media ----------------------------------------------------------------------------------


def receive_photo(channel: Channel, file_id: str = "AgACAgIAAxkBAAIBZ2VhX1large") -> Message:
    return messaging.receive_message(
        channel.id,
        InboundMessage(
            external_contact_id="111222333",
            external_message_id=f"111222333:{file_id[-5:]}",
            contact_name="Мария",
            kind="image",
            text="Вот такую стрижку хочу",
            attachments=(InboundAttachment("photo.jpg", "image/jpeg", len(JPEG), url=file_id),),
        ),
    )


def answer_file(api, path="photos/file_12.jpg", content=JPEG) -> None:
    api.expect_request(
        bot("getFile"), method="POST", json={"file_id": "AgACAgIAAxkBAAIBZ2VhX1large"}
    ).respond_with_json(
        {
            "ok": True,
            "result": {
                "file_id": "AgACAgIAAxkBAAIBZ2VhX1large",
                "file_unique_id": "AQADlarge",
                "file_size": len(content),
                "file_path": path,
            },
        }
    )
    api.expect_request(f"/tg/file/bot{TOKEN}/{path}", method="GET").respond_with_data(
        content, content_type="application/octet-stream"
    )


def attachment_of(message: Message) -> Attachment:
    db.session.rollback()
    return db.session.scalars(select(Attachment).where(Attachment.message_id == message.id)).one()


def test_a_received_photo_queues_its_download_and_the_job_keeps_the_file_for_staff(
    app, telegram_api, login_as
):
    channel = telegram_channel()
    message = receive_photo(channel)
    assert Job.fetch(f"media-{message.id}", connection=get_redis()).func_name == "jobs.media.fetch_media"
    answer_file(telegram_api)

    assert fetch_media(message.id) == "fetched 1"

    attachment = attachment_of(message)
    assert (attachment.content_type, attachment.size) == ("image/jpeg", len(JPEG))
    assert (Path(app.config["UPLOAD_DIR"]) / attachment.storage_path).read_bytes() == JPEG
    shown = login_as(make_user()).get(f"/attachments/{attachment.id}")
    assert shown.status_code == 200 and shown.data == JPEG
    assert fetch_media(message.id) == "nothing"  # run again: nothing left to fetch


def test_a_file_that_claims_to_be_a_picture_but_is_not_is_kept_as_a_download(app, telegram_api, login_as):
    channel = telegram_channel()
    message = receive_photo(channel)
    answer_file(telegram_api, content=b"<html><script>alert(1)</script></html>")

    fetch_media(message.id)

    attachment = attachment_of(message)
    assert attachment.content_type == "application/octet-stream"
    shown = login_as(make_user()).get(f"/attachments/{attachment.id}")
    assert shown.headers["Content-Disposition"].startswith("attachment")


def test_a_rate_limited_download_is_tried_again_later(telegram_api):
    channel = telegram_channel()
    message = receive_photo(channel)
    telegram_api.expect_request(bot("getFile"), method="POST").respond_with_json(
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 30",
            "parameters": {"retry_after": 30},
        },
        status=429,
    )

    assert fetch_media(message.id) == "retry"

    assert attachment_of(message).storage_path == ""
    assert db.session.get(Message, message.id).data["media_attempts"] == 1
    scheduled = ScheduledJobRegistry(queue=get_queue())
    assert f"media-{message.id}-2" in scheduled.get_job_ids()
    at = scheduled.get_scheduled_time(f"media-{message.id}-2")
    assert at.timestamp() >= (utcnow() + timedelta(seconds=29)).timestamp()


def test_a_file_the_platform_no_longer_has_stays_listed_with_the_reason(telegram_api, login_as):
    channel = telegram_channel()
    message = receive_photo(channel)
    telegram_api.expect_request(bot("getFile"), method="POST").respond_with_json(
        {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"}, status=400
    )

    assert fetch_media(message.id) == "fetched 0"

    assert attachment_of(message).storage_path == ""
    assert "invalid file_id" in db.session.get(Message, message.id).data["media_error"]
    page = login_as(make_user()).get(f"/c/{message.conversation_id}").get_data(as_text=True)
    assert "photo.jpg" in page and "invalid file_id" in page
    assert fetch_media(message.id) == "nothing"  # given up on: not asked again


# --- the reconciler ---------------------------------------------------------------------------------


def test_media_whose_job_redis_lost_is_fetched_again_by_the_reconciler(app, telegram_api):
    channel = telegram_channel()
    message = receive_photo(channel)
    get_redis().flushdb()
    begin_write()
    db.session.execute(
        update(Message).where(Message.id == message.id).values(created_at=utcnow() - timedelta(minutes=2))
    )
    db.session.commit()

    assert reconcile_channels()["media"] == 1

    assert Job.fetch(f"media-{message.id}", connection=get_redis()).args == (message.id,)
    assert reconcile_channels()["media"] == 0  # its job is waiting: not queued twice


def test_the_reconciler_queues_checks_for_channels_not_checked_lately(app):
    def channel(checked_minutes_ago, health="ok", credentials=True, enabled=True):
        made = make_channel(
            kind="telegram",
            credentials=channels.encrypt_credentials({"token": TOKEN}) if credentials else "",
            health=health,
            enabled=enabled,
            health_checked_at=utcnow() - timedelta(minutes=checked_minutes_ago)
            if checked_minutes_ago is not None
            else None,
        )
        return made.id

    due = [channel(None), channel(11), channel(3, health="broken")]
    not_due = [channel(3), channel(30, credentials=False), channel(30, enabled=False)]

    assert reconcile_channels()["checks"] == 3

    redis = get_redis()
    for channel_id in due:
        assert Job.fetch(f"channel-check-{channel_id}", connection=redis).args == (channel_id,)
    for channel_id in not_due:
        assert not redis.exists(f"rq:job:channel-check-{channel_id}")


# --- sends through a channel that can't carry them ----------------------------------------------------


def test_a_reply_queued_before_the_channel_broke_fails_at_once_with_the_reason(telegram_api):
    channel = telegram_channel()
    conversation = make_conversation(channel=channel, messages=["Здравствуйте"])
    message = messaging.send_reply(conversation.id, make_user(), "Добрый день!")
    channels.record_health(channel.id, Health(ok=False, reason="Unauthorized"))

    assert deliver_message(message.id) == "failed"

    db.session.rollback()
    message = db.session.get(Message, message.id)
    assert message.delivery_status == "failed"
    assert "Unauthorized" in message.delivery_error
    assert len(telegram_api.log) == 0  # Telegram was not asked


def test_a_reply_queued_before_the_channel_was_turned_off_fails_at_once(telegram_api):
    channel = telegram_channel()
    conversation = make_conversation(channel=channel, messages=["Здравствуйте"])
    message = messaging.send_reply(conversation.id, make_user(), "Добрый день!")
    channels.update_channel(channel.id, enabled=False)

    assert deliver_message(message.id) == "failed"

    db.session.rollback()
    message = db.session.get(Message, message.id)
    assert message.delivery_status == "failed"
    assert message.delivery_error == channels.unusable_reason(fresh(channel))  # "The channel is off."
    assert len(telegram_api.log) == 0


def test_a_whatsapp_template_through_a_channel_that_is_off_is_refused_with_that_reason(app):
    channel = make_channel(kind="whatsapp", enabled=False, settings={"templates": []})
    conversation = make_conversation(channel=channel, messages=["Здравствуйте"])

    with pytest.raises(ActionError) as refused:
        messaging.send_template(conversation.id, make_user(), "visit_reminder", "ru", ["Мария"])

    assert str(refused.value) == channels.unusable_reason(fresh(channel))
