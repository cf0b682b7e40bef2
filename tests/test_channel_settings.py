"""The owner's channel settings: list, add, edit (secrets never shown back), on/off, Check and Sync now."""

import re
import signal
from datetime import timedelta

import pytest
from flask import current_app
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job

from channels.base import Health
from extensions import db
from models import Channel
from models.base import utcnow
from services import channels, messaging
from services.errors import ActionError
from services.redis import get_redis
from tests.factories import make_channel, make_conversation, make_user

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
NEW_TOKEN = "987654321:BBHdqTcvCH1vGWJxfSeofSAs0K5PALDzzzz"


@pytest.fixture
def owner(app):
    return make_user(role="owner", name="Ирина")


@pytest.fixture
def staff(owner, login_as):
    return login_as(owner)


@pytest.fixture
def telegram_api(app, httpserver):
    app.config["TELEGRAM_API_URL"] = httpserver.url_for("/tg")
    return httpserver


def work() -> None:
    """Run what is queued, the way the worker would (it changes signal handlers: restore them)."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    redis = Redis.from_url(current_app.config["REDIS_URL"])
    try:
        SimpleWorker([Queue("okno", connection=redis)], connection=redis).work(burst=True)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def the_channel(name: str) -> Channel:
    db.session.rollback()
    return db.session.scalars(db.select(Channel).where(Channel.name == name)).one()


def telegram_channel(**kw) -> Channel:
    return make_channel(
        kind="telegram",
        name=kw.pop("name", "Telegram @okno_salon_bot"),
        credentials=channels.encrypt_credentials({"token": TOKEN, "secret": "hook-secret"}),
        settings=kw.pop("settings", {"mode": "webhook"}),
        **kw,
    )


# --- who may open them -------------------------------------------------------------------------


def test_only_the_owner_opens_channel_settings(app, login_as):
    channel = telegram_channel()
    admin = login_as(make_user(role="admin"))
    for path in ("/settings/channels", "/settings/channels/new/telegram", f"/settings/channels/{channel.id}"):
        assert admin.get(path).status_code == 403
    assert admin.post(f"/settings/channels/{channel.id}/check").status_code == 403


def test_the_settings_overview_links_to_channels(staff):
    page = staff.get("/settings/").get_data(as_text=True)
    assert 'href="/settings/channels"' in page


def test_an_unknown_kind_or_channel_is_404(staff):
    assert staff.get("/settings/channels/new/icq").status_code == 404
    assert staff.get("/settings/channels/9999").status_code == 404
    assert staff.post("/settings/channels/9999/check").status_code == 404


# --- the list ----------------------------------------------------------------------------------


def test_the_list_shows_each_channel_with_health_and_last_sync(staff):
    checked = utcnow() - timedelta(minutes=5)
    telegram_channel(
        name="Telegram @okno_salon_bot",
        health_checked_at=checked,
        last_sync_at=checked,
        settings={"last_sync_count": 4},
    )
    make_channel(
        kind="vk",
        name="ВКонтакте <b>okno</b>",
        health="broken",
        health_reason="User authorization failed: invalid access_token (4).",
        health_checked_at=checked,
        enabled=False,
    )

    page = staff.get("/settings/channels").get_data(as_text=True)

    rows = re.findall(r'<tr id="channel-\d+".*?</tr>', page, re.S)
    assert len(rows) == 2
    telegram, vk = sorted(rows, key=lambda r: "vk" in r)
    assert "Telegram @okno_salon_bot" in telegram and "4 messages" in telegram
    assert "! User authorization failed: invalid access_token (4)." in vk
    assert "ВКонтакте &lt;b&gt;okno&lt;/b&gt;" in vk  # a name is shown as text
    assert ">off<" in vk
    assert "/webhooks/telegram-" in telegram


# --- adding --------------------------------------------------------------------------------------


def test_adding_a_telegram_bot_stores_the_token_encrypted_and_queues_its_setup(staff):
    response = staff.post(
        "/settings/channels/new/telegram",
        {"name": "Telegram @okno_salon_bot", "token": TOKEN, "mode": "polling"},
        htmx=False,
    )

    channel = the_channel("Telegram @okno_salon_bot")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/settings/channels/{channel.id}"
    assert TOKEN not in channel.credentials  # encrypted at rest
    stored = channels.decrypt_credentials(channel.credentials)
    assert stored["token"] == TOKEN
    assert len(stored["secret"]) >= 32  # the webhook secret we made
    assert channel.settings["mode"] == "polling"
    job = Job.fetch(f"channel-setup-{channel.id}", connection=get_redis())
    assert (job.func_name, job.args) == ("jobs.channels.setup_channel", (channel.id,))


def test_the_new_channels_page_shows_its_webhook_url_to_copy(staff):
    staff.post(
        "/settings/channels/new/viber", {"name": "Viber Okno", "token": "445da6az1s345z78-dazc"}, htmx=False
    )
    channel = the_channel("Viber Okno")

    page = staff.get(f"/settings/channels/{channel.id}").get_data(as_text=True)

    assert f"http://127.0.0.1:5000/webhooks/{channel.uid}" in page
    assert f'data-copy-link="http://127.0.0.1:5000/webhooks/{channel.uid}"' in page


@pytest.mark.parametrize(
    ("kind", "form", "field", "message"),
    [
        ("telegram", {"name": "Bot", "token": ""}, "token", "Fill in “Bot token”."),
        ("telegram", {"name": "Bot", "token": "12345:short"}, "token", "A bot token looks like"),
        ("telegram", {"name": "", "token": TOKEN}, "name", "Give the channel a name."),
        ("vk", {"name": "VK", "group_id": "club123", "access_token": "t", "secret": "s", "confirmation": "c"},
         "group_id", "Only digits"),
        ("whatsapp", {"name": "WA", "phone_number_id": "10654035", "access_token": "EAAG", "app_secret": "a"},
         "verify_token", "Fill in “Verify token”."),
    ],
)  # fmt: skip
def test_a_refused_form_comes_back_with_the_reason_next_to_the_field(staff, kind, form, field, message):
    response = staff.post(f"/settings/channels/new/{kind}", form, htmx=False)

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(rf'id="channel-{field}"[^>]*aria-invalid="true"', page, re.S)
    error = re.search(r'id="channel-' + field + r'-error">([^<]*)<', page)
    assert error and message in error.group(1)
    assert db.session.scalar(db.select(db.func.count()).select_from(Channel)) == 0


def test_a_refused_form_never_echoes_a_secret_back(staff):
    response = staff.post(
        "/settings/channels/new/vk",
        {
            "name": "VK",
            "group_id": "x",
            "access_token": "vk1.a.SECRET-TOKEN",
            "secret": "s3",
            "confirmation": "c",
        },
        htmx=False,
    )
    assert response.status_code == 422
    assert "vk1.a.SECRET-TOKEN" not in response.get_data(as_text=True)


def test_a_form_without_the_csrf_token_is_refused(staff):
    response = staff.http.post("/settings/channels/new/telegram", data={"name": "Bot", "token": TOKEN})
    assert response.status_code == 400
    assert db.session.scalar(db.select(db.func.count()).select_from(Channel)) == 0


# --- editing ------------------------------------------------------------------------------------


def test_stored_secrets_are_shown_masked_never_in_full(staff):
    channel = make_channel(
        kind="whatsapp",
        name="WhatsApp",
        credentials=channels.encrypt_credentials(
            {
                "phone_number_id": "106540352242922",
                "access_token": "EAAGm0PX4ZCpsBAKLONGTOKEN9876",
                "app_secret": "0123456789abcdef0123456789abcdef",
                "verify_token": "okno-verify-phrase",
            }
        ),
    )

    page = staff.get(f"/settings/channels/{channel.id}").get_data(as_text=True)

    for secret in ("EAAGm0PX4ZCpsBAKLONGTOKEN9876", "0123456789abcdef0123456789abcdef", "okno-verify-phrase"):
        assert secret not in page
    assert "••••9876" in page
    assert 'value="106540352242922"' in page  # an id is not a secret


def test_saving_with_blank_secrets_keeps_them_and_a_new_one_replaces_only_itself(staff):
    channel = make_channel(
        kind="vk",
        name="VK",
        credentials=channels.encrypt_credentials(
            {
                "group_id": "229876543",
                "access_token": "vk1.a.OLD",
                "secret": "cb-secret",
                "confirmation": "a1b2c3d4",
            }
        ),
    )

    response = staff.post(
        f"/settings/channels/{channel.id}",
        {"name": "ВКонтакте салона", "group_id": "229876543", "access_token": "vk1.a.NEW", "secret": "",
         "confirmation": "a1b2c3d4"},
        htmx=False,
    )  # fmt: skip

    assert response.status_code == 303
    channel = the_channel("ВКонтакте салона")
    assert channels.decrypt_credentials(channel.credentials) == {
        "group_id": "229876543",
        "access_token": "vk1.a.NEW",
        "secret": "cb-secret",
        "confirmation": "a1b2c3d4",
    }
    assert Job.fetch(f"channel-setup-{channel.id}", connection=get_redis()).args == (channel.id,)


def test_a_refused_edit_keeps_what_was_stored(staff):
    channel = telegram_channel()
    response = staff.post(
        f"/settings/channels/{channel.id}", {"name": "Bot", "token": "not-a-token"}, htmx=False
    )
    assert response.status_code == 422
    assert channels.decrypt_credentials(the_channel("Telegram @okno_salon_bot").credentials)["token"] == TOKEN


# --- on / off ------------------------------------------------------------------------------------


def test_a_channel_turned_off_refuses_replies_with_that_reason(staff, owner):
    channel = telegram_channel()
    conversation = make_conversation(channel=channel, messages=["Здравствуйте"])

    staff.post(f"/settings/channels/{channel.id}/enabled", {"enabled": "0"}, htmx=False)

    assert the_channel(channel.name).enabled is False
    with pytest.raises(ActionError) as refused:
        messaging.send_reply(conversation.id, owner, "Добрый день!")
    assert str(refused.value) == channels.unusable_reason(the_channel(channel.name))

    staff.post(f"/settings/channels/{channel.id}/enabled", {"enabled": "1"}, htmx=False)
    assert the_channel(channel.name).enabled is True
    assert messaging.send_reply(conversation.id, owner, "Добрый день!").delivery_status == "queued"


def test_a_broken_channel_shows_the_reason_in_settings_and_the_inbox_filter(staff):
    channel = telegram_channel()
    channels.record_health(channel.id, Health(ok=False, reason="Unauthorized"))

    page = staff.get(f"/settings/channels/{channel.id}").get_data(as_text=True)
    assert "! Broken: Unauthorized" in page
    inbox = staff.get("/").get_data(as_text=True)
    assert re.search(r"<option[^>]*>Telegram @okno_salon_bot \(! Unauthorized\)<", inbox)


# --- Check and Sync now --------------------------------------------------------------------------


def test_check_runs_in_the_background_and_the_status_shows_what_telegram_said(staff, telegram_api):
    channel = telegram_channel()
    telegram_api.expect_request(f"/tg/bot{TOKEN}/getMe", method="POST").respond_with_json(
        {
            "ok": True,
            "result": {"id": 123456789, "is_bot": True, "first_name": "Окно", "username": "okno_salon_bot"},
        }
    )
    telegram_api.expect_request(f"/tg/bot{TOKEN}/getWebhookInfo", method="POST").respond_with_json(
        {"ok": True, "result": {"url": "", "has_custom_certificate": False, "pending_update_count": 0}}
    )

    response = staff.post(f"/settings/channels/{channel.id}/check")

    fragment = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'id="channel-status-{channel.id}"' in fragment
    assert 'data-testid="checking"' in fragment and 'hx-trigger="every 2s"' in fragment
    assert len(telegram_api.log) == 0  # the request did not wait for Telegram

    work()

    fragment = staff.get(f"/settings/channels/{channel.id}/status", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert "Works" in fragment and "@okno_salon_bot" in fragment
    assert "every 2s" not in fragment  # nothing runs: it stops polling


def test_sync_now_of_a_channel_that_is_off_is_refused_with_the_reason(staff):
    channel = telegram_channel(enabled=False)
    response = staff.post(f"/settings/channels/{channel.id}/sync")
    assert response.status_code == 422
    assert "turn it on to sync it" in response.get_data(as_text=True)
    assert not get_redis().exists(f"rq:job:channel-resync-{channel.id}")


def test_sync_now_queues_the_sync_once_however_often_it_is_pressed(staff):
    channel = telegram_channel(settings={"mode": "polling"})
    for _ in range(3):
        assert staff.post(f"/settings/channels/{channel.id}/sync").status_code == 200
    assert Queue("okno", connection=get_redis()).job_ids == [f"channel-resync-{channel.id}"]


def test_the_status_fragment_address_opened_directly_shows_the_channel_page(staff):
    channel = telegram_channel()
    response = staff.get(f"/settings/channels/{channel.id}/status")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/settings/channels/{channel.id}"
