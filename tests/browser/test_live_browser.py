"""Live conversations in real browsers (issue 3): two administrators and a visitor on the salon's site.

Anna and Olena have the inbox open; a visitor writes in the website widget; both see the
conversation arrive at the top of the list with its unread badge, Olena hears it (Anna turned
her sound off), Anna types and Olena sees "Anna is typing...", Anna's reply reaches the widget
through the outbox and the worker, and the conversation becomes Anna's with its badge cleared.
"""

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from extensions import db
from models import User
from tests.browser.conftest import log_in

VISITOR = "Вера Пробная"
QUESTION = "Здравствуйте! Можно записаться на маникюр в субботу?"
ANSWER = "Добрый день! Да, в субботу есть окно в 12:00. Записать вас?"


def staff_page(new_context, email: str) -> Page:
    page = new_context().new_page()
    log_in(page, email)
    expect(page.get_by_test_id("inbox")).to_be_visible()
    return page


def first_row(page: Page):
    return page.locator("#list-rows [data-testid=conversation-row]").first


def test_a_widget_visitor_and_two_admins_talk_live(new_context, live_server, worker):
    with live_server.app_context():
        anna_id, anna_name = db.session.execute(
            select(User.id, User.name).where(User.email == "anna@salon.test")
        ).one()
    anna = staff_page(new_context, "anna@salon.test")
    olena = staff_page(new_context, "olena@salon.test")

    # Anna turns her sound off; the choice is kept (a reload shows it), Olena's stays on
    anna.get_by_test_id("sound-toggle").click()
    expect(anna.get_by_test_id("sound-toggle")).to_have_attribute("data-sound", "off")
    anna.reload()
    expect(anna.get_by_test_id("sound-toggle")).to_have_attribute("data-sound", "off")
    expect(olena.get_by_test_id("sound-toggle")).to_have_attribute("data-sound", "on")

    visitor = new_context().new_page()
    visitor.goto("/widget/demo")
    visitor.get_by_test_id("okno-launcher").click()
    visitor.get_by_test_id("okno-name").fill(VISITOR)
    visitor.get_by_test_id("okno-start").click()
    visitor.get_by_test_id("okno-input").fill(QUESTION)
    visitor.get_by_test_id("okno-input").press("Enter")
    expect(visitor.locator("[data-testid=okno-message][data-direction=in]")).to_have_attribute(
        "data-state", "sent"
    )

    # both lists: the new conversation on top, one unread message, nobody's yet
    for page in (anna, olena):
        row = first_row(page)
        expect(row.get_by_test_id("row-name")).to_have_text(VISITOR)
        expect(row.get_by_test_id("row-unread")).to_have_text("1")
        expect(row.get_by_test_id("row-assignee")).to_have_count(0)
    conversation_id = first_row(anna).get_attribute("data-conversation-id")
    expect(olena.locator("body")).to_have_attribute("data-sound-played", "1")
    expect(anna.locator("body")).not_to_have_attribute("data-sound-played", re.compile(".*"))

    for page in (anna, olena):
        first_row(page).locator("a.row-link").click()
        expect(page.locator(f"#dialog[data-conversation-id='{conversation_id}']")).to_be_visible()
        expect(page.get_by_test_id("message").last).to_contain_text(QUESTION)

    anna.get_by_test_id("composer-text").press_sequentially(ANSWER[:20])
    expect(olena.get_by_test_id("typing")).to_be_visible()
    expect(olena.get_by_test_id("typing")).to_contain_text(anna_name)
    anna.get_by_test_id("composer-text").press_sequentially(ANSWER[20:])
    anna.get_by_test_id("composer-text").press("Enter")

    # the visitor gets the answer, through the outbox and the worker
    expect(visitor.locator("[data-testid=okno-message][data-direction=out]")).to_contain_text(ANSWER)

    for page in (anna, olena):
        reply = page.locator("#messages [data-testid=message][data-direction=out]").last
        expect(reply).to_contain_text(ANSWER)
        expect(page.locator("#messages [data-testid=event][data-event=took]")).to_have_count(1)
        expect(page.get_by_test_id("assignee-select")).to_have_value(str(anna_id))
        row = page.locator(f"#list-rows #conversation-{conversation_id}")
        expect(row.get_by_test_id("row-assignee")).to_be_visible()
        expect(row.get_by_test_id("row-unread")).to_have_count(0)
    expect(olena.get_by_test_id("typing")).to_be_hidden()
