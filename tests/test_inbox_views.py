"""The inbox screen through HTTP: the list, the dialog, the card, and every action on them."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from extensions import db
from models import Attachment, Comment, Conversation, CustomField, CustomFieldValue, Message, MessageRevision
from models.base import utcnow
from tests.factories import (
    committed,
    make_channel,
    make_client,
    make_contact,
    make_conversation,
    make_message,
    make_tag,
    make_user,
    make_visit,
)

HTMX = {"HX-Request": "true"}


def text(response) -> str:
    return response.get_data(as_text=True)


def row_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<li id="conversation-(\d+)"', html)]


def listed(staff, **args) -> list[int]:
    response = staff.get("/list", query_string=args, headers=HTMX)
    assert response.status_code == 200, text(response)
    return row_ids(text(response))


def shown_at(url: str) -> dict:
    """Headers of a request htmx sends from a page showing `url`."""
    return {**HTMX, "HX-Current-URL": f"http://localhost{url}"}


def event_texts(html: str) -> list[str]:
    found = re.findall(r'<span class="event-text">(.*?)</span>', html, re.S)
    return [re.sub(r"\s+", " ", t).strip() for t in found]


def reload(model, ident):
    return committed(model, ident)


@pytest.fixture
def anna(app):
    return make_user(name="Anna Admin")


@pytest.fixture
def staff(login_as, anna):
    return login_as(anna)


# --- pages and fragments -----------------------------------------------------------


def test_list_page_shows_conversations_newest_first_with_nothing_open(staff):
    older = make_conversation(name="Ольга Петрова", messages=["Можно записаться?"])
    newer = make_conversation(name="Ирина", messages=["Добрый день"])

    response = staff.get("/")

    html = text(response)
    assert response.status_code == 200
    assert row_ids(html) == [newer.id, older.id]
    assert 'data-testid="dialog-empty"' in html
    assert "Можно записаться?" in html


def test_deep_link_renders_the_full_page_with_dialog_and_card_open(staff):
    client = make_client("Мария Иванова", phones=["+79161234567"])
    c = make_conversation(client=client, name="masha", messages=["Здравствуйте!"])

    response = staff.get(f"/c/{c.id}")

    html = text(response)
    assert response.status_code == 200
    assert "<html" in html
    assert f'data-conversation-id="{c.id}"' in html
    assert 'id="card"' in html and "Мария Иванова" in html
    assert 'href="tel:+79161234567"' in html
    assert re.search(rf'<li id="conversation-{c.id}" class="row selected', html)


def test_opening_a_row_answers_dialog_and_card_and_keeps_the_list_filters_in_the_url(staff):
    c = make_conversation(name="Ирина", messages=["Привет"])

    response = staff.get(f"/c/{c.id}", headers=shown_at("/?state=all&q=Ир"))

    html = text(response)
    assert "<html" not in html
    assert 'id="dialog"' in html and 'id="card"' in html and 'hx-swap-oob="true"' in html
    assert response.headers["HX-Push-Url"] == f"/c/{c.id}?q=%D0%98%D1%80&state=all"


def test_list_fragment_pushes_the_page_url_with_only_the_chosen_filters(staff):
    c = make_conversation(name="Ирина", messages=["Привет"])

    on_list = staff.get("/list?q=&scope=all&state=closed&list=admin&channel=", headers=shown_at("/"))
    on_dialog = staff.get("/list?state=all&scope=mine", headers=shown_at(f"/c/{c.id}"))

    assert on_list.headers["HX-Push-Url"] == "/?state=closed"
    assert on_dialog.headers["HX-Push-Url"] == f"/c/{c.id}?scope=mine&state=all"


def test_fragment_urls_opened_directly_redirect_to_their_full_page(staff):
    c = make_conversation(messages=["Привет"])

    assert staff.get("/list?state=closed").headers["Location"] == "/?state=closed"
    assert staff.get(f"/c/{c.id}/dialog").headers["Location"] == f"/c/{c.id}"
    assert staff.get(f"/c/{c.id}/card").status_code == 303


def test_dialog_and_card_fragments_render_their_panes(staff):
    c = make_conversation(name="Ирина", messages=["Первое сообщение"])

    dialog = text(staff.get(f"/c/{c.id}/dialog", headers=HTMX))
    card = text(staff.get(f"/c/{c.id}/card", headers=HTMX))

    assert dialog.lstrip().startswith('<section id="dialog"') and "Первое сообщение" in dialog
    assert card.lstrip().startswith('<aside id="card"') and "Create client" in card


def test_list_shows_more_rows_page_by_page(staff):
    made = [make_conversation(name=f"Client {n}", messages=[f"msg {n}"]) for n in range(53)]
    newest_first = [c.id for c in reversed(made)]

    first = text(staff.get("/list", headers=HTMX))
    more_url = re.search(r'hx-get="(/list\?after=[^"]+)"', first).group(1).replace("&amp;", "&")
    second = text(staff.get(more_url, headers=HTMX))

    assert row_ids(first) == newest_first[:50]
    assert row_ids(second) == newest_first[50:]
    assert "list-more" not in second and 'id="list-results"' not in second


def test_empty_list_says_so_with_a_hint(staff):
    response = staff.get("/list?state=spam", headers=HTMX)

    assert "No conversations here" in text(response)
    assert "Nothing is marked as spam." in text(response)


def test_row_shows_unread_badge_assignee_channel_and_broken_channel_reason(staff, anna):
    broken = make_channel("viber", health="broken", health_reason="Token revoked")
    c = make_conversation(channel=broken, name="Оксана", messages=["Алло"], assignee_id=anna.id)
    c.unread_count = 120
    db.session.commit()

    html = text(staff.get("/"))
    row = re.search(rf'<li id="conversation-{c.id}".*?</li>', html, re.S).group(0)

    assert 'data-testid="row-unread">99+<' in row
    assert ">AA<" in row  # Anna Admin's initials
    assert 'data-channel-kind="viber"' in row
    assert "Token revoked" in row and 'data-testid="channel-broken"' in row


def test_list_preview_is_the_last_client_or_staff_message_not_a_note(staff, anna):
    c = make_conversation(name="Ирина", messages=["Когда можно прийти?"])
    staff.post(f"/c/{c.id}/note", data={"text": "Перезвонить вечером"})

    html = text(staff.get("/"))

    assert "Когда можно прийти?" in html
    assert "Перезвонить вечером" not in html


def test_row_fragment_updates_a_row_the_shown_list_includes_and_removes_one_it_excludes(staff):
    c = make_conversation(name="Ирина", messages=["Привет"])

    on_open_list = text(staff.get(f"/c/{c.id}/row", headers=shown_at("/")))
    on_closed_list = text(staff.get(f"/c/{c.id}/row", headers=shown_at("/?state=closed")))

    assert re.search(rf'<li id="conversation-{c.id}"[^>]*hx-swap-oob="true" data-list-row', on_open_list)
    assert f'<div id="conversation-{c.id}" hx-swap-oob="delete" data-list-row>' in on_closed_list
    assert staff.get("/c/999999/row", headers=HTMX).status_code == 404


# --- list filters -----------------------------------------------------------------


def test_state_tabs_show_their_conversations(staff):
    unanswered = make_conversation(name="A", messages=["?"])
    answered = make_conversation(name="B", messages=["?"])
    make_message(answered, "Ответ", direction="out")
    snoozed = make_conversation(name="C", state="snoozed", snoozed_until=utcnow() + timedelta(hours=1))
    closed = make_conversation(name="D", state="closed")
    spam = make_conversation(name="E", is_spam=True, messages=["Купите"])

    assert listed(staff, state="unanswered") == [unanswered.id]
    assert set(listed(staff)) == {unanswered.id, answered.id}
    assert listed(staff, state="snoozed") == [snoozed.id]
    assert listed(staff, state="closed") == [closed.id]
    assert listed(staff, state="spam") == [spam.id]
    assert set(listed(staff, state="all")) == {unanswered.id, answered.id, snoozed.id, closed.id}


def test_scope_mine_and_unassigned(staff, anna):
    mine = make_conversation(name="A", assignee_id=anna.id)
    theirs = make_conversation(name="B", assignee_id=make_user().id)
    nobody = make_conversation(name="C")

    assert listed(staff, scope="mine") == [mine.id]
    assert listed(staff, scope="unassigned") == [nobody.id]
    assert set(listed(staff, scope="all")) == {mine.id, theirs.id, nobody.id}


def test_with_bot_list_is_apart_from_with_admin(staff):
    admin_side = make_conversation(name="A")
    bot_side = make_conversation(name="B", with_bot=True)

    assert listed(staff) == [admin_side.id]
    assert listed(staff, list="bot") == [bot_side.id]


def test_filters_by_channel_assignee_category_and_tag(staff, anna):
    whatsapp = make_channel("whatsapp")
    by_channel = make_conversation(channel=whatsapp, name="A")
    by_assignee = make_conversation(name="B", assignee_id=anna.id)
    by_category = make_conversation(client=make_client("Модель Света", category="model"), name="C")
    by_tag = make_conversation(name="D")
    vip = make_tag("VIP")
    staff.post(f"/c/{by_tag.id}/tag", data={"tag_id": vip.id})

    assert listed(staff, channel=whatsapp.id) == [by_channel.id]
    assert listed(staff, assignee=anna.id) == [by_assignee.id]
    assert listed(staff, category="model") == [by_category.id]
    assert listed(staff, tag=vip.id) == [by_tag.id]


def test_filter_values_outside_the_allowed_set_are_ignored(staff):
    c = make_conversation(name="A")

    assert listed(staff, state="deleted", scope="everyone", channel="x", tag="-1", category="vip") == [c.id]


@pytest.mark.parametrize("typed", ["+7 (916) 123-45-67", "89161234567", "9161234567"])
def test_search_finds_a_phone_written_differently_from_how_it_is_stored(staff, typed):
    wanted = make_conversation(client=make_client("Ольга", phones=["89161234567"]), name="olga")
    make_conversation(client=make_client("Анна", phones=["+79267654321"]), name="anna")

    assert listed(staff, q=typed) == [wanted.id]


@pytest.mark.parametrize(("stored", "typed"), [("Ольга Петрова", "ОЛЬГА"), ("Семён Лебедев", "семен")])
def test_search_finds_cyrillic_names_whatever_the_case_and_yo(staff, stored, typed):
    wanted = make_conversation(client=make_client(stored), name="someone")
    make_conversation(client=make_client("Мария"), name="other")

    assert listed(staff, q=typed) == [wanted.id]


def test_search_finds_words_in_message_text(staff):
    wanted = make_conversation(name="Ирина", messages=["Можно перенести маникюр на субботу?"])
    make_conversation(name="Галина", messages=["Спасибо!"])

    assert listed(staff, q="маникюр") == [wanted.id]


@pytest.mark.parametrize(
    "typed",
    [
        'ма"ник',
        "маникюр*",
        '"',
        "маникюр OR стрижка",
        "NEAR(маникюр стрижка)",
        "text:маникюр",
        "'; DROP TABLE messages; --",
        "%_\\",
        "💅🏻 маникюр",
        "маникюр " * 1000,
    ],
)
def test_search_with_odd_input_gives_results_or_nothing_never_an_error(staff, typed):
    make_conversation(name="Ирина", messages=["Хочу на маникюр"])

    response = staff.get("/list", query_string={"q": typed}, headers=HTMX)

    assert response.status_code == 200


# --- actions: each shows its event and updates the screen --------------------------


def test_assigning_shows_who_assigned_whom_and_updates_row_and_header_badge(staff):
    c = make_conversation(name="Ирина", messages=["?"])
    olena = make_user(name="Olena Koval")

    response = staff.post(f"/c/{c.id}/assign", data={"assignee": olena.id}, headers=shown_at("/"))

    html = text(response)
    assert response.status_code == 200
    assert "Anna Admin assigned the dialog to Olena Koval" in event_texts(html)
    assert re.search(rf'<li id="conversation-{c.id}"[^>]*hx-swap-oob="true"', html)
    assert 'id="header-badge"' in html and 'id="card"' in html
    assert reload(Conversation, c.id).assignee_id == olena.id


def test_taking_and_unassigning_are_events_too(staff, anna):
    c = make_conversation(name="Ирина")

    took = text(staff.post(f"/c/{c.id}/assign", data={"assignee": anna.id}))
    left = text(staff.post(f"/c/{c.id}/assign", data={"assignee": ""}))

    assert "Anna Admin took the dialog" in event_texts(took)
    assert "Anna Admin unassigned the dialog" in event_texts(left)


def test_assigning_to_someone_who_cannot_chat_is_refused_in_the_flash(staff):
    c = make_conversation(name="Ирина")
    master = make_user(role="master")

    response = staff.post(f"/c/{c.id}/assign", data={"assignee": master.id})

    assert response.status_code == 422
    assert response.headers["HX-Reswap"] == "none"
    assert 'id="flash"' in text(response) and "can&#39;t take chats" in text(response)


def test_closing_removes_the_row_from_the_open_list_and_shows_the_event(staff):
    c = make_conversation(name="Ирина", messages=["Спасибо!"])

    response = staff.post(f"/c/{c.id}/close", headers=shown_at(f"/c/{c.id}"))

    html = text(response)
    assert "Anna Admin closed the dialog" in event_texts(html)
    assert f'<div id="conversation-{c.id}" hx-swap-oob="delete"' in html
    assert 'data-testid="reopen"' in html
    assert listed(staff) == []
    assert listed(staff, state="closed") == [c.id]


def test_closing_while_viewing_all_keeps_the_row_updated(staff):
    c = make_conversation(name="Ирина", messages=["Спасибо!"])

    html = text(staff.post(f"/c/{c.id}/close", headers=shown_at(f"/c/{c.id}?state=all")))

    assert re.search(rf'<li id="conversation-{c.id}" class="row selected"[^>]*data-state="closed"', html)


def test_reopening_a_closed_dialog(staff):
    c = make_conversation(name="Ирина", state="closed")

    html = text(staff.post(f"/c/{c.id}/reopen"))

    assert "Anna Admin reopened the dialog" in event_texts(html)
    assert reload(Conversation, c.id).state == "open"
    assert listed(staff) == [c.id]


def test_snoozing_for_an_hour_shows_the_time_it_returns_in_salon_time(staff):
    c = make_conversation(name="Ирина", messages=["?"])

    html = text(staff.post(f"/c/{c.id}/snooze", data={"preset": "1h"}))

    until = reload(Conversation, c.id).snoozed_until
    assert abs(until - (utcnow() + timedelta(hours=1))) < timedelta(minutes=1)
    moscow = (until + timedelta(hours=3)).strftime("%H:%M")
    assert any(t.startswith("Anna Admin snoozed the dialog until") and moscow in t for t in event_texts(html))
    assert listed(staff, state="snoozed") == [c.id]
    assert listed(staff) == []


def test_snoozing_until_a_date_reads_it_in_the_salons_time_zone(staff):
    c = make_conversation(name="Ирина")
    day = (utcnow() + timedelta(days=30)).date()  # Europe/Moscow: UTC+3 all year

    staff.post(f"/c/{c.id}/snooze", data={"until": f"{day.isoformat()}T10:30"})

    expected = datetime(day.year, day.month, day.day, 7, 30, tzinfo=UTC)
    assert reload(Conversation, c.id).snoozed_until == expected


@pytest.mark.parametrize(
    "until", ["2020-01-01T10:00", "", "tomorrow", "2031-13-45T99:99", "2099-01-01T10:00", "9999-12-31T23:59"]
)
def test_snoozing_to_a_past_or_unreadable_time_is_refused(staff, until):
    c = make_conversation(name="Ирина")

    response = staff.post(f"/c/{c.id}/snooze", data={"until": until})

    assert response.status_code == 422
    assert reload(Conversation, c.id).state == "open"


def test_spam_and_not_spam(staff):
    c = make_conversation(name="Бот-рассылка", messages=["Купите"])

    marked = text(staff.post(f"/c/{c.id}/spam", data={"spam": "1"}, headers=shown_at("/")))
    assert "Anna Admin marked the dialog as spam" in event_texts(marked)
    assert listed(staff, state="spam") == [c.id]

    unmarked = text(staff.post(f"/c/{c.id}/spam", data={"spam": "0"}))
    assert "Anna Admin marked the dialog as not spam" in event_texts(unmarked)
    assert listed(staff, state="spam") == []


def test_a_private_note_appears_as_a_note_signed_by_its_author(staff):
    c = make_conversation(name="Ирина", messages=["?"])

    html = text(staff.post(f"/c/{c.id}/note", data={"text": "Клиентка просила перезвонить"}))

    note = re.search(r'<div id="message-\d+" class="msg msg-note".*?</div>\s*</div>\s*</div>', html, re.S)
    assert note and "Private note" in note.group(0) and "Anna Admin" in note.group(0)
    assert "Клиентка просила перезвонить" in note.group(0)


def test_an_empty_note_is_refused(staff):
    c = make_conversation(name="Ирина")

    response = staff.post(f"/c/{c.id}/note", data={"text": "   "})

    assert response.status_code == 422 and "The note is empty." in text(response)


def test_comments_on_the_dialog_and_on_the_session_show_in_card_and_dialog(staff):
    c = make_conversation(name="Ирина")

    on_dialog = text(staff.post(f"/c/{c.id}/comment", data={"text": "Любит кофе", "session": "0"}))
    on_session = text(staff.post(f"/c/{c.id}/comment", data={"text": "Ждёт звонка", "session": "1"}))

    assert "Anna Admin commented: Любит кофе" in event_texts(on_dialog)
    assert "Anna Admin commented on this session: Ждёт звонка" in event_texts(on_session)
    card = on_session[on_session.index('<aside id="card"') :]
    assert "Любит кофе" in card and "Ждёт звонка" in card
    db.session.rollback()
    comments = db.session.scalars(select(Comment).order_by(Comment.id)).all()
    assert [cm.session_id for cm in comments] == [None, c.current_session_id]


def test_tags_are_added_and_removed_on_the_dialog_and_on_the_session(staff):
    c = make_conversation(name="Ирина")
    vip = make_tag("VIP")

    added = text(staff.post(f"/c/{c.id}/tag", data={"tag_id": vip.id, "on": "1"}))
    on_session = text(staff.post(f"/c/{c.id}/tag", data={"tag_id": vip.id, "on": "1", "session": "1"}))
    removed = text(staff.post(f"/c/{c.id}/tag", data={"tag_id": vip.id, "on": "0"}))
    off_session = text(staff.post(f"/c/{c.id}/tag", data={"tag_id": vip.id, "on": "0", "session": "1"}))

    assert "Anna Admin added the tag VIP" in event_texts(added)
    assert "Anna Admin added the tag VIP to this session" in event_texts(on_session)
    assert "Anna Admin removed the tag VIP" in event_texts(removed)
    assert "Anna Admin removed the tag VIP from this session" in event_texts(off_session)
    chips = re.search(r'data-testid="session-tags">(.*?)</div>', on_session, re.S).group(1)
    assert ">VIP<" in chips


def test_an_unknown_tag_is_not_found(staff):
    c = make_conversation(name="Ирина")

    assert staff.post(f"/c/{c.id}/tag", data={"tag_id": 999999}).status_code == 404


def test_category_button_changes_the_clients_category(staff):
    client = make_client("Мария Иванова")
    c = make_conversation(client=client, name="masha")

    html = text(staff.post(f"/c/{c.id}/category", data={"category": "model"}))

    assert "Anna Admin changed the client category: Client → Model" in event_texts(html)
    assert re.search(r'value="model" class="pill" aria-pressed="true"', html)
    assert listed(staff, category="model") == [c.id]


def test_category_needs_a_linked_client(staff):
    c = make_conversation(name="Ирина")

    response = staff.post(f"/c/{c.id}/category", data={"category": "model"})

    assert response.status_code == 422


def test_visit_status_buttons_change_the_next_visit(staff):
    client = make_client("Мария Иванова")
    visit = make_visit(client, days=2, service="Маникюр", master="Оксана")
    c = make_conversation(client=client, name="masha")

    page = text(staff.get(f"/c/{c.id}"))
    assert "Маникюр" in page and "Оксана" in page
    html = text(staff.post(f"/c/{c.id}/visits/{visit.id}/status", data={"status": "confirmed"}))

    assert any(
        t.startswith("Anna Admin set the visit “Маникюр”") and "Confirmed" in t for t in event_texts(html)
    )
    assert re.search(r'value="confirmed" class="pill pill-confirmed" aria-pressed="true"', html)


def test_another_clients_visit_cant_be_changed_from_this_dialog(staff):
    c = make_conversation(client=make_client("Мария"), name="masha")
    strangers_visit = make_visit(make_client("Чужой"), days=2)

    response = staff.post(f"/c/{c.id}/visits/{strangers_visit.id}/status", data={"status": "cancelled"})

    assert response.status_code == 404
    assert reload(type(strangers_visit), strangers_visit.id).status == "waiting"


def test_card_saves_custom_fields_and_notes(staff):
    client = make_client("Мария Иванова")
    c = make_conversation(client=client, name="masha")
    hair = CustomField(name="Hair type", kind="select", options="Straight\nCurly")
    db.session.add(hair)
    db.session.commit()

    html = text(
        staff.post(f"/c/{c.id}/client", data={f"field-{hair.id}": "Curly", "notes": "Аллергия на лак"})
    )

    assert any(t.startswith("Anna Admin updated the client card:") for t in event_texts(html))
    assert "<option selected>Curly</option>" in html
    assert "Аллергия на лак</textarea>" in html
    db.session.rollback()
    assert db.session.scalars(select(CustomFieldValue.value)).all() == ["Curly"]


def test_card_refuses_a_value_outside_a_select_fields_options(staff):
    client = make_client("Мария Иванова")
    c = make_conversation(client=client, name="masha")
    hair = CustomField(name="Hair type", kind="select", options="Straight\nCurly")
    db.session.add(hair)
    db.session.commit()

    response = staff.post(f"/c/{c.id}/client", data={f"field-{hair.id}": "Blue"})

    assert response.status_code == 422


def test_create_client_links_the_unknown_writer(staff):
    c = make_conversation(name="Ирина Мельник")

    html = text(staff.post(f"/c/{c.id}/client/create"))

    assert "Anna Admin created the client Ирина Мельник" in event_texts(html)
    assert 'data-testid="category-buttons"' in html and 'data-testid="create-client"' not in html


def test_attach_search_lists_clients_with_phones_and_attaching_links_the_writer(staff):
    c = make_conversation(name="irina_nails")
    client = make_client("Ирина Мельник", phones=["+380671234567"])
    make_client("Мария Иванова")

    found = text(staff.get(f"/c/{c.id}/clients", query_string={"q": "мельник"}, headers=HTMX))
    assert "Ирина Мельник" in found and "+380 67 123 4567" in found and "Мария" not in found
    assert "Ирина Мельник" in text(staff.get(f"/c/{c.id}/clients?q=067+123+45+67", headers=HTMX))

    html = text(staff.post(f"/c/{c.id}/client/attach", data={"client_id": client.id}))

    assert "Anna Admin linked the writer to the client Ирина Мельник" in event_texts(html)
    assert 'data-testid="unlink-client"' in html


def test_attach_search_with_nothing_found_says_so(staff):
    c = make_conversation(name="irina_nails")

    html = text(staff.get(f"/c/{c.id}/clients?q=Нет+такого", headers=HTMX))

    assert "No client found" in html


def test_unlinking_a_wrong_link_keeps_the_client_and_the_messages(staff):
    client = make_client("Мария Иванова")
    c = make_conversation(client=client, name="masha", messages=["Привет"])

    html = text(staff.post(f"/c/{c.id}/client/unlink"))

    assert "Anna Admin unlinked the writer from the client Мария Иванова" in event_texts(html)
    assert 'data-testid="create-client"' in html and "Привет" in html
    assert reload(type(client), client.id) is not None


def test_an_action_without_javascript_redirects_back_to_the_dialog(staff):
    c = make_conversation(name="Ирина")

    response = staff.post(f"/c/{c.id}/close", htmx=False)

    assert response.status_code == 303
    assert response.headers["Location"] == f"/c/{c.id}"


# --- the dialog's messages ---------------------------------------------------------


def test_staff_messages_are_signed_with_salon_and_staff_name_and_show_delivery(staff, anna):
    c = make_conversation(name="Ирина", messages=["Здравствуйте"])
    make_message(c, "Ждём вас", direction="out", author=anna, delivery_status="read")
    make_message(
        c,
        "Напоминание",
        direction="out",
        author=anna,
        delivery_status="failed",
        delivery_error="Bot was blocked",
    )

    html = text(staff.get(f"/c/{c.id}"))

    assert "Okno · Anna Admin" in html
    assert 'data-status="read"' in html
    assert 'data-testid="delivery-error"' in html and "Bot was blocked" in html


def test_an_edited_message_keeps_its_earlier_text_visible(staff):
    c = make_conversation(name="Ирина")
    m = make_message(c, "Приду в пятницу", edited_at=utcnow())
    db.session.add(MessageRevision(message_id=m.id, text="Приду в четверг"))
    db.session.commit()

    html = text(staff.get(f"/c/{c.id}"))

    assert 'data-testid="edited"' in html
    assert "Приду в четверг" in html and "Приду в пятницу" in html


def test_a_reply_shows_the_quoted_message(staff):
    c = make_conversation(name="Ирина")
    first = make_message(c, "Есть время в субботу?")
    make_message(c, "Да, в 10:00", direction="out", reply_to_id=first.id)

    html = text(staff.get(f"/c/{c.id}"))

    assert re.search(r'<blockquote class="quote"[^>]*>Есть время в субботу\?</blockquote>', html)


def test_days_are_separated_and_earlier_messages_load_on_request(staff):
    c = make_conversation(name="Ирина")
    long_ago = utcnow() - timedelta(days=30)
    for n in range(105):
        make_message(c, f"старое {n}", at=long_ago + timedelta(minutes=n))
    make_message(c, "сегодня")

    html = text(staff.get(f"/c/{c.id}"))
    assert "Today" in html and html.count('class="day-sep"') == 2
    assert "старое 5<" not in html and "старое 6<" in html

    button = re.search(r'hx-get="(/c/\d+/dialog\?before=(\d+))"', html)
    earlier = text(staff.get(button.group(1), headers=HTMX))

    assert [f"старое {n}<" in earlier for n in range(7)] == [True] * 6 + [False]
    assert 'data-testid="load-earlier"' not in earlier
    # the first message on screen is on the same day: its separator goes
    assert f'id="day-before-{button.group(2)}" hx-swap-oob="delete"' in earlier


def test_a_blocked_bot_replaces_the_composer(staff):
    c = make_conversation(contact=make_contact(name="Дарья", blocked=True))

    html = text(staff.get(f"/c/{c.id}"))

    assert "Bot blocked by the user" in html
    assert 'data-testid="composer-text"' not in html


def test_the_composer_replies_to_the_client_and_offers_a_private_note(staff):
    c = make_conversation(name="Ирина")

    html = text(staff.get(f"/c/{c.id}"))

    composer = html[html.index('id="composer"') :]
    assert f'hx-post="/c/{c.id}/reply"' in composer
    assert f'data-note-url="/c/{c.id}/note"' in composer and "Private note" in composer


def test_a_visitor_given_name_is_marked_unverified(staff):
    widget = make_channel("widget")
    c = make_conversation(
        contact=make_contact(widget, name="Марина", phone="+79035551234", given_by_visitor=True)
    )

    html = text(staff.get(f"/c/{c.id}"))

    assert "given by the visitor, unverified" in html


def test_events_keep_html_in_names_as_text(staff, login_as):
    c = make_conversation(name="Ирина")
    evil = login_as(make_user(name="<i>Evil</i>"))

    html = text(evil.post(f"/c/{c.id}/close"))

    assert "&lt;i&gt;Evil&lt;/i&gt; closed the dialog" in event_texts(html)


def test_html_in_names_and_messages_is_shown_as_text(staff):
    c = make_conversation(name="<script>alert(1)</script>", messages=["<img src=x onerror=alert(2)>"])

    for html in (text(staff.get("/")), text(staff.get(f"/c/{c.id}"))):
        assert "<script>alert(1)</script>" not in html
        assert "<img src=x onerror" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- attachments -------------------------------------------------------------------


def _attachment(app, c, filename, content_type, body=b"\x89PNG\r\n"):
    (app.config["UPLOAD_DIR"] / "files").mkdir(parents=True, exist_ok=True)
    (app.config["UPLOAD_DIR"] / "files" / filename).write_bytes(body)
    m = make_message(c, "", kind="image" if content_type.startswith("image/") else "file")
    a = Attachment(
        message_id=m.id,
        filename=filename,
        content_type=content_type,
        size=len(body),
        storage_path=f"files/{filename}",
    )
    db.session.add(a)
    db.session.commit()
    return a


def test_images_show_inline_and_files_as_links_with_size(app, staff):
    c = make_conversation(name="Ирина")
    image = _attachment(app, c, "nails.png", "image/png")
    pdf = _attachment(app, c, "price.pdf", "application/pdf", b"%PDF-1.4" + b"0" * 2040)

    html = text(staff.get(f"/c/{c.id}"))

    assert f'<img src="/attachments/{image.id}"' in html
    assert f'href="/attachments/{pdf.id}"' in html and "price.pdf" in html and "2.0 kB" in html
    served = staff.get(f"/attachments/{image.id}")
    assert served.status_code == 200 and served.mimetype == "image/png"
    assert "attachment" not in served.headers.get("Content-Disposition", "")


def test_a_non_image_attachment_is_a_download_in_a_sandbox(app, staff):
    c = make_conversation(name="Ирина")
    svg = _attachment(app, c, "x.svg", "image/svg+xml", b"<svg onload=alert(1)>")

    served = staff.get(f"/attachments/{svg.id}")

    assert served.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in served.headers["Content-Security-Policy"]


def test_attachments_are_for_logged_in_chat_staff_only(app, client, login_as):
    c = make_conversation(name="Ирина")
    image = _attachment(app, c, "nails.png", "image/png")

    assert client.get(f"/attachments/{image.id}").status_code == 302
    assert login_as(make_user(role="master")).get(f"/attachments/{image.id}").status_code == 403
    assert login_as(make_user()).get("/attachments/999999").status_code == 404


# --- refusals ----------------------------------------------------------------------


def test_a_post_without_the_csrf_header_is_refused(staff):
    c = make_conversation(name="Ирина")

    response = staff.post(f"/c/{c.id}/close", headers={"X-CSRFToken": ""})

    assert response.status_code == 400
    assert reload(Conversation, c.id).state == "open"


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", "/"), ("get", "/c/{id}"), ("get", "/list"), ("get", "/c/{id}/card"), ("post", "/c/{id}/close")],
)
def test_a_master_without_chat_access_gets_403(login_as, method, url):
    c = make_conversation(name="Ирина")
    master = login_as(make_user(role="master"))

    response = getattr(master, method)(url.format(id=c.id), headers=HTMX)

    assert response.status_code == 403
    assert reload(Conversation, c.id).state == "open"


def test_a_master_never_sees_the_chats_link(login_as):
    master = login_as(make_user(role="master"))

    html = text(master.get("/"))

    assert 'href="/"' not in html
    assert "Chats" not in html


def test_logged_out_pages_go_to_login_and_fragments_get_401(client):
    c = make_conversation(name="Ирина")

    assert client.get(f"/c/{c.id}").status_code == 302
    assert client.get("/list", headers=HTMX).status_code == 401


@pytest.mark.parametrize(
    "url", ["/c/999999", "/c/999999/dialog", "/c/999999/card", "/c/999999/clients?q=a", "/c/0"]
)
def test_unknown_conversations_are_not_found(staff, url):
    assert staff.get(url, headers=HTMX).status_code == 404
    assert staff.get(url).status_code in (303, 404)


def test_an_unknown_conversation_in_htmx_gets_a_flash_not_a_page(staff):
    response = staff.get("/c/999999", headers=HTMX)

    assert response.status_code == 404
    assert response.headers["HX-Reswap"] == "none"
    assert 'id="flash"' in text(response) and "<html" not in text(response)


@pytest.mark.parametrize(
    "action", ["close", "reopen", "note", "spam", "assign", "snooze", "comment", "tag", "client/unlink"]
)
def test_actions_on_an_unknown_conversation_are_not_found(staff, action):
    response = staff.post(f"/c/999999/{action}", data={"text": "x", "preset": "1h", "tag_id": "1"})

    assert response.status_code == 404


def test_loading_earlier_messages_of_another_conversation_is_not_found(staff):
    mine = make_conversation(name="A", messages=["a"])
    other = make_conversation(name="B", messages=["b"])
    foreign = db.session.scalars(select(Message.id).where(Message.conversation_id == other.id)).first()

    response = staff.get(f"/c/{mine.id}/dialog?before={foreign}", headers=HTMX)

    assert response.status_code == 404
