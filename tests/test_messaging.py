"""Messages in and out: a client writes (once, whatever the retries), staff reply (queued, then delivered)."""

import threading
from datetime import timedelta

import pytest
from rq import Queue
from sqlalchemy import func, select
from werkzeug.exceptions import NotFound

from channels.base import InboundAttachment, InboundMessage
from extensions import db
from models import Contact, Conversation, Message, Session
from models.base import utcnow
from services import conversations as conv_svc
from services import messaging
from services.errors import ActionError
from services.redis import get_redis
from tests.factories import committed, make_channel, make_conversation, make_message, make_user
from tests.test_realtime import Listener


@pytest.fixture
def admin(app):
    return make_user(name="Анна Смирнова")


@pytest.fixture
def listener(app):
    listener = Listener(app)
    yield listener
    listener.pubsub.close()


def inbound(n: int | str = 1, contact: str = "visitor-1", **kw) -> InboundMessage:
    kw.setdefault("text", f"Message {n}")
    return InboundMessage(external_contact_id=contact, external_message_id=f"m-{n}", **kw)


def reload(model, ident):
    return committed(model, ident)  # other sessions (threads, jobs) wrote since


def messages_of(conversation_id: int, direction: str = "in") -> list[Message]:
    return db.session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.direction == direction)
        .order_by(Message.id)
    ).all()


def events_of(conversation_id: int) -> list[str]:
    return [m.event for m in messages_of(conversation_id, "event")]


def queued_job_ids() -> list[str]:
    return Queue("okno", connection=get_redis()).job_ids


def run_threads(target, args_list: list[tuple]) -> list:
    """Run target(*args) for each args in threads started together; results (or exceptions) in order."""
    barrier = threading.Barrier(len(args_list))
    results: list = [None] * len(args_list)

    def run(index, args):
        try:
            barrier.wait(10)
            results[index] = target(*args)
        except Exception as exc:  # reported by the test
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(args_list)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    db.session.rollback()  # the test reads what the threads wrote, not its older snapshot
    return results


def in_own_context(app, func):
    """func(...) in an app context (and database session) of its own, as a request would run it."""

    def call(*args):
        with app.app_context():
            result = func(*args)
            return result.id if isinstance(result, Message) else result

    return call


# --- receive_message ---------------------------------------------------------------------------


def test_a_first_message_opens_a_conversation_with_its_contact(app, listener):
    channel = make_channel("widget")
    message = messaging.receive_message(
        channel.id,
        inbound(
            text="Можно записаться на завтра?",
            contact_name="Ольга",
            phone="8 916 123-45-67",
            given_by_visitor=True,
        ),
    )
    conversation = db.session.get(Conversation, message.conversation_id)
    assert conversation.state == "open"
    assert conversation.unread_count == 1
    assert conversation.last_message_preview == "Можно записаться на завтра?"
    assert conversation.last_message_direction == "in"
    assert message.session_id == conversation.current_session_id is not None
    contact = conversation.contact
    assert (contact.display_name, contact.phone, contact.given_by_visitor) == ("Ольга", "+79161234567", True)
    assert contact.client_id is None  # a visitor's own words are never linked automatically
    received = listener.received()
    assert (
        "staff",
        "message.created",
        {
            "conversation_id": conversation.id,
            "message_id": message.id,
            "direction": "in",
            "assignee_id": None,
            "with_bot": False,
        },
    ) in received
    assert ("staff", "conversation.updated", {"id": conversation.id}) in received
    assert ("staff", "counts", {}) in received


def test_the_same_message_delivered_twice_is_stored_once(app):
    channel = make_channel("telegram")
    first = messaging.receive_message(channel.id, inbound(7))
    again = messaging.receive_message(channel.id, inbound(7))
    assert again.id == first.id
    assert db.session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 1
    assert reload(Conversation, first.conversation_id).unread_count == 1


def test_the_same_external_id_on_another_channel_is_another_message(app):
    one, two = make_channel("telegram"), make_channel("telegram")
    a = messaging.receive_message(one.id, inbound(1))
    b = messaging.receive_message(two.id, inbound(1))
    assert a.id != b.id and a.conversation_id != b.conversation_id


