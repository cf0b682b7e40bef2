# ruff: noqa: F811
"""The salon bot on Telegram (and Viber's conversation_started): greeting and buttons, "My visits",
handing the dialog to an administrator, and its replies going out through the outbox."""

import copy
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime
from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from channels.base import ConversationStarted
from extensions import db
from jobs.delivery import deliver_message
from models import Contact, Conversation, Message
from services import inbound, messaging
from services.salon import get_salon
from tests.factories import make_channel, make_client, make_user, make_visit
from tests.test_telegram_standin import (
    CHAT,
    make_telegram,
    payload,
    post_update,
    telegram_api,  # noqa: F401  (the fixture)
)

_numbers = iter(range(200, 10_000))


@pytest.fixture(autouse=True)
def salon_speaks_russian(app):
    """The bot speaks the salon's default language: Russian, as shipped (tests/conftest.py sets English)."""
    app.config["BABEL_DEFAULT_LOCALE"] = "ru"


def ru(text: str) -> str:
    """A bot text as the client reads it: in the salon's default language."""
    with force_locale("ru"):
        return _(text)


def writes(client, channel, text: str):
    """The client sends `text` in their private chat with the bot."""
    update = copy.deepcopy(payload("text"))
    number = next(_numbers)
    update["update_id"] = 815700000 + number
    update["message"]["message_id"] = number
    update["message"]["text"] = text
    assert post_update(client, channel, update).status_code == 200


def the_conversation(channel) -> Conversation:
    db.session.rollback()
    return db.session.scalars(select(Conversation).where(Conversation.channel_id == channel.id)).one()


def bot_messages(conversation) -> list[Message]:
    db.session.rollback()
    return db.session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation.id, Message.direction == "out")
        .order_by(Message.id)
    ).all()


def events(conversation) -> list[str]:
    return db.session.scalars(
        select(Message.event)
        .where(Message.conversation_id == conversation.id, Message.direction == "event")
        .order_by(Message.id)
    ).all()


@pytest.fixture
def channel(app):
    return make_telegram()


def test_start_greets_with_the_salon_name_and_two_buttons(client, channel):
    post_update(client, channel, payload("start"))

    conversation = the_conversation(channel)
    assert conversation.with_bot is True
    [greeting] = bot_messages(conversation)
    assert get_salon().name in greeting.text
    assert greeting.author_id is None
    assert greeting.data["bot"] is True
    assert greeting.data["buttons"] == [ru("My visits"), ru("Talk to an administrator")]
    assert greeting.delivery_status == "queued"
    assert (
        conversation.last_message_preview == "/start"
    )  # the bot is no staff reply: the list shows the client


def test_the_greeting_reaches_telegram_with_its_keyboard(client, channel, telegram_api):
    post_update(client, channel, payload("start"))
    [greeting] = bot_messages(the_conversation(channel))

    assert deliver_message(greeting.id) == "sent"

    [call] = telegram_api.of("sendMessage")
    assert call.json["chat_id"] == CHAT
    assert call.json["reply_markup"]["keyboard"] == [
        [{"text": ru("My visits")}],
        [{"text": ru("Talk to an administrator")}],
    ]


def test_my_visits_lists_the_linked_clients_upcoming_visits_in_the_salon_time_zone(client, channel):
    maria = make_client("Мария Иванова")
    coming = make_visit(maria, days=3, service="Стрижка", master="Ольга")
    make_visit(maria, days=5, service="Окрашивание", status="cancelled")
    make_visit(maria, days=-2, service="Маникюр", status="arrived")
    post_update(client, channel, payload("start"))
    db.session.get(Contact, the_conversation(channel).contact_id).client_id = maria.id
    db.session.commit()

    writes(client, channel, ru("My visits"))

    conversation = the_conversation(channel)
    answer = bot_messages(conversation)[-1]
    when = format_datetime(
        coming.starts_at, "d MMMM, HH:mm", tzinfo=ZoneInfo(get_salon().timezone), locale="ru"
    )
    assert when in answer.text
    assert "Стрижка" in answer.text and "Ольга" in answer.text
    assert "Окрашивание" not in answer.text and "Маникюр" not in answer.text
    assert conversation.with_bot is True  # the bot keeps the dialog
    assert answer.data["buttons"] == [ru("My visits"), ru("Talk to an administrator")]


def test_visit_times_are_the_salons_wall_clock(client, channel, app):
    maria = make_client("Мария Иванова")
    make_visit(maria, days=1, service="Стрижка")
    visit = maria.visits[0]
    visit.starts_at = datetime(2099, 3, 14, 7, 30, tzinfo=ZoneInfo("UTC"))  # 10:30 in Moscow
    db.session.commit()
    post_update(client, channel, payload("start"))
    db.session.get(Contact, the_conversation(channel).contact_id).client_id = maria.id
    db.session.commit()

    writes(client, channel, ru("My visits"))

    assert "10:30" in bot_messages(the_conversation(channel))[-1].text


def test_my_visits_in_a_chat_not_linked_to_a_client_says_why_there_are_none(client, channel):
    post_update(client, channel, payload("start"))

    writes(client, channel, "  " + ru("My visits").upper() + " ")

    answer = bot_messages(the_conversation(channel))[-1]
    assert answer.text == ru(
        "This chat isn't linked to your client card yet, so I can't see your visits. "
        "Write your question and an administrator will answer."
    )


