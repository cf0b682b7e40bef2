"""The list's read queries (services/inbox.py): search, state tabs, paging."""

from datetime import timedelta

import pytest

from models.base import utcnow
from services.inbox import ListFilter, list_conversations
from tests.factories import (
    make_channel,
    make_client,
    make_contact,
    make_conversation,
    make_message,
    make_user,
)


def found(user, **filters) -> list[int]:
    rows, _cursor = list_conversations(ListFilter(**filters), user)
    return [c.id for c in rows]


@pytest.fixture
def admin(app):
    return make_user()


@pytest.mark.parametrize("typed", ["+7 (916) 123-45-67", "89161234567", "916 123 45 67", "123-45"])
def test_search_finds_a_client_by_phone_however_it_is_typed(admin, typed):
    client = make_client("Ольга Петрова", phones=["+79161234567"])
    wanted = make_conversation(client=client, name="Оля", messages=["Здравствуйте"])
    make_conversation(client=make_client("Анна", phones=["+79267654321"]), messages=["Добрый день"])

    assert found(admin, q=typed) == [wanted.id]


def test_search_finds_an_unknown_writer_by_the_phone_the_messenger_gave(admin):
    channel = make_channel("whatsapp")
    wanted = make_conversation(contact=make_contact(channel, name="Viktoria", phone="+380671234567"))
    make_conversation(contact=make_contact(channel, name="Oksana", phone="+380931112233"))

    assert found(admin, q="067 123 45 67") == [wanted.id]


def test_search_finds_a_client_name_whatever_the_case_and_yo(admin):
    wanted = make_conversation(client=make_client("Алёна Фёдорова"), name="alena_nails", messages=["Привет"])
    make_conversation(client=make_client("Мария Фролова"), messages=["Привет"])

    assert found(admin, q="федорова") == [wanted.id]
    assert found(admin, q="АЛЕНА Ф") == [wanted.id]


def test_search_finds_the_messenger_name_of_an_unlinked_writer(admin):
    wanted = make_conversation(name="kitty_nails", messages=["Можно на маникюр?"])
    make_conversation(name="sunny_brows", messages=["Можно на брови?"])

    assert found(admin, q="Kitty") == [wanted.id]


def test_search_finds_message_words_by_their_beginnings_with_yo_folded(admin):
    wanted = make_conversation(name="Ирина", messages=["Хорошо, тогда в субботу подойдёт"])
    make_conversation(name="Галина", messages=["В субботу не смогу"])

    assert found(admin, q="подойдет суб") == [wanted.id]
    assert found(admin, q="подойдет вторник") == []


@pytest.mark.parametrize(
    ("typed", "finds"),
    [
        ('"маникюр', True),
        ("маникюр*", True),
        ("маникюр OR брови", False),  # OR is a word here, and every word must match
        ("NEAR(маникюр)", False),
        ("text:маникюр", False),  # not FTS5's column filter
    ],
)
def test_search_treats_full_text_syntax_as_plain_words(admin, typed, finds):
    wanted = make_conversation(name="Ирина", messages=["Хочу на маникюр"])

    assert found(admin, q=typed) == ([wanted.id] if finds else [])


def test_search_stays_within_the_chosen_state_tab(admin):
    closed = make_conversation(name="Closed Client", state="closed", messages=["Спасибо за стрижку"])

    assert found(admin, q="стрижку") == []
    assert found(admin, q="стрижку", state="closed") == [closed.id]
    assert found(admin, q="стрижку", state="all") == [closed.id]


def test_state_tabs_show_their_conversations_newest_activity_first(admin):
    start = utcnow() - timedelta(hours=5)
    unanswered = make_conversation(name="Unanswered", last_activity_at=start)
    make_message(unanswered, "Есть время завтра?", at=start + timedelta(hours=1))
    answered = make_conversation(name="Answered")
    make_message(answered, "Здравствуйте", at=start)
    make_message(answered, "Да, записываю", direction="out", author=admin, at=start + timedelta(hours=2))
    snoozed = make_conversation(name="Snoozed", state="snoozed", last_activity_at=start + timedelta(hours=3))
    closed = make_conversation(name="Closed", state="closed", last_activity_at=start + timedelta(minutes=1))
    spam = make_conversation(name="Spam", is_spam=True, last_activity_at=start + timedelta(hours=4))
    bot = make_conversation(name="Bot", with_bot=True, last_activity_at=start + timedelta(hours=4))

    assert found(admin) == [answered.id, unanswered.id]
    assert found(admin, state="unanswered") == [unanswered.id]
    assert found(admin, state="snoozed") == [snoozed.id]
    assert found(admin, state="closed") == [closed.id]
    assert found(admin, state="spam") == [spam.id]
    assert found(admin, state="all") == [snoozed.id, answered.id, unanswered.id, closed.id]
    assert found(admin, lst="bot") == [bot.id]


def test_pages_follow_each_other_without_gaps_or_repeats_when_times_are_equal(admin):
    same_time = utcnow() - timedelta(minutes=10)
    ids = [make_conversation(name=f"Client {n}", last_activity_at=same_time).id for n in range(5)]

    seen, cursor = [], None
    while True:
        f = ListFilter.from_args({"state": "all", "after": cursor} if cursor else {"state": "all"})
        rows, cursor = list_conversations(f, admin, limit=2)
        seen += [c.id for c in rows]
        if cursor is None:
            break

    assert seen == sorted(ids, reverse=True)
