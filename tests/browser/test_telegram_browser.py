"""A Telegram client in a real browser (issue 4): an update posted to the webhook, as Telegram posts it,
reaches an administrator's open inbox live; her reply goes out through the worker to the Telegram
stand-in; and when the client blocks the bot, the open dialog's composer gives way to
"Bot blocked by the user" without a reload.

The channel's salon bot is off, so the conversation is the administrator's from the start.
"""

import json
import time

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import log_in
from tests.test_telegram_standin import CHAT, SECRET, TOKEN, make_telegram, payload

ANSWER = "Добрый день, Мария! В субботу есть окно в 11:00. Записать вас?"


@pytest.fixture
def worker(telegram_api, worker):
    """The worker, started once TELEGRAM_API_URL points at the stand-in (it reads it at start)."""
    return worker


def now(name: str) -> dict:
    """A saved Update dated now, as Telegram dates what it delivers (the list sorts by that time)."""
    update = payload(name)
    kind = next(k for k in update if k != "update_id")
    update[kind]["date"] = int(time.time())
    return update


def post_update(live_server, channel_uid: str, update: dict) -> requests.Response:
    """As Telegram does: the Update JSON over HTTP, the secret in X-Telegram-Bot-Api-Secret-Token."""
    return requests.post(
        f"{live_server.url}/webhooks/{channel_uid}",
        data=json.dumps(update, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
        timeout=10,
    )


def test_a_telegram_client_writes_gets_the_reply_and_blocks_the_bot_live(
    page: Page, live_server, telegram_api, worker
):
    with live_server.app_context():
        channel_uid = make_telegram(bot=False).uid
    update = now("text")
    question = update["message"]["text"]
    log_in(page, "anna@salon.test")
    expect(page.get_by_test_id("inbox")).to_be_visible()

    assert post_update(live_server, channel_uid, update).status_code == 200

    # no reload: the new conversation is on top of her list, one message unread
    row = page.locator("#list-rows [data-testid=conversation-row]").first
    expect(row.get_by_test_id("row-name")).to_have_text("Мария Иванова")
    expect(row.get_by_test_id("row-preview")).to_contain_text(question)
    expect(row.get_by_test_id("row-unread")).to_have_text("1")
    conversation_id = row.get_attribute("data-conversation-id")

    row.locator("a.row-link").click()
    expect(page.locator(f"#dialog[data-conversation-id='{conversation_id}']")).to_be_visible()
    expect(page.locator("#messages [data-testid=message][data-direction=in]").last).to_contain_text(question)
    page.get_by_test_id("composer-text").fill(ANSWER)
    page.get_by_test_id("composer-text").press("Enter")

    reply = page.locator("#messages [data-testid=message][data-direction=out]").last
    expect(reply).to_contain_text(ANSWER)
    # "sent" is recorded only once the stand-in has answered the worker's sendMessage
    expect(reply.get_by_test_id("delivery")).to_have_attribute("data-status", "sent")
    [sent] = telegram_api.of("sendMessage")
    assert sent.token == TOKEN
    assert (str(sent.json["chat_id"]), sent.json["text"]) == (CHAT, ANSWER)

    assert post_update(live_server, channel_uid, now("my_chat_member_kicked")).status_code == 200

    expect(page.get_by_test_id("bot-blocked")).to_be_visible()
    expect(page.get_by_test_id("composer-form")).to_have_count(0)
    expect(page.locator(f"#dialog[data-conversation-id='{conversation_id}']")).to_be_visible()
    expect(reply.get_by_test_id("delivery")).to_have_attribute("data-status", "sent")


def test_a_client_the_salon_bot_is_answering_plays_no_sound(page: Page, live_server, telegram_api, worker):
    with live_server.app_context():
        with_bot = make_telegram({"token": "777:bot-channel", "secret": SECRET}, bot=True).uid
        without_bot = make_telegram(bot=False).uid
    log_in(page, "anna@salon.test")
    expect(page.get_by_test_id("sound-toggle")).to_have_attribute("data-sound", "on")

    # first a client the bot answers, then one who writes to the salon itself
    assert post_update(live_server, with_bot, now("text")).status_code == 200
    second = now("text")
    second["message"]["from"]["first_name"] = second["message"]["chat"]["first_name"] = "Ольга"
    assert post_update(live_server, without_bot, second).status_code == 200

    # the second one's row is in (its event came after the first's): one sound, for her alone
    expect(page.locator("#list-rows [data-testid=row-name]", has_text="Ольга")).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-sound-played", "1")
