# ruff: noqa: F811
"""Polling mode: getUpdates feeds the same inbound path as the webhook, the offset confirms what was
stored, and the `telegram-poll` process idles quietly when no channel polls."""

import threading

import pytest
from sqlalchemy import select

from channels.telegram import ALLOWED_UPDATES, adapter
from extensions import db
from jobs.telegram_poll import (
    REFUSED_SECONDS,
    offset_key,
    poll_once,
    poll_round,
    polling_channel_ids,
    run_poller,
)
from models import Contact, Message
from services.channels import channel_ref
from services.redis import get_redis
from tests.factories import make_channel
from tests.test_telegram_standin import (
    CHAT,
    SECRET,
    WEBHOOK_ACTIVE,
    make_telegram,
    payload,
    telegram_api,  # noqa: F401  (the fixture)
)


def client_texts(channel) -> list[str]:
    db.session.rollback()
    return db.session.scalars(
        select(Message.text)
        .where(Message.channel_id == channel.id, Message.direction == "in")
        .order_by(Message.id)
    ).all()


@pytest.fixture
def polling(app):
    return make_telegram(mode="polling")


def test_polled_updates_are_stored_like_webhook_ones(telegram_api, polling):
    telegram_api.updates = [payload("text"), payload("photo"), payload("edited_message")]

    assert poll_once(polling.id) == 3

    [call] = telegram_api.of("getUpdates")
    assert call.json == {"timeout": 0, "allowed_updates": list(ALLOWED_UPDATES)}
    assert client_texts(polling) == [
        "Здравствуйте! Можно записаться на окрашивание в субботу?",  # the edit applied
        "Вот такую стрижку хочу",
    ]


def test_the_next_poll_confirms_what_was_stored(telegram_api, polling):
    telegram_api.updates = [payload("text"), payload("photo")]
    poll_once(polling.id)

    poll_once(polling.id)

    second = telegram_api.of("getUpdates")[1]
    assert second.json["offset"] == payload("photo")["update_id"] + 1
    assert len(client_texts(polling)) == 2


def test_a_lost_offset_only_brings_back_what_is_stored_already(telegram_api, polling):
    telegram_api.updates = [payload("text")]
    poll_once(polling.id)
    get_redis().delete(offset_key(polling.id))

    poll_once(polling.id)

    assert client_texts(polling) == ["Здравствуйте! Можно записаться на стрижку в субботу?"]


def test_an_unreadable_update_is_skipped_not_blocking_the_next(telegram_api, polling):
    broken = payload("photo")
    del broken["message"]["chat"]
    telegram_api.updates = [broken, payload("text")]

    poll_once(polling.id)

    assert client_texts(polling) == ["Здравствуйте! Можно записаться на стрижку в субботу?"]
    assert int(get_redis().get(offset_key(polling.id))) == payload("text")["update_id"] + 1


def test_a_webhook_left_from_before_is_deleted_so_polling_can_start(telegram_api, polling):
    telegram_api.answer("getUpdates", 409, WEBHOOK_ACTIVE)

    poll_once(polling.id)

    assert [c.method for c in telegram_api.calls] == ["getUpdates", "deleteWebhook"]


def test_a_block_arrives_by_polling_too(telegram_api, polling):
    telegram_api.updates = [payload("text"), payload("my_chat_member_kicked")]

    poll_once(polling.id)

    db.session.rollback()
    contact = db.session.scalars(select(Contact).where(Contact.channel_id == polling.id)).one()
    assert (contact.external_id, contact.blocked) == (CHAT, True)


def test_which_channels_poll(app):
    app.config["PUBLIC_URL"] = "https://salon.example"
    webhook = make_telegram()
    asked = make_telegram(mode="polling")
    make_telegram(mode="polling").enabled = False
    make_channel("telegram", settings={"mode": "polling"})  # no token yet: nothing to poll
    db.session.commit()

    assert polling_channel_ids() == [asked.id]

    app.config["PUBLIC_URL"] = "http://127.0.0.1:5000"  # Telegram posts to https only
    assert polling_channel_ids() == [webhook.id, asked.id]


def test_a_round_where_telegram_refuses_every_bot_waits_before_the_next(telegram_api, app):
    make_telegram({"token": "7000000001:revoked", "secret": SECRET}, mode="polling")

    assert poll_round(app) == REFUSED_SECONDS
    assert [c.method for c in telegram_api.calls] == ["getUpdates"]


def test_a_round_that_got_through_goes_on_at_once(telegram_api, app):
    make_telegram(mode="polling")

    assert poll_round(app) == 0


def test_the_poller_idles_quietly_without_polling_channels(telegram_api, app):
    app.config["PUBLIC_URL"] = "https://salon.example"
    make_telegram()  # a webhook channel: nothing to poll

    run_poller(app, once=True)

    assert telegram_api.calls == []


def test_the_poller_keeps_running_through_failures_until_stopped(telegram_api, app, monkeypatch):
    make_telegram(mode="polling")
    rounds = []
    stop = threading.Event()

    def failing_round(_app):
        rounds.append(1)
        if len(rounds) == 3:
            stop.set()
        raise RuntimeError("database is away")

    monkeypatch.setattr("jobs.telegram_poll.poll_round", failing_round)
    monkeypatch.setattr("jobs.telegram_poll.ERROR_SECONDS", 0)

    run_poller(app, stop=stop)

    assert len(rounds) == 3


def test_the_cli_command_runs_one_round(telegram_api, app):
    channel = make_telegram(mode="polling")
    telegram_api.updates = [payload("text")]

    result = app.test_cli_runner().invoke(args=["telegram-poll", "--once"])

    assert result.exit_code == 0, result.output
    assert len(client_texts(channel)) == 1


def test_sync_now_in_polling_mode_reads_what_telegram_holds_without_confirming_it(telegram_api, polling):
    telegram_api.updates = [payload("text"), payload("callback_query")]

    events = adapter.resync(channel_ref(polling), None)

    assert [e.external_message_id for e in events] == [f"{CHAT}:101"]
    [call] = telegram_api.calls
    assert "offset" not in call.json


def test_sync_now_with_a_webhook_asks_telegram_nothing(telegram_api, app):
    app.config["PUBLIC_URL"] = "https://salon.example"
    channel = make_telegram()

    assert adapter.resync(channel_ref(channel), None) == []
    assert telegram_api.calls == []
