"""The 24-hour reply window: when free text may go, what the dialog shows, and template messages."""

from datetime import timedelta

import pytest
from flask import render_template
from flask_babel import format_datetime
from sqlalchemy import select

from extensions import db
from models import Message
from models.base import utcnow
from services import messaging, windows
from services.errors import ActionError
from tests.factories import make_conversation, make_message, make_user
from tests.test_whatsapp_webhooks import whatsapp_channel

TEMPLATES = [
    {"name": "visit_reminder", "language": "ru", "body": "{{1}}, ждём вас {{2}} в салоне", "params": 2},
    {"name": "thanks", "language": "ru", "body": "Спасибо, что выбрали нас!", "params": 0},
]


@pytest.fixture
def admin(app):
    return make_user(name="Анна Смирнова")


def whatsapp_conversation(last_wrote: timedelta | None, templates=TEMPLATES):
    channel = whatsapp_channel()
    channel.settings = {"templates": templates}
    db.session.commit()
    conversation = make_conversation(channel=channel, name="Sheena Nelson")
    if last_wrote is not None:
        make_message(conversation, "Можно на субботу?", at=utcnow() - last_wrote)
    return conversation


def outbound_of(conversation_id: int) -> list[Message]:
    db.session.rollback()
    return db.session.scalars(
        select(Message).where(Message.conversation_id == conversation_id, Message.direction == "out")
    ).all()


# --- the window --------------------------------------------------------------------------------


def test_the_window_closes_24_hours_after_the_clients_last_message(app):
    conversation = whatsapp_conversation(timedelta(hours=5))
    last = db.session.scalars(select(Message).where(Message.conversation_id == conversation.id)).one()
    assert windows.reply_window(conversation) == last.created_at + timedelta(hours=24)
    assert windows.window_open(conversation)


def test_the_window_is_closed_a_day_after_the_client_wrote(app):
    conversation = whatsapp_conversation(timedelta(hours=25))
    assert not windows.window_open(conversation)


def test_a_client_who_never_wrote_has_no_open_window(app):
    conversation = whatsapp_conversation(None)
    assert windows.reply_window(conversation) is None
    assert not windows.window_open(conversation)


def test_our_own_later_messages_do_not_extend_the_window(app, admin):
    conversation = whatsapp_conversation(timedelta(hours=30))
    make_message(conversation, "Ответ", direction="out", at=utcnow() - timedelta(hours=1))
    assert not windows.window_open(conversation)


def test_channels_without_a_window_are_always_open(app):
    conversation = make_conversation(channel="telegram", messages=[])
    assert windows.reply_window(conversation) is None
    assert windows.window_open(conversation)


# --- free text refused outside it ---------------------------------------------------------------


def test_free_text_outside_the_window_is_refused_with_the_reason(app, admin):
    conversation = whatsapp_conversation(timedelta(days=2))
    with pytest.raises(ActionError, match="24 hours") as caught:
        messaging.send_reply(conversation.id, admin, "Напоминаем о записи")
    assert "template" in str(caught.value)
    assert outbound_of(conversation.id) == []


def test_free_text_inside_the_window_is_queued(app, admin):
    conversation = whatsapp_conversation(timedelta(hours=23))
    message = messaging.send_reply(conversation.id, admin, "Да, в 15:00")
    assert message.delivery_status == "queued"


# --- template messages --------------------------------------------------------------------------


def test_a_template_is_queued_outside_the_window_with_its_body_filled(app, admin):
    conversation = whatsapp_conversation(timedelta(days=3))
    message = messaging.send_template(conversation.id, admin, "visit_reminder", "ru", [" Шина ", "в субботу"])
    [stored] = outbound_of(conversation.id)
    assert stored.id == message.id
    assert (stored.kind, stored.text, stored.delivery_status) == (
        "template",
        "Шина, ждём вас в субботу в салоне",
        "queued",
    )
    assert stored.data["template"] == {
        "name": "visit_reminder",
        "language": "ru",
        "params": ["Шина", "в субботу"],
    }
    assert stored.author_id == admin.id


def test_a_template_without_parameters_sends_its_body(app, admin):
    conversation = whatsapp_conversation(None)
    message = messaging.send_template(conversation.id, admin, "thanks", "ru", [])
    assert message.text == "Спасибо, что выбрали нас!"


