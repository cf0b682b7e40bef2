"""`flask channels add|list`: connecting a channel from the shell, checked against a Telegram stand-in."""

import json

import pytest
from sqlalchemy import func, select

from extensions import db
from models import Channel
from services import channels
from tests.factories import make_channel

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


@pytest.fixture
def telegram_api(app, httpserver):
    app.config["TELEGRAM_API_URL"] = httpserver.url_for("/tg")
    return httpserver


def run(app, *args):
    return app.test_cli_runner().invoke(args=["channels", *args])


def count_channels() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Channel))


def test_add_checks_the_token_with_telegram_then_prints_the_uid_and_webhook_url(app, telegram_api):
    telegram_api.expect_request(f"/tg/bot{TOKEN}/getMe", method="POST").respond_with_json(
        {
            "ok": True,
            "result": {"id": 123456789, "is_bot": True, "first_name": "Окно", "username": "okno_salon_bot"},
        }
    )
    telegram_api.expect_request(f"/tg/bot{TOKEN}/getWebhookInfo", method="POST").respond_with_json(
        {"ok": True, "result": {"url": "", "has_custom_certificate": False, "pending_update_count": 0}}
    )

    # polling: the set-up makes sure no webhook is left, so getUpdates may run
    telegram_api.expect_request(f"/tg/bot{TOKEN}/deleteWebhook", method="POST").respond_with_json(
        {"ok": True, "result": True, "description": "Webhook is already deleted"}
    )

    result = run(
        app, "add", "telegram", "--name", "Telegram @okno_salon_bot", "--token", TOKEN, "--mode", "polling"
    )

    assert result.exit_code == 0, result.output
    db.session.rollback()
    channel = db.session.scalars(select(Channel)).one()
    assert f"uid: {channel.uid}" in result.output
    assert f"webhook URL: http://127.0.0.1:5000/webhooks/{channel.uid}" in result.output
    assert channels.decrypt_credentials(channel.credentials)["token"] == TOKEN
    assert (channel.health, channel.settings["username"], channel.settings["mode"]) == (
        "ok",
        "okno_salon_bot",
        "polling",
    )
    assert "health: ok" in result.output
    assert any(entry[0].path == f"/tg/bot{TOKEN}/getMe" for entry in telegram_api.log)


def test_add_with_a_token_telegram_refuses_prints_why_and_saves_nothing(app, telegram_api):
    telegram_api.expect_request(f"/tg/bot{TOKEN}/getMe", method="POST").respond_with_json(
        {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
    )

    result = run(app, "add", "telegram", "--name", "Bot", "--token", TOKEN)

    assert result.exit_code == 1
    assert "Unauthorized" in result.output
    assert count_channels() == 0


def test_add_offline_saves_without_asking_the_platform(app, telegram_api):
    result = run(app, "add", "telegram", "--name", "Bot", "--token", TOKEN, "--offline")

    assert result.exit_code == 0, result.output
    assert count_channels() == 1
    assert len(telegram_api.log) == 0


def test_add_refuses_missing_or_malformed_credentials_naming_the_option(app):
    missing = run(app, "add", "vk", "--name", "VK", "--group-id", "229876543", "--access-token", "vk1.a.x",
                  "--secret", "s", "--offline")  # fmt: skip
    assert missing.exit_code == 1
    assert "--confirmation: Fill in" in missing.output

    malformed = run(app, "add", "telegram", "--name", "Bot", "--token", "12345", "--offline")
    assert malformed.exit_code == 1
    assert "--token: A bot token looks like" in malformed.output
    assert count_channels() == 0


def test_add_refuses_an_option_the_kind_does_not_use(app):
    result = run(
        app, "add", "viber", "--name", "Viber", "--token", "445da6az1s345z78", "--group-id", "1", "--offline"
    )
    assert result.exit_code == 2
    assert "viber channels don't use --group-id" in result.output
    assert count_channels() == 0


def test_list_shows_every_channel_and_never_a_credential(app):
    make_channel(
        kind="whatsapp",
        name="WhatsApp салона",
        credentials=channels.encrypt_credentials({"access_token": "EAAG-SECRET", "app_secret": "APP-SECRET"}),
        health="broken",
        health_reason="Error validating access token",
    )
    make_channel(kind="widget", name="Сайт", enabled=False)

    text = run(app, "list")
    as_json = run(app, "list", "--json")

    assert text.exit_code == 0 and as_json.exit_code == 0
    for output in (text.output, as_json.output):
        assert "EAAG-SECRET" not in output and "APP-SECRET" not in output
    assert "! Error validating access token" in text.output
    rows = {row["name"]: row for row in json.loads(as_json.output)}
    assert rows["WhatsApp салона"]["kind"] == "whatsapp"
    assert rows["WhatsApp салона"]["health"] == "broken"
    assert rows["WhatsApp салона"]["webhook_url"].endswith("/webhooks/" + rows["WhatsApp салона"]["uid"])
    assert rows["Сайт"]["enabled"] is False
