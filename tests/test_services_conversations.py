"""Staff actions on a conversation: each changes state, leaves an event and deletes nothing."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import create_app
from extensions import db
from models import Comment, Conversation, Message, RolePermission, Session, User
from models.base import utcnow
from services import conversations as svc
from services.errors import ActionError
from tests.factories import committed, make_conversation, make_message, make_tag, make_user


def events(conversation_id: int) -> list[Message]:
    return db.session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.direction == "event")
        .order_by(Message.id)
    ).all()


def last_event(conversation_id: int) -> Message:
    found = events(conversation_id)
    assert found, "no event was recorded"
    return found[-1]


def message_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Message))


def reload(conversation: Conversation) -> Conversation:
    """The conversation as a new request would read it: only what was committed."""
    return committed(Conversation, conversation.id)


def long_ago() -> dict:
    """A conversation whose last activity was a day ago, so a bump is visible."""
    return {"last_activity_at": utcnow() - timedelta(days=1)}


@pytest.fixture
def admin(app):
    return make_user(name="Анна Смирнова")


# --- assign / unassign -------------------------------------------------------------------------


def test_taking_a_conversation_oneself_records_took(admin):
    conversation = make_conversation(**long_ago())
    svc.assign_conversation(conversation.id, admin.id, admin)
    conversation = reload(conversation)
    assert conversation.assignee_id == admin.id
    event = last_event(conversation.id)
    assert event.event == "took"
    assert event.author_id == admin.id
    assert event.data["actor"] == "Анна Смирнова"
    assert conversation.last_activity_at > utcnow() - timedelta(minutes=1)


def test_assigning_to_a_colleague_records_who_assigned_whom(admin):
    olena = make_user(name="Олена")
    conversation = make_conversation()
    svc.assign_conversation(conversation.id, olena.id, admin)
    assert reload(conversation).assignee_id == olena.id
    event = last_event(conversation.id)
    assert event.event == "assigned"
    assert event.data == {"actor": "Анна Смирнова", "assignee": "Олена"}
    assert event.author_id == admin.id


def test_unassigning_records_unassigned(admin):
    conversation = make_conversation(assignee_id=admin.id, **long_ago())
    svc.assign_conversation(conversation.id, None, admin)
    conversation = reload(conversation)
    assert conversation.assignee_id is None
    assert last_event(conversation.id).event == "unassigned"
    assert conversation.last_activity_at > utcnow() - timedelta(minutes=1)


def test_assigning_the_current_assignee_again_records_nothing(admin):
    conversation = make_conversation(assignee_id=admin.id)
    svc.assign_conversation(conversation.id, admin.id, admin)
    assert events(conversation.id) == []


def test_master_without_chat_access_cannot_be_assigned(admin):
    master = make_user(role="master", name="Мастер")
    conversation = make_conversation()
    with pytest.raises(ActionError):
        svc.assign_conversation(conversation.id, master.id, admin)
    db.session.rollback()
    assert reload(conversation).assignee_id is None
    assert events(conversation.id) == []


def test_master_can_be_assigned_once_the_owner_allows_masters_to_chat(admin):
    master = make_user(role="master", name="Мастер")
    db.session.get(RolePermission, "master").may_chat = True
    db.session.commit()
    conversation = make_conversation()
    svc.assign_conversation(conversation.id, master.id, admin)
    assert reload(conversation).assignee_id == master.id


def test_deactivated_staff_cannot_be_assigned(admin):
    gone = make_user(active=False)
    conversation = make_conversation()
    with pytest.raises(ActionError):
        svc.assign_conversation(conversation.id, gone.id, admin)


def test_assigning_an_unknown_user_is_refused(admin):
    conversation = make_conversation()
    with pytest.raises(ActionError):
        svc.assign_conversation(conversation.id, 987654, admin)


def test_action_on_an_unknown_conversation_is_not_found(admin):
    from werkzeug.exceptions import NotFound

    with pytest.raises(NotFound):
        svc.close_conversation(987654, admin)


# --- take_if_unassigned ------------------------------------------------------------------------


def test_first_taker_wins_and_the_second_does_not(admin):
    olena = make_user(name="Олена")
    conversation = make_conversation()
    assert svc.take_if_unassigned(conversation.id, admin) is True
    db.session.commit()
    assert svc.take_if_unassigned(conversation.id, olena) is False
    db.session.commit()
    assert reload(conversation).assignee_id == admin.id


def _race(make_app, conversation_id: int, user_ids: list[int]) -> dict[int, bool | Exception]:
    """Each user tries to take the conversation in a thread of its own, all at once."""
    barrier = threading.Barrier(len(user_ids))
    results: dict[int, bool | Exception] = {}

    def attempt(user_id: int) -> None:
        app = make_app()
        with app.app_context():
            try:
                user = db.session.get(User, user_id)  # a read first, as a request would
                barrier.wait(5)
                won = svc.take_if_unassigned(conversation_id, user)
                db.session.commit()
                results[user_id] = won
            except Exception as exc:  # the test reports it
                db.session.rollback()
                results[user_id] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(uid,)) for uid in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_two_staff_taking_at_once_in_one_app_only_one_wins(app, admin):
    users = [admin.id, make_user().id, make_user().id]
    conversation = make_conversation()
    results = _race(lambda: app, conversation.id, users)
    assert sorted(results.values(), key=str) == [False, False, True], results
    winner = next(uid for uid, won in results.items() if won is True)
    assert reload(conversation).assignee_id == winner


def test_two_staff_taking_at_once_in_separate_apps_only_one_wins(app, admin):
    users = [admin.id, make_user().id]
    conversation = make_conversation()
    config = {k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "REDIS_URL", "TESTING")}
    results = _race(lambda: create_app(config), conversation.id, users)
    assert sorted(results.values(), key=str) == [False, True], results
    winner = next(uid for uid, won in results.items() if won is True)
    assert reload(conversation).assignee_id == winner


# --- close / reopen ----------------------------------------------------------------------------


def test_closing_ends_the_session_and_records_closed(admin):
    conversation = make_conversation(**long_ago())
    session_id = conversation.current_session_id
    svc.close_conversation(conversation.id, admin)
    conversation = reload(conversation)
    assert conversation.state == "closed"
    assert db.session.get(Session, session_id).closed_at is not None
    event = last_event(conversation.id)
    assert event.event == "closed"
    assert event.author_id == admin.id
    assert conversation.last_activity_at > utcnow() - timedelta(minutes=1)


def test_closing_a_snoozed_conversation_drops_the_snooze(admin):
    conversation = make_conversation(state="snoozed", snoozed_until=utcnow() + timedelta(days=1))
    svc.close_conversation(conversation.id, admin)
    conversation = reload(conversation)
    assert conversation.state == "closed"
    assert conversation.snoozed_until is None


def test_closing_a_closed_conversation_again_records_nothing(admin):
    conversation = make_conversation()
    svc.close_conversation(conversation.id, admin)
    svc.close_conversation(conversation.id, admin)
    assert [e.event for e in events(conversation.id)] == ["closed"]


def test_reopening_a_closed_conversation_starts_a_new_session(admin):
    conversation = make_conversation()
    first_session = conversation.current_session_id
    svc.close_conversation(conversation.id, admin)
    svc.reopen_conversation(conversation.id, admin)
    conversation = reload(conversation)
    assert conversation.state == "open"
    assert conversation.current_session_id != first_session
    new_session = db.session.get(Session, conversation.current_session_id)
    assert new_session.closed_at is None
    assert db.session.get(Session, first_session).closed_at is not None
    assert [e.event for e in events(conversation.id)] == ["closed", "reopened"]
    assert last_event(conversation.id).session_id == new_session.id


@pytest.mark.parametrize("state", ["closed", "snoozed"])
def test_reopening_moves_the_conversation_up_the_list(admin, state):
    conversation = make_conversation(state=state, **long_ago())
    svc.reopen_conversation(conversation.id, admin)
    assert reload(conversation).last_activity_at > utcnow() - timedelta(minutes=1)


def test_reopening_an_open_conversation_changes_nothing(admin):
    conversation = make_conversation()
    session_id = conversation.current_session_id
    svc.reopen_conversation(conversation.id, admin)
    assert reload(conversation).current_session_id == session_id
    assert events(conversation.id) == []


# --- snooze / wake -----------------------------------------------------------------------------


def test_snoozing_hides_until_a_future_time_and_records_it(admin):
    conversation = make_conversation(**long_ago())
    until = utcnow() + timedelta(hours=1)
    svc.snooze_conversation(conversation.id, until, admin)
    conversation = reload(conversation)
    assert conversation.state == "snoozed"
    assert conversation.snoozed_until == until
    event = last_event(conversation.id)
    assert event.event == "snoozed"
    assert event.data["until"] == until.isoformat()
    assert conversation.last_activity_at > utcnow() - timedelta(minutes=1)


def test_snoozing_until_a_past_time_is_refused(admin):
    conversation = make_conversation()
    with pytest.raises(ActionError):
        svc.snooze_conversation(conversation.id, utcnow() - timedelta(minutes=1), admin)
    assert reload(conversation).state == "open"
    assert events(conversation.id) == []


def test_snoozing_needs_a_timezone_aware_time(admin):
    conversation = make_conversation()
    with pytest.raises(ValueError):
        svc.snooze_conversation(conversation.id, (utcnow() + timedelta(hours=1)).replace(tzinfo=None), admin)


def test_snoozing_a_closed_conversation_starts_a_new_session(admin):
    conversation = make_conversation()
    svc.close_conversation(conversation.id, admin)
    closed_session = reload(conversation).current_session_id
    svc.snooze_conversation(conversation.id, utcnow() + timedelta(days=1), admin)
    conversation = reload(conversation)
    assert conversation.state == "snoozed"
    assert conversation.current_session_id != closed_session


def test_wake_returns_a_due_snooze_to_open(admin):
    conversation = make_conversation(state="snoozed", snoozed_until=utcnow() - timedelta(seconds=1))
    assert svc.wake_conversation(conversation.id) is True
    conversation = reload(conversation)
    assert conversation.state == "open"
    assert conversation.snoozed_until is None
    event = last_event(conversation.id)
    assert event.event == "woke"
    assert event.author_id is None


def test_wake_before_the_time_leaves_the_conversation_snoozed(admin):
    conversation = make_conversation(state="snoozed", snoozed_until=utcnow() + timedelta(hours=1))
    assert svc.wake_conversation(conversation.id) is False
    assert reload(conversation).state == "snoozed"
    assert events(conversation.id) == []


@pytest.mark.parametrize("state", ["open", "closed"])
def test_wake_leaves_a_conversation_that_is_not_snoozed_alone(admin, state):
    conversation = make_conversation(state=state)
    assert svc.wake_conversation(conversation.id) is False
    assert reload(conversation).state == state
    assert events(conversation.id) == []


def test_wake_overdue_snoozes_wakes_only_those_due(admin):
    due = make_conversation(state="snoozed", snoozed_until=utcnow() - timedelta(minutes=5))
    also_due = make_conversation(state="snoozed", snoozed_until=utcnow() - timedelta(days=2))
    later = make_conversation(state="snoozed", snoozed_until=utcnow() + timedelta(hours=3))
    closed = make_conversation(state="closed")
    assert svc.wake_overdue_snoozes() == 2
    assert reload(due).state == "open"
    assert reload(also_due).state == "open"
    assert reload(later).state == "snoozed"
    assert reload(closed).state == "closed"


# --- spam ----------------------------------------------------------------------------------------


def test_marking_as_spam_and_back_records_both(admin):
    conversation = make_conversation(**long_ago())
    svc.set_spam(conversation.id, True, admin)
    assert reload(conversation).is_spam is True
    assert last_event(conversation.id).event == "spam"
    svc.set_spam(conversation.id, False, admin)
    conversation = reload(conversation)
    assert conversation.is_spam is False
    assert [e.event for e in events(conversation.id)] == ["spam", "not_spam"]
    assert conversation.last_activity_at > utcnow() - timedelta(minutes=1)


def test_marking_spam_twice_records_once(admin):
    conversation = make_conversation()
    svc.set_spam(conversation.id, True, admin)
    svc.set_spam(conversation.id, True, admin)
    assert [e.event for e in events(conversation.id)] == ["spam"]


# --- notes and comments --------------------------------------------------------------------------


def test_note_is_a_private_message_in_the_dialog(admin):
    conversation = make_conversation(messages=["Здравствуйте"], **long_ago())
    conversation = reload(conversation)
    conversation.last_activity_at = utcnow() - timedelta(days=1)
    db.session.commit()
    note = svc.add_note(conversation.id, admin, "  Клиентка просила перезвонить  ")
    conversation = reload(conversation)
    assert note.direction == "note"
    assert note.text == "Клиентка просила перезвонить"
    assert note.author_id == admin.id
    assert note.session_id == conversation.current_session_id
    assert note.delivery_status is None  # never queued for the client
    assert conversation.last_activity_at > utcnow() - timedelta(minutes=1)
    # the list still previews the client's message, not the private note
    assert conversation.last_message_preview == "Здравствуйте"


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_note_is_refused(admin, text):
    conversation = make_conversation()
    before = message_count()
    with pytest.raises(ActionError):
        svc.add_note(conversation.id, admin, text)
    assert message_count() == before


def test_comment_on_the_dialog_belongs_to_no_session(admin):
    conversation = make_conversation(**long_ago())
    comment = svc.add_comment(conversation.id, admin, "Постоянная клиентка", on_session=False)
    assert comment.session_id is None
    assert comment.author_id == admin.id
    event = last_event(conversation.id)
    assert event.event == "comment"
    assert event.data["text"] == "Постоянная клиентка"
    assert reload(conversation).last_activity_at > utcnow() - timedelta(minutes=1)


def test_comment_on_the_session_belongs_to_the_current_session(admin):
    conversation = make_conversation()
    comment = svc.add_comment(conversation.id, admin, "Спрашивала про цены", on_session=True)
    assert comment.session_id == conversation.current_session_id
    assert last_event(conversation.id).event == "session_comment"


def test_session_comment_stays_with_its_session_after_reopening(admin):
    conversation = make_conversation()
    first_session = conversation.current_session_id
    svc.add_comment(conversation.id, admin, "Про первую запись", on_session=True)
    svc.close_conversation(conversation.id, admin)
    svc.reopen_conversation(conversation.id, admin)
    comments = db.session.scalars(select(Comment).where(Comment.conversation_id == conversation.id)).all()
    assert [c.session_id for c in comments] == [first_session]


def test_empty_comment_is_refused(admin):
    conversation = make_conversation()
    with pytest.raises(ActionError):
        svc.add_comment(conversation.id, admin, "  ", on_session=False)
    assert db.session.scalar(select(func.count()).select_from(Comment)) == 0


def test_long_comment_event_shows_a_short_preview(admin):
    conversation = make_conversation()
    comment = svc.add_comment(conversation.id, admin, "очень " * 50, on_session=False)
    assert len(comment.text) > 200
    assert len(last_event(conversation.id).data["text"]) <= 80


# --- tags ----------------------------------------------------------------------------------------


def test_tagging_the_dialog_adds_and_removes_with_events(admin):
    vip = make_tag("VIP")
    conversation = make_conversation(**long_ago())
    svc.set_tag(conversation.id, vip.id, True, admin, on_session=False)
    assert [t.name for t in reload(conversation).tags] == ["VIP"]
    event = last_event(conversation.id)
    assert (event.event, event.data["tag"]) == ("tag_added", "VIP")
    assert reload(conversation).last_activity_at > utcnow() - timedelta(minutes=1)
    svc.set_tag(conversation.id, vip.id, False, admin, on_session=False)
    assert reload(conversation).tags == []
    assert last_event(conversation.id).event == "tag_removed"


def test_tagging_the_session_tags_only_the_current_session(admin):
    vip = make_tag("Запись")
    conversation = make_conversation()
    svc.set_tag(conversation.id, vip.id, True, admin, on_session=True)
    conversation = reload(conversation)
    assert [t.name for t in conversation.current_session.tags] == ["Запись"]
    assert conversation.tags == []
    assert last_event(conversation.id).event == "tag_added_session"
    svc.set_tag(conversation.id, vip.id, False, admin, on_session=True)
    conversation = reload(conversation)
    assert conversation.current_session.tags == []
    assert last_event(conversation.id).event == "tag_removed_session"


def test_a_new_session_starts_without_the_old_sessions_tags(admin):
    tag = make_tag("Жалоба")
    conversation = make_conversation()
    svc.set_tag(conversation.id, tag.id, True, admin, on_session=True)
    svc.close_conversation(conversation.id, admin)
    svc.reopen_conversation(conversation.id, admin)
    assert reload(conversation).current_session.tags == []


def test_adding_a_tag_twice_records_once(admin):
    tag = make_tag()
    conversation = make_conversation()
    svc.set_tag(conversation.id, tag.id, True, admin, on_session=False)
    svc.set_tag(conversation.id, tag.id, True, admin, on_session=False)
    assert [e.event for e in events(conversation.id)] == ["tag_added"]


def test_unknown_tag_is_not_found(admin):
    from werkzeug.exceptions import NotFound

    conversation = make_conversation()
    with pytest.raises(NotFound):
        svc.set_tag(conversation.id, 987654, True, admin, on_session=False)


# --- history is never deleted --------------------------------------------------------------------


def test_no_action_deletes_a_message(admin):
    olena = make_user(name="Олена")
    tag = make_tag()
    conversation = make_conversation(messages=["Здравствуйте", "Можно на завтра?"])
    make_message(conversation, "Да, в 12:00", direction="out", author=admin)
    cid = conversation.id
    before = {m.id for m in db.session.scalars(select(Message))}

    svc.assign_conversation(cid, admin.id, admin)
    svc.assign_conversation(cid, olena.id, admin)
    svc.assign_conversation(cid, None, admin)
    svc.add_note(cid, admin, "заметка")
    svc.add_comment(cid, admin, "комментарий", on_session=False)
    svc.add_comment(cid, admin, "комментарий к сессии", on_session=True)
    svc.set_tag(cid, tag.id, True, admin, on_session=False)
    svc.set_tag(cid, tag.id, False, admin, on_session=False)
    svc.set_tag(cid, tag.id, True, admin, on_session=True)
    svc.set_tag(cid, tag.id, False, admin, on_session=True)
    svc.set_spam(cid, True, admin)
    svc.set_spam(cid, False, admin)
    svc.snooze_conversation(cid, utcnow() + timedelta(hours=1), admin)
    svc.reopen_conversation(cid, admin)
    svc.close_conversation(cid, admin)
    svc.reopen_conversation(cid, admin)

    after = {m.id for m in db.session.scalars(select(Message))}
    assert before <= after
    # 15 events (tags twice each way, spam both ways, ...) and one note, all kept
    assert len(after) - len(before) == 16
    sessions = db.session.scalars(select(Session).where(Session.conversation_id == cid)).all()
    assert len(sessions) == 2
