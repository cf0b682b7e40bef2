"""The inbox in a real browser: an administrator's everyday moves on the demo salon (issue 2).

Data is chosen from the served database by plain queries, not by the inbox's own read code,
so the list the browser shows is checked against an independent answer.
"""

import re

from flask_babel import force_locale
from flask_babel import gettext as _
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from extensions import db
from models import Channel, Client, ClientPhone, Contact, Conversation, Message
from tests.browser.conftest import log_in

ADMIN = "anna@salon.test"
MASTER = "master@salon.test"


# --- reading the demo salon ----------------------------------------------------------------


def _admin_list(state: str):
    """Conversations the inbox's tab `state` lists (with an admin, not the bot's)."""
    c = Conversation
    stmt = select(c.id).where(c.with_bot.is_(False))
    if state == "spam":
        return stmt.where(c.is_spam.is_(True))
    return stmt.where(c.is_spam.is_(False), c.state == state)


def ids_in(live_server, stmt) -> set[int]:
    with live_server.app_context():
        return set(db.session.scalars(stmt))


def open_conversation_of_client(live_server, category: str = "client") -> tuple[int, str]:
    """An open conversation (with an admin) whose writer is linked to a client of `category`."""
    with live_server.app_context():
        row = db.session.execute(
            _admin_list("open")
            .add_columns(Client.name)
            .join(Contact, Contact.id == Conversation.contact_id)
            .join(Client, Client.id == Contact.client_id)
            .where(Client.category == category)
            .order_by(Conversation.last_activity_at.desc())
            .limit(1)
        ).one()
    return row[0], row[1]


def rows(page: Page):
    return page.locator("#list-rows [data-testid=conversation-row]")


def row_ids(page: Page) -> set[int]:
    return {int(v) for v in rows(page).evaluate_all("els => els.map(e => e.dataset.conversationId)")}


def spoken_differently(e164: str) -> str:
    """+79161234567 as people write it at home: 8 (916) 123-45-67."""
    d = e164.removeprefix("+7")
    return f"8 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}"


# --- the list -------------------------------------------------------------------------------


def test_state_tab_and_channel_filter_change_the_rows_and_survive_a_reload(page: Page, live_server):
    open_ids = ids_in(live_server, _admin_list("open"))
    closed_ids = ids_in(live_server, _admin_list("closed"))
    with live_server.app_context():
        telegram = db.session.scalar(select(Channel).where(Channel.kind == "telegram"))
        telegram_id = telegram.id
    closed_telegram = ids_in(live_server, _admin_list("closed").where(Conversation.channel_id == telegram_id))
    assert closed_ids and closed_telegram < closed_ids  # the demo salon has something to filter

    log_in(page, ADMIN)
    expect(rows(page)).to_have_count(len(open_ids))
    assert row_ids(page) == open_ids

    page.get_by_test_id("state-closed").click()
    expect(rows(page)).to_have_count(len(closed_ids))
    expect(rows(page).and_(page.locator(":not([data-state=closed])"))).to_have_count(0)
    assert row_ids(page) == closed_ids
    expect(page).to_have_url(re.compile(r"[?&]state=closed"))

    page.get_by_test_id("list-filters").locator("details > summary").click()
    page.get_by_test_id("filter-channel").select_option(str(telegram_id))
    expect(rows(page)).to_have_count(len(closed_telegram))
    expect(page.locator("#list-rows [data-channel-kind]:not([data-channel-kind=telegram])")).to_have_count(0)
    assert row_ids(page) == closed_telegram
    expect(page).to_have_url(re.compile(rf"[?&]channel={telegram_id}\b"))

    page.reload()
    expect(page.get_by_test_id("state-closed").locator("input")).to_be_checked()
    expect(page.get_by_test_id("filter-channel")).to_have_value(str(telegram_id))
    expect(rows(page)).to_have_count(len(closed_telegram))
    assert row_ids(page) == closed_telegram


def test_search_finds_a_client_by_a_phone_written_differently_from_the_stored_one(page: Page, live_server):
    with live_server.app_context():
        # a Russian client with an open conversation, and the number stored for them
        client_id, e164 = db.session.execute(
            select(Client.id, ClientPhone.e164)
            .join(ClientPhone, ClientPhone.client_id == Client.id)
            .join(Contact, Contact.client_id == Client.id)
            .join(Conversation, Conversation.contact_id == Contact.id)
            .where(ClientPhone.e164.like("+79%"), Conversation.id.in_(_admin_list("open")))
            .order_by(Client.id)
            .limit(1)
        ).one()
        digits = e164.lstrip("+")
        writers = select(Contact.id).where(
            (Contact.client_id.in_(select(ClientPhone.client_id).where(ClientPhone.digits == digits)))
            | (Contact.phone_digits == digits)
        )
        expected = set(db.session.scalars(_admin_list("open").where(Conversation.contact_id.in_(writers))))
        name = db.session.get(Client, client_id).name
        total_open = db.session.scalar(select(func.count()).select_from(_admin_list("open").subquery()))
    typed = spoken_differently(e164)
    assert re.sub(r"\D", "", typed) != digits  # not the stored digits: the 8 trunk prefix

    log_in(page, ADMIN)
    expect(rows(page)).to_have_count(total_open)
    page.get_by_test_id("search").fill(typed)

    expect(rows(page)).to_have_count(len(expected))
    assert row_ids(page) == expected
    expect(page.get_by_test_id("row-name").first).to_have_text(name)
    expect(page).to_have_url(re.compile(r"[?&]q=8"))


