"""The live inbox page through HTTP: the composer's reply (text, quote, files), retry, the dialog's tail
for realtime updates, and the header's sound switch."""

import io
import re
from pathlib import Path

import pytest
from rq import Queue
from sqlalchemy import select

from extensions import db
from models import Attachment, Conversation, Message, RolePermission, User
from services.redis import get_redis
from tests.factories import committed, make_channel, make_contact, make_conversation, make_message, make_user

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
)
HTMX = {"HX-Request": "true"}


def text(response) -> str:
    return response.get_data(as_text=True)


def reload(model, ident):
    return committed(model, ident)


def messages_of(conversation_id: int, direction: str) -> list[Message]:
    db.session.rollback()
    return db.session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.direction == direction)
        .order_by(Message.id)
    ).all()


def queued_job_ids() -> list[str]:
    return Queue("okno", connection=get_redis()).job_ids


def appended(html: str) -> str:
    """What an answer appends under the dialog's messages."""
    match = re.search(r"<div data-messages-tail[^>]*>(.*?)</div>\s*(?=<header|<div data-changed)", html, re.S)
    assert match, html
    return match.group(1)


def message_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<div id="message-(\d+)"', html)]


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.fixture
def anna(app):
    return make_user(name="Anna Admin")


@pytest.fixture
def staff(login_as, anna):
    return login_as(anna)


# --- reply -------------------------------------------------------------------------------------


def test_a_reply_is_stored_queued_and_shown_at_once_with_its_delivery_queued(staff):
    c = make_conversation(name="Ирина", messages=["Есть окошко в пятницу?"])
    shown = messages_of(c.id, "in")[-1]

    response = staff.post(f"/c/{c.id}/reply", data={"text": "  Да, в 15:00  ", "after": shown.id})

    assert response.status_code == 200, text(response)
    [reply] = messages_of(c.id, "out")
    assert (reply.text, reply.delivery_status, reply.author_id) == ("Да, в 15:00", "queued", staff.user.id)
    assert queued_job_ids() == [f"deliver-{reply.id}"]
    tail = appended(text(response))
    assert f'id="message-{reply.id}"' in tail and 'data-status="queued"' in tail
    assert shown.id not in message_ids(tail)  # the browser shows it already


def test_the_first_reply_makes_the_sender_the_assignee_and_the_answer_says_so(staff, anna):
    c = make_conversation(name="Ирина", messages=["Здравствуйте"])

    html = text(staff.post(f"/c/{c.id}/reply", data={"text": "Добрый день!"}))

    assert reload(Conversation, c.id).assignee_id == anna.id
    assert "Anna Admin took the dialog" in appended(html)
    head = html[html.index('id="dialog-head"') :]
    assert f'data-assignee-id="{anna.id}"' in html and f'<option value="{anna.id}" selected>' in head
    row = re.search(r'<li id="conversation-\d+".*?</li>', html, re.S).group(0)
    assert 'data-testid="row-assignee"' in row and "data-list-row" in row
    assert 'data-testid="row-unread"' not in row  # the reply cleared the unread badge
    assert 'id="header-badge"' in html


def test_a_reply_to_a_colleagues_conversation_leaves_it_theirs(staff):
    olga = make_user(name="Olga")
    c = make_conversation(name="Ирина", assignee_id=olga.id, messages=["?"])

    staff.post(f"/c/{c.id}/reply", data={"text": "Подскажу"})

    assert reload(Conversation, c.id).assignee_id == olga.id


def test_an_empty_reply_is_refused_and_nothing_is_stored(staff):
    c = make_conversation(name="Ирина", messages=["?"])

    response = staff.post(f"/c/{c.id}/reply", data={"text": "   "})

    assert response.status_code == 422
    assert "The message is empty." in text(response) and response.headers["HX-Reswap"] == "none"
    assert messages_of(c.id, "out") == [] and reload(Conversation, c.id).assignee_id is None


def test_a_reply_without_the_csrf_token_is_refused(staff):
    c = make_conversation(name="Ирина", messages=["?"])

    forged = {"X-CSRFToken": "forged"}
    response = staff.post(f"/c/{c.id}/reply", data={"text": "Здравствуйте"}, headers=forged)

    assert response.status_code == 400
    assert messages_of(c.id, "out") == []


def test_a_master_whose_role_may_not_chat_gets_403(login_as):
    c = make_conversation(name="Ирина", messages=["?"])
    master = login_as(make_user(role="master"))

    response = master.post(f"/c/{c.id}/reply", data={"text": "Здравствуйте"})

    assert response.status_code == 403
    assert messages_of(c.id, "out") == []