def test_fifty_concurrent_messages_each_sent_twice_are_stored_once_in_order(app):
    channel = make_channel("widget")
    events = [inbound(n, text=f"Сообщение {n}") for n in range(50)]
    calls = [(channel.id, event) for event in events for _copy in range(2)]
    results = run_threads(in_own_context(app, messaging.receive_message), calls)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 1
    conversation = db.session.scalars(select(Conversation)).one()
    stored = messages_of(conversation.id)
    assert sorted(m.text for m in stored) == sorted(e.text for e in events)
    # the dialog's order (by id) is the order they were stored in, and times never go back
    assert [m.created_at for m in stored] == sorted(m.created_at for m in stored)
    assert conversation.unread_count == 50
    assert conversation.last_message_preview == stored[-1].text
    # both copies of a message were answered with the one stored message
    assert results[0::2] == results[1::2]
    assert len(set(results)) == 50


def test_a_client_message_reopens_a_closed_conversation_as_a_new_session(app, admin):
    channel = make_channel("telegram")
    first = messaging.receive_message(channel.id, inbound(1))
    conv_svc.close_conversation(first.conversation_id, admin)
    old_session = reload(Conversation, first.conversation_id).current_session_id

    message = messaging.receive_message(channel.id, inbound(2, text="Ещё вопрос"))

    conversation = reload(Conversation, message.conversation_id)
    assert conversation.id == first.conversation_id
    assert conversation.state == "open"
    assert conversation.current_session_id != old_session
    assert message.session_id == conversation.current_session_id
    assert db.session.get(Session, old_session).closed_at is not None
    assert events_of(conversation.id)[-2:] == ["closed", "reopened"]


def test_a_client_message_wakes_a_snoozed_conversation_at_once(app, admin):
    channel = make_channel("telegram")
    first = messaging.receive_message(channel.id, inbound(1))
    conv_svc.snooze_conversation(first.conversation_id, utcnow() + timedelta(days=1), admin)
    session_before = reload(Conversation, first.conversation_id).current_session_id

    messaging.receive_message(channel.id, inbound(2))

    conversation = reload(Conversation, first.conversation_id)
    assert conversation.state == "open"
    assert conversation.snoozed_until is None
    assert conversation.current_session_id == session_before
    assert events_of(conversation.id)[-1] == "woke"


def test_a_reply_to_a_known_message_keeps_the_quote(app):
    channel = make_channel("telegram")
    quoted = messaging.receive_message(channel.id, inbound(1))
    reply = messaging.receive_message(channel.id, inbound(2, reply_to_external_id="m-1"))
    assert reply.reply_to_id == quoted.id


def test_a_photo_without_text_is_stored_with_its_attachment(app):
    channel = make_channel("telegram")
    photo = InboundAttachment("photo.jpg", "image/jpeg", 2048, url="https://platform.test/f/1")
    message = messaging.receive_message(channel.id, inbound(1, text="", kind="image", attachments=(photo,)))
    message = reload(Message, message.id)
    assert [(a.filename, a.content_type, a.size) for a in message.attachments] == [
        ("photo.jpg", "image/jpeg", 2048)
    ]
    assert message.data["media_urls"] == ["https://platform.test/f/1"]  # for the job that fetches it
    assert db.session.get(Conversation, message.conversation_id).last_message_preview == "[image]"


def test_a_message_for_an_unknown_channel_is_404(app):
    with pytest.raises(NotFound):
        messaging.receive_message(987654, inbound(1))


def test_a_late_older_message_does_not_replace_the_newest_preview(app):
    channel = make_channel("telegram")
    newest = messaging.receive_message(channel.id, inbound(2, text="Новое"))
    messaging.receive_message(channel.id, inbound(1, text="Старое", sent_at=utcnow() - timedelta(hours=1)))
    conversation = reload(Conversation, newest.conversation_id)
    assert conversation.last_message_preview == "Новое"
    assert conversation.unread_count == 2


# --- send_reply --------------------------------------------------------------------------------