@pytest.mark.parametrize(
    ("name", "language", "params", "error"),
    [
        ("visit_reminder", "ru", ["Шина"], "every parameter"),
        ("visit_reminder", "ru", ["Шина", "  "], "every parameter"),
        ("visit_reminder", "en", ["Шина", "завтра"], "not among"),
        ("birthday", "ru", [], "not among"),
    ],
)
def test_a_template_that_is_not_approved_or_not_filled_is_refused(app, admin, name, language, params, error):
    conversation = whatsapp_conversation(timedelta(days=3))
    with pytest.raises(ActionError, match=error):
        messaging.send_template(conversation.id, admin, name, language, params)
    assert outbound_of(conversation.id) == []


def test_templates_go_through_whatsapp_only(app, admin):
    conversation = make_conversation(channel="telegram", messages=["Привет"])
    with pytest.raises(ActionError, match="WhatsApp"):
        messaging.send_template(conversation.id, admin, "visit_reminder", "ru", ["a", "b"])


def test_the_template_endpoint_sends_and_answers_with_the_dialog(app, admin, login_as):
    conversation = whatsapp_conversation(timedelta(days=3))
    staff = login_as(admin)
    response = staff.post(
        f"/c/{conversation.id}/wa-template",
        {"name": "visit_reminder", "language": "ru", "params": ["Шина", "в субботу"]},
    )
    assert response.status_code == 200
    assert "Шина, ждём вас в субботу в салоне" in response.get_data(as_text=True)
    [stored] = outbound_of(conversation.id)
    assert stored.kind == "template"


def test_the_template_endpoint_refuses_a_missing_parameter_with_422(app, admin, login_as):
    conversation = whatsapp_conversation(timedelta(days=3))
    response = login_as(admin).post(
        f"/c/{conversation.id}/wa-template", {"name": "visit_reminder", "language": "ru", "params": ["Шина"]}
    )
    assert response.status_code == 422
    assert "Fill in every parameter" in response.get_data(as_text=True)
    assert outbound_of(conversation.id) == []


def test_the_template_endpoint_answers_404_for_an_unknown_conversation(app, admin, login_as):
    response = login_as(admin).post("/c/987654/wa-template", {"name": "thanks", "language": "ru"})
    assert response.status_code == 404


# --- what the dialog shows ----------------------------------------------------------------------


def render(app, template: str, conversation) -> str:
    with app.test_request_context("/"):
        return render_template(template, c=conversation)


def test_the_header_shows_when_the_window_closes(app):
    conversation = whatsapp_conversation(timedelta(hours=20))
    closes = windows.reply_window(conversation)
    with app.test_request_context("/"):
        html = render_template("channels/_reply_window.html", c=conversation)
        # the day too: a window opened this morning closes tomorrow
        expected = format_datetime(closes, "d MMM, HH:mm")
    assert 'id="reply-window"' in html
    assert 'data-state="open"' in html
    assert f"Reply window closes at {expected}" in html


def test_the_header_says_the_window_is_closed(app):
    html = render(app, "channels/_reply_window.html", whatsapp_conversation(timedelta(days=2)))
    assert 'data-state="closed"' in html
    assert "Reply window closed" in html


def test_the_header_shows_no_window_for_other_channels(app):
    html = render(
        app, "channels/_reply_window.html", make_conversation(channel="telegram", messages=["Привет"])
    )
    assert 'id="reply-window"' in html
    assert "hidden" in html
    assert "Reply window" not in html


def test_outside_the_window_the_composer_offers_the_approved_templates(app):
    conversation = whatsapp_conversation(timedelta(days=2))
    html = render(app, "channels/_wa_templates.html", conversation)
    assert 'id="wa-templates"' in html
    assert "24 hours" in html
    assert f'action="/c/{conversation.id}/wa-template"' in html
    assert 'data-template="visit_reminder"' in html and 'data-template="thanks"' in html
    assert html.count('name="params"') == 2  # visit_reminder's {{1}} and {{2}}, none for thanks
    assert "{{1}}, ждём вас {{2}} в салоне" in html
    assert 'name="csrf_token"' in html


def test_a_channel_without_templates_says_how_to_get_them(app):
    html = render(app, "channels/_wa_templates.html", whatsapp_conversation(timedelta(days=2), templates=[]))
    assert 'data-testid="wa-templates-none"' in html
    assert "Sync now" in html


def test_template_text_from_the_platform_is_shown_as_text(app):
    templates = [{"name": "x", "language": "ru", "body": "<script>alert(1)</script>", "params": 0}]
    conversation = whatsapp_conversation(timedelta(days=2), templates=templates)
    html = render(app, "channels/_wa_templates.html", conversation)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