def test_free_text_moves_the_dialog_to_with_admin_and_tells_the_client(client, channel):
    writes(client, channel, "Сколько стоит стрижка?")

    conversation = the_conversation(channel)
    assert conversation.with_bot is False
    assert events(conversation) == ["bot_handoff"]
    assert conversation.unread_count == 1  # the question waits for an administrator
    [answer] = bot_messages(conversation)
    assert answer.text == ru("Thank you! An administrator will answer you here soon.")
    assert answer.data["context"] == {"remove_keyboard": True}


def test_talk_to_an_administrator_hands_the_dialog_over(client, channel):
    post_update(client, channel, payload("start"))

    writes(client, channel, ru("Talk to an administrator"))

    conversation = the_conversation(channel)
    assert conversation.with_bot is False
    assert events(conversation) == ["bot_handoff"]


def test_once_with_admin_the_bot_keeps_quiet(client, channel):
    writes(client, channel, "Сколько стоит стрижка?")

    writes(client, channel, ru("My visits"))

    assert len(bot_messages(the_conversation(channel))) == 1  # only the handoff notice


def test_a_staff_reply_takes_the_dialog_from_the_bot(client, channel):
    post_update(client, channel, payload("start"))
    anna = make_user(name="Анна Смирнова")

    messaging.send_reply(the_conversation(channel).id, anna, "Здравствуйте, чем помочь?")

    conversation = the_conversation(channel)
    assert conversation.with_bot is False
    assert conversation.assignee_id == anna.id
    assert events(conversation) == ["took", "bot_handoff"]


def test_the_handoff_reads_as_a_system_event_for_staff(client, channel, app):
    writes(client, channel, "Сколько стоит стрижка?")
    anna = make_user(name="Анна Смирнова")
    [handoff] = [m for m in _event_rows(the_conversation(channel)) if m.event == "bot_handoff"]

    with app.test_request_context(), force_locale("en"):
        by_bot = render_template("inbox/_event_text.html", msg=handoff)
        handoff.data = {"actor": anna.name}
        by_staff = render_template("inbox/_event_text.html", msg=handoff)

    assert by_bot == "The bot passed the dialog to an administrator"
    assert by_staff == "Анна Смирнова took the dialog from the bot"


def _event_rows(conversation) -> list[Message]:
    return db.session.scalars(
        select(Message).where(Message.conversation_id == conversation.id, Message.direction == "event")
    ).all()


def test_with_the_bot_turned_off_new_chats_go_straight_to_admins(client, app):
    channel = make_telegram(bot=False)

    post_update(client, channel, payload("start"))
    writes(client, channel, "Сколько стоит стрижка?")

    conversation = the_conversation(channel)
    assert conversation.with_bot is False
    assert bot_messages(conversation) == []
    assert events(conversation) == []


def test_a_bot_turned_off_later_hands_its_dialogs_over_without_a_word(client, channel):
    post_update(client, channel, payload("start"))
    channel = db.session.get(type(channel), channel.id)
    channel.settings = {**channel.settings, "bot": False}
    db.session.commit()

    writes(client, channel, ru("My visits"))

    conversation = the_conversation(channel)
    assert conversation.with_bot is False
    assert len(bot_messages(conversation)) == 1  # the greeting from before, nothing new


def test_the_bot_does_not_write_to_a_client_who_blocked_it(client, channel):
    post_update(client, channel, payload("start"))
    post_update(client, channel, payload("my_chat_member_kicked"))

    assert messaging.send_bot_reply(the_conversation(channel).id, "Ещё раз здравствуйте") is None
    assert len(bot_messages(the_conversation(channel))) == 1


def test_viber_conversation_started_opens_a_bot_dialog_and_greets(app):
    viber = make_channel("viber")

    inbound.handle_events(
        viber.id, [ConversationStarted("01234567890A=", "Олена", "https://media.viber.test/a.jpg")]
    )

    conversation = the_conversation(viber)
    assert conversation.with_bot is True
    assert conversation.contact.display_name == "Олена"
    [greeting] = bot_messages(conversation)
    assert greeting.data["buttons"] == [ru("My visits"), ru("Talk to an administrator")]


def test_conversation_started_does_nothing_when_the_bot_is_off(app):
    viber = make_channel("viber", settings={"bot": False})

    inbound.handle_events(viber.id, [ConversationStarted("01234567890A=", "Олена")])

    assert db.session.scalars(select(Conversation).where(Conversation.channel_id == viber.id)).all() == []


def test_the_bot_answers_in_the_channels_own_language_when_set(client, app):
    channel = make_telegram(language="en")

    writes(client, channel, "How much is a haircut?")

    [answer] = bot_messages(the_conversation(channel))
    assert answer.text == "Thank you! An administrator will answer you here soon."


def test_a_visit_far_ahead_is_listed_too(client, channel):
    maria = make_client("Мария Иванова")
    make_visit(maria, days=60, service="Стрижка")
    post_update(client, channel, payload("start"))
    db.session.get(Contact, the_conversation(channel).contact_id).client_id = maria.id
    db.session.commit()

    writes(client, channel, ru("My visits"))

    assert "Стрижка" in bot_messages(the_conversation(channel))[-1].text


def test_no_upcoming_visits_says_so(client, channel):
    maria = make_client("Мария Иванова")
    make_visit(maria, days=-1, service="Стрижка", status="arrived")
    post_update(client, channel, payload("start"))
    db.session.get(Contact, the_conversation(channel).contact_id).client_id = maria.id
    db.session.commit()

    writes(client, channel, ru("My visits"))

    assert bot_messages(the_conversation(channel))[-1].text == ru(
        "You have no upcoming visits. Write here to book one and an administrator will answer."
    )