def test_a_reply_is_queued_clears_unread_and_queues_its_delivery(app, admin, listener):
    conversation = make_conversation(messages=["Здравствуйте", "Есть окошко?"])
    message = messaging.send_reply(conversation.id, admin, "  Да, в 15:00  ")
    assert (message.direction, message.delivery_status, message.text) == ("out", "queued", "Да, в 15:00")
    conversation = reload(Conversation, conversation.id)
    assert conversation.unread_count == 0
    assert (conversation.last_message_preview, conversation.last_message_direction) == ("Да, в 15:00", "out")
    assert queued_job_ids() == [f"deliver-{message.id}"]
    assert "message.created" in [kind for _ch, kind, _data in listener.received()]


def test_the_first_reply_makes_the_sender_the_assignee(app, admin):
    conversation = make_conversation(messages=["Здравствуйте"])
    messaging.send_reply(conversation.id, admin, "Добрый день!")
    assert reload(Conversation, conversation.id).assignee_id == admin.id
    assert events_of(conversation.id) == ["took"]


def test_a_reply_to_a_colleagues_conversation_leaves_it_theirs(app, admin):
    colleague = make_user()
    conversation = make_conversation(assignee_id=colleague.id, messages=["Здравствуйте"])
    messaging.send_reply(conversation.id, admin, "Подскажу я")
    assert reload(Conversation, conversation.id).assignee_id == colleague.id
    assert events_of(conversation.id) == []


def test_two_simultaneous_first_replies_give_one_assignee_and_keep_both_messages(app, admin):
    colleague = make_user(name="Олена")
    conversation = make_conversation(messages=["Здравствуйте"])

    def reply(user_id, text):
        from models import User

        return messaging.send_reply(conversation.id, db.session.get(User, user_id), text)

    results = run_threads(in_own_context(app, reply), [(admin.id, "От Анны"), (colleague.id, "От Олены")])

    assert not [r for r in results if isinstance(r, Exception)], results
    conversation = reload(Conversation, conversation.id)
    assert conversation.assignee_id in (admin.id, colleague.id)
    assert sorted(m.text for m in messages_of(conversation.id, "out")) == ["От Анны", "От Олены"]
    assert events_of(conversation.id) == ["took"]
    assert messages_of(conversation.id, "event")[0].author_id == conversation.assignee_id


def test_an_empty_reply_is_refused(app, admin):
    conversation = make_conversation()
    with pytest.raises(ActionError):
        messaging.send_reply(conversation.id, admin, "   ")
    assert messages_of(conversation.id, "out") == []


def test_a_reply_to_a_client_who_blocked_the_bot_is_refused(app, admin):
    conversation = make_conversation()
    conversation.contact.blocked = True
    db.session.commit()
    with pytest.raises(ActionError):
        messaging.send_reply(conversation.id, admin, "Здравствуйте")


def test_a_reply_can_quote_only_a_message_of_the_same_conversation(app, admin):
    conversation = make_conversation()
    own = make_message(conversation, "Вопрос")
    foreign = make_message(make_conversation(), "Чужое")
    reply = messaging.send_reply(conversation.id, admin, "Ответ", reply_to_id=own.id)
    assert reply.reply_to_id == own.id
    with pytest.raises(ActionError):
        messaging.send_reply(conversation.id, admin, "Ответ", reply_to_id=foreign.id)


def test_a_reply_to_an_unknown_conversation_is_404(app, admin):
    with pytest.raises(NotFound):
        messaging.send_reply(987654, admin, "Здравствуйте")


# --- retry_message -----------------------------------------------------------------------------


def test_retrying_a_failed_message_queues_it_again(app, admin):
    conversation = make_conversation()
    message = make_message(
        conversation, "Ответ", direction="out", delivery_status="failed", delivery_error="Boom"
    )
    messaging.retry_message(message.id, admin)
    message = reload(Message, message.id)
    assert (message.delivery_status, message.delivery_error) == ("queued", "")
    assert queued_job_ids() == [f"deliver-{message.id}"]


def test_only_a_failed_message_can_be_retried(app, admin):
    conversation = make_conversation()
    sent = make_message(conversation, "Ответ", direction="out", delivery_status="sent")
    with pytest.raises(ActionError):
        messaging.retry_message(sent.id, admin)
    incoming = make_message(conversation, "Вопрос")
    with pytest.raises(NotFound):
        messaging.retry_message(incoming.id, admin)