def test_a_master_the_owner_allowed_to_chat_may_reply(login_as):
    db.session.get(RolePermission, "master").may_chat = True
    db.session.commit()
    c = make_conversation(name="Ирина", messages=["?"])
    master = login_as(make_user(role="master"))

    assert master.post(f"/c/{c.id}/reply", data={"text": "Здравствуйте"}).status_code == 200
    assert [m.text for m in messages_of(c.id, "out")] == ["Здравствуйте"]


def test_a_reply_to_a_client_who_blocked_the_bot_is_refused(staff):
    c = make_conversation(contact=make_contact(name="Дарья", blocked=True))

    response = staff.post(f"/c/{c.id}/reply", data={"text": "Здравствуйте"})

    assert response.status_code == 422 and "Bot blocked by the user" in text(response)
    assert messages_of(c.id, "out") == []


def test_a_reply_to_an_unknown_conversation_is_not_found(staff):
    assert staff.post("/c/987654/reply", data={"text": "Здравствуйте"}).status_code == 404


def test_a_reply_quoting_a_client_message_keeps_and_shows_the_quote(staff):
    c = make_conversation(name="Ирина")
    question = make_message(c, "Сколько стоит стрижка?")

    html = text(staff.post(f"/c/{c.id}/reply", data={"text": "1500 ₽", "reply_to_id": question.id}))

    [reply] = messages_of(c.id, "out")
    assert reply.reply_to_id == question.id
    assert re.search(r'<blockquote class="quote"[^>]*>Сколько стоит стрижка\?</blockquote>', appended(html))


def test_a_reply_cannot_quote_a_message_of_another_conversation(staff):
    c = make_conversation(name="Ирина", messages=["?"])
    foreign = make_message(make_conversation(name="Ольга"), "Чужое")

    response = staff.post(f"/c/{c.id}/reply", data={"text": "Ответ", "reply_to_id": foreign.id})

    assert response.status_code == 422 and messages_of(c.id, "out") == []


def test_html_in_a_reply_is_shown_as_text(staff):
    c = make_conversation(name="Ирина", messages=["?"])

    html = text(staff.post(f"/c/{c.id}/reply", data={"text": "<b>Скидка</b>"}))

    assert "&lt;b&gt;Скидка&lt;/b&gt;" in appended(html) and "<b>Скидка</b>" not in html


def test_the_private_note_toggle_without_javascript_never_reaches_the_client(staff):
    c = make_conversation(name="Ирина", messages=["?"])

    staff.post(f"/c/{c.id}/reply", data={"text": "Перезвонить вечером", "note": "1"})

    assert messages_of(c.id, "out") == [] and queued_job_ids() == []
    assert [m.text for m in messages_of(c.id, "note")] == ["Перезвонить вечером"]


def test_a_note_from_the_composer_answers_with_the_appended_note_only(staff):
    c = make_conversation(name="Ирина", messages=["?"])
    shown = messages_of(c.id, "in")[-1]

    html = text(staff.post(f"/c/{c.id}/note", data={"text": "Клиентка VIP", "after": shown.id}))

    tail = appended(html)
    assert 'class="msg msg-note"' in tail and "Клиентка VIP" in tail
    assert message_ids(tail) == [messages_of(c.id, "note")[0].id]


def test_a_photo_is_sent_with_its_attachment_and_queued_for_delivery(staff, app):
    c = make_conversation(name="Ирина", messages=["Пришлите прайс"])

    response = staff.post(
        f"/c/{c.id}/reply", data={"text": "", "files": (io.BytesIO(PNG), "Прайс.png")}, content_type=None
    )

    assert response.status_code == 200, text(response)
    [reply] = messages_of(c.id, "out")
    [attachment] = db.session.scalars(select(Attachment).where(Attachment.message_id == reply.id)).all()
    assert (reply.kind, reply.delivery_status) == ("image", "queued")
    assert (attachment.filename, attachment.content_type) == ("Прайс.png", "image/png")
    assert attachment.size == len(PNG)
    assert (Path(app.config["UPLOAD_DIR"]) / attachment.storage_path).read_bytes() == PNG
    assert queued_job_ids() == [f"deliver-{reply.id}"]
    assert f'src="/attachments/{attachment.id}"' in appended(text(response))
    assert reload(Conversation, c.id).last_message_preview == "📎 Прайс.png"


def test_a_file_of_a_refused_type_is_refused_with_the_reason_and_nothing_is_kept(staff, app):
    c = make_conversation(name="Ирина", messages=["?"])

    response = staff.post(
        f"/c/{c.id}/reply",
        data={"text": "Фото", "files": (io.BytesIO(b"<script>alert(1)</script>"), "photo.png")},
    )

    assert response.status_code == 415
    assert "named .png (PNG)" in text(response) and "its content is text" in text(response)
    assert messages_of(c.id, "out") == [] and queued_job_ids() == []
    assert files_under(Path(app.config["UPLOAD_DIR"])) == []