# --- the dialog -----------------------------------------------------------------------------


def test_a_dialog_opens_by_its_url_and_closing_it_takes_it_off_the_open_list(page: Page, live_server):
    conversation_id, name = open_conversation_of_client(live_server)
    log_in(page, ADMIN)

    page.goto(f"/c/{conversation_id}")
    dialog = page.locator(f"#dialog[data-conversation-id='{conversation_id}']")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("dialog-name")).to_have_text(name)
    expect(dialog.get_by_test_id("message").first).to_be_visible()
    expect(page.locator("#card").get_by_test_id("client-name")).to_have_text(name)
    row = page.locator(f"#list-rows #conversation-{conversation_id}")
    expect(row).to_have_class(re.compile(r"\bselected\b"))

    dialog.get_by_test_id("close").click()
    expect(dialog).to_have_attribute("data-state", "closed")
    expect(dialog.locator("[data-testid=event][data-event=closed]")).to_have_count(1)
    expect(dialog.get_by_test_id("reopen")).to_be_visible()
    expect(row).to_have_count(0)

    page.reload()  # the Open list, from the server this time
    expect(dialog).to_have_attribute("data-state", "closed")
    expect(page.get_by_test_id("conversation-row").first).to_be_visible()
    expect(row).to_have_count(0)

    page.get_by_test_id("state-closed").click()
    expect(row).to_be_visible()


def test_changing_the_client_category_presses_its_button_and_logs_an_event(page: Page, live_server):
    conversation_id, _name = open_conversation_of_client(live_server, category="client")
    with live_server.app_context():
        events_before = db.session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.conversation_id == conversation_id, Message.event == "category")
        )
    log_in(page, ADMIN)
    page.goto(f"/c/{conversation_id}")
    buttons = page.get_by_test_id("category-buttons")
    expect(buttons.locator("button[value=client]")).to_have_attribute("aria-pressed", "true")
    expect(buttons.locator("button[value=model]")).to_have_attribute("aria-pressed", "false")
    events = page.locator("#dialog [data-testid=event][data-event=category]")
    expect(events).to_have_count(events_before)

    buttons.locator("button[value=model]").click()

    expect(buttons.locator("button[value=model]")).to_have_attribute("aria-pressed", "true")
    expect(buttons.locator("button[value=client]")).to_have_attribute("aria-pressed", "false")
    expect(events).to_have_count(events_before + 1)
    expect(events.last).to_contain_text(buttons.locator("button[value=model]").inner_text())

    page.reload()
    expect(page.get_by_test_id("category-buttons").locator("button[value=model]")).to_have_attribute(
        "aria-pressed", "true"
    )


# --- language and access --------------------------------------------------------------------


def test_switching_the_language_changes_the_page_and_stays_with_the_user(page, live_server, new_context):
    with live_server.app.test_request_context(), force_locale("uk"):
        chats_in_ukrainian = _("Chats")  # whatever the catalog says now (it may not be filled yet)
    log_in(page, ADMIN)
    expect(page.locator("html")).to_have_attribute("lang", "ru")  # the browser asks for Russian

    with page.expect_navigation():
        page.get_by_test_id("language-select").select_option("uk")

    expect(page.locator("html")).to_have_attribute("lang", "uk")
    expect(page.get_by_test_id("language-select")).to_have_value("uk")
    expect(page.get_by_test_id("nav-chats")).to_contain_text(chats_in_ukrainian)

    # the choice is the user's: another browser that asks for Russian still gets Ukrainian
    other = new_context().new_page()
    log_in(other, ADMIN)
    expect(other.locator("html")).to_have_attribute("lang", "uk")


def test_a_master_sees_no_chats_link_and_is_refused_the_inbox(page: Page, live_server):
    conversation_id, _name = open_conversation_of_client(live_server)
    log_in(page, MASTER)
    expect(page.locator("header.topbar")).to_be_visible()  # logged in: the top bar is there
    expect(page.get_by_test_id("nav-chats")).to_have_count(0)
    expect(page.get_by_test_id("no-chat")).to_be_visible()  # a page saying why, not a 403

    response = page.goto("/")
    assert response.status == 403
    expect(page.get_by_test_id("inbox")).to_have_count(0)
    response = page.goto(f"/c/{conversation_id}")
    assert response.status == 403
    expect(page.locator("#dialog")).to_have_count(0)