def test_a_file_over_the_limit_is_refused_as_too_large_with_the_limit(staff, app):
    app.config["MAX_UPLOAD_BYTES"] = 1024
    c = make_conversation(name="Ирина", messages=["?"])

    response = staff.post(f"/c/{c.id}/reply", data={"files": (io.BytesIO(PNG + b"\0" * 2048), "photo.png")})

    assert response.status_code == 413 and "The file is too large: at most 1 KB" in text(response)
    assert messages_of(c.id, "out") == [] and files_under(Path(app.config["UPLOAD_DIR"])) == []


def test_a_program_is_refused_by_its_content_whatever_its_name(staff, app):
    c = make_conversation(name="Ирина", messages=["?"])

    response = staff.post(
        f"/c/{c.id}/reply", data={"files": (io.BytesIO(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00"), "price.pdf")}
    )

    assert response.status_code == 415 and "This kind of file can&#39;t be sent" in text(response)
    assert messages_of(c.id, "out") == [] and files_under(Path(app.config["UPLOAD_DIR"])) == []


def test_a_good_file_is_not_kept_when_the_reply_is_refused(staff, app):
    c = make_conversation(contact=make_contact(name="Дарья", blocked=True))

    response = staff.post(f"/c/{c.id}/reply", data={"files": (io.BytesIO(PNG), "photo.png")})

    assert response.status_code == 422
    assert files_under(Path(app.config["UPLOAD_DIR"])) == []


# --- retry -------------------------------------------------------------------------------------


def test_a_failed_message_shows_its_reason_and_a_retry_button(staff):
    c = make_conversation(name="Ирина")
    failed = make_message(
        c, "Ответ", direction="out", delivery_status="failed", delivery_error="Chat not found"
    )

    html = text(staff.get(f"/c/{c.id}"))

    block = html[html.index(f'id="message-{failed.id}"') :]
    assert "Chat not found" in block
    assert f'hx-post="/c/{c.id}/messages/{failed.id}/retry"' in block and 'data-testid="retry"' in block


def test_retry_queues_a_failed_message_again_and_answers_it_in_place(staff):
    c = make_conversation(name="Ирина")
    failed = make_message(c, "Ответ", direction="out", delivery_status="failed", delivery_error="Timeout")

    response = staff.post(f"/c/{c.id}/messages/{failed.id}/retry")

    assert response.status_code == 200
    message = reload(Message, failed.id)
    assert (message.delivery_status, message.delivery_error) == ("queued", "")
    assert queued_job_ids() == [f"deliver-{failed.id}"]
    html = text(response)
    assert "data-changed-messages" in html and 'data-status="queued"' in html and "Timeout" not in html


def test_a_message_that_did_not_fail_cannot_be_retried(staff):
    c = make_conversation(name="Ирина")
    sent = make_message(c, "Ответ", direction="out", delivery_status="sent")

    response = staff.post(f"/c/{c.id}/messages/{sent.id}/retry")

    assert response.status_code == 422 and reload(Message, sent.id).delivery_status == "sent"


def test_retrying_a_message_through_another_conversation_is_not_found(staff):
    c = make_conversation(name="Ирина")
    other = make_conversation(name="Ольга")
    failed = make_message(other, "Ответ", direction="out", delivery_status="failed")

    response = staff.post(f"/c/{c.id}/messages/{failed.id}/retry")

    assert response.status_code == 404 and reload(Message, failed.id).delivery_status == "failed"


# --- the dialog's tail (realtime) --------------------------------------------------------------


def test_the_tail_brings_the_messages_after_the_last_shown_and_rereads_the_changed_ones(staff):
    c = make_conversation(name="Ирина")
    shown = make_message(c, "Ответ", direction="out", delivery_status="queued")
    new = make_message(c, "Спасибо!")
    shown.delivery_status = "delivered"
    db.session.commit()

    response = staff.get(f"/c/{c.id}/tail?after={shown.id}&changed={shown.id}", headers=HTMX)

    html = text(response)
    assert response.status_code == 200
    assert message_ids(appended(html)) == [new.id]
    changed = html[html.index("data-changed-messages") :]
    assert message_ids(changed) == [shown.id] and 'data-status="delivered"' in changed
    assert 'id="dialog-head"' in html and 'id="composer"' in html
    assert 'id="card"' not in html  # only when asked


def test_the_tail_after_a_reconnect_rereads_every_shown_message_and_the_card(staff):
    c = make_conversation(name="Ирина")
    first, second = make_message(c, "Раз"), make_message(c, "Два")

    html = text(staff.get(f"/c/{c.id}/tail?after={second.id}&since={first.id}&card=1", headers=HTMX))

    assert message_ids(appended(html)) == []
    assert message_ids(html[html.index("data-changed-messages") :]) == [first.id, second.id]
    assert 'id="card"' in html and 'hx-swap-oob="true"' in html


def test_a_new_message_on_the_same_day_gets_no_second_day_separator(staff):
    c = make_conversation(name="Ирина")
    shown = make_message(c, "Раз")
    make_message(c, "Два")

    html = text(staff.get(f"/c/{c.id}/tail?after={shown.id}", headers=HTMX))

    assert 'class="day-sep"' not in appended(html)


def test_the_tail_says_when_the_client_blocked_the_bot(staff):
    c = make_conversation(contact=make_contact(name="Дарья", blocked=True), messages=["?"])
    shown = messages_of(c.id, "in")[-1]

    html = text(staff.get(f"/c/{c.id}/tail?after={shown.id}", headers=HTMX))

    assert 'data-composer-state="blocked"' in html and "Bot blocked by the user" in html


def test_the_tail_from_a_message_of_another_conversation_is_not_found(staff):
    c = make_conversation(name="Ирина", messages=["?"])
    foreign = make_message(make_conversation(name="Ольга"), "Чужое")

    assert staff.get(f"/c/{c.id}/tail?after={foreign.id}", headers=HTMX).status_code == 404
    assert staff.get("/c/987654/tail", headers=HTMX).status_code == 404


def test_the_tail_is_for_staff_only(client):
    c = make_conversation(name="Ирина", messages=["?"])

    assert client.get(f"/c/{c.id}/tail", headers=HTMX).status_code == 401


# --- the page: quotes where the channel can, the live hooks, the shortcuts ----------------------


def test_messages_offer_reply_with_a_quote_only_where_the_channel_can_quote(staff):
    telegram = make_conversation(name="Ирина", messages=["Вопрос"])
    viber = make_conversation(channel=make_channel("viber"), name="Ольга", messages=["Вопрос"])

    assert 'data-testid="reply-to"' in text(staff.get(f"/c/{telegram.id}"))
    assert 'data-testid="reply-to"' not in text(staff.get(f"/c/{viber.id}"))


def test_the_page_tells_the_script_who_is_looking_and_where_to_listen(staff, anna):
    html = text(staff.get("/"))

    body = re.search(r"<body[^>]*>", html, re.S).group(0)
    assert f'data-user-id="{anna.id}"' in body and 'data-sound="on"' in body
    assert 'data-stream-url="/stream"' in body and 'data-row-url="/c/{id}/row"' in body


def test_the_shortcut_help_lists_the_shortcuts_the_page_has(staff):
    c = make_conversation(name="Ирина", messages=["?"])

    html = text(staff.get(f"/c/{c.id}"))

    help_box = html[html.index('id="hotkeys-help"') :]
    for key in ("J", "K", "R", "N", "T", "A", "E", "S", "Esc", "?"):
        assert f"<kbd>{key}</kbd>" in help_box
    assert "next update" not in help_box


def test_a_live_list_refresh_leaves_the_page_url_alone(staff):
    make_conversation(name="Ирина", messages=["?"])

    plain = staff.get("/list?state=all", headers=HTMX)
    live = staff.get("/list?state=all", headers={**HTMX, "X-Okno-Live": "1"})

    assert "HX-Push-Url" in plain.headers and "HX-Push-Url" not in live.headers
    assert 'data-testid="conversation-row"' in text(live)


def test_a_bot_block_is_a_readable_event_in_the_dialog(staff):
    c = make_conversation(name="Ирина")
    make_message(c, "", direction="event", event="blocked")

    assert "The client blocked the bot" in text(staff.get(f"/c/{c.id}"))


# --- the sound switch --------------------------------------------------------------------------


def test_the_sound_switch_turns_off_in_place_without_a_reload(staff, anna):
    response = staff.post("/preferences", data={"sound_on": "0", "next": "/"})

    assert response.status_code == 200 and "HX-Refresh" not in response.headers
    html = text(response)
    assert 'id="sound-form"' in html and 'data-sound="off"' in html and 'name="sound_on" value="1"' in html
    assert reload(User, anna.id).sound_on is False


def test_the_sound_switch_keeps_its_state_across_pages(staff, anna):
    staff.post("/preferences", data={"sound_on": "0", "next": "/"})

    html = text(staff.get("/"))

    assert 'data-sound="off"' in re.search(r"<body[^>]*>", html, re.S).group(0)
    assert 'id="sound-toggle" data-testid="sound-toggle" data-sound="off"' in html
