"""The demo salon: the same rows on every run, and something of every kind to look at."""

import hashlib
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import g, request_started
from sqlalchemy import func, select

from app import create_app
from extensions import db
from models import (
    CATEGORIES,
    CHANNEL_KINDS,
    Attachment,
    Channel,
    Client,
    Comment,
    Contact,
    Conversation,
    CustomField,
    CustomFieldValue,
    Message,
    Session,
    Tag,
    Template,
    User,
    Visit,
    conversation_tags,
    session_tags,
)
from services.demo import demo_anchor, seed_demo

ANCHOR = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 10:00 in Moscow


def _relative(value, anchor):
    """Timestamps as seconds from the anchor, so two seeds on different days compare equal."""
    if isinstance(value, datetime):
        return ("t", (value - anchor).total_seconds())
    if isinstance(value, dict):
        return {k: _relative(v, anchor) for k, v in sorted(value.items())}
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00", value):
        return ("t", (datetime.fromisoformat(value) - anchor).total_seconds())
    return value


def database_digest(anchor) -> str:
    """A hash of every row of every table; password hashes are salted, so they are left out."""
    digest = hashlib.sha256()
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if c.name != "password_hash"]
        rows = db.session.execute(select(*columns).order_by(*table.primary_key.columns)).all()
        digest.update(table.name.encode())
        for row in rows:
            digest.update(repr([_relative(v, anchor) for v in row]).encode())
    return digest.hexdigest()


@pytest.fixture(autouse=True)
def fresh_g_per_request(app):
    """The app fixture keeps one app context open, so `g` (and Flask-Login's cached user in it)
    would outlive a request; a real server starts every request with an empty `g`."""

    def clear(sender, **extra):
        for name in list(g):
            g.pop(name)

    request_started.connect(clear, app)
    yield
    request_started.disconnect(clear, app)


@pytest.fixture
def seeded(app):
    assert seed_demo(only_if_empty=True, anchor=ANCHOR) is True
    return app


def _login(app, email, password="okno-demo"):
    http = app.test_client()
    html = http.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = http.post("/login", data={"email": email, "password": password, "csrf_token": token})
    return http, response


def test_demo_seed_gives_the_same_rows_in_two_fresh_databases(app, tmp_path, migrated_db, redis_server):
    seed_demo(only_if_empty=True, anchor=ANCHOR)
    first = database_digest(ANCHOR)

    other_path = tmp_path / "other.db"
    shutil.copy(migrated_db, other_path)
    other = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{other_path}",
            "REDIS_URL": redis_server.url,
            "UPLOAD_DIR": tmp_path / "other-uploads",
        }
    )
    later = ANCHOR + timedelta(days=3)
    with other.app_context():
        seed_demo(only_if_empty=True, anchor=later)
        second = database_digest(later)
        db.session.remove()
        db.engine.dispose()

    assert first == second
    assert (tmp_path / "uploads" / "demo" / "hair.png").read_bytes() == (
        tmp_path / "other-uploads" / "demo" / "hair.png"
    ).read_bytes()


def test_demo_anchor_is_ten_in_the_morning_in_moscow_today():
    late_evening = datetime(2026, 3, 2, 20, 30, tzinfo=UTC)  # 23:30 in Moscow
    assert demo_anchor(late_evening) == datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    after_midnight = datetime(2026, 3, 2, 21, 30, tzinfo=UTC)  # 00:30 on 3 March in Moscow
    assert demo_anchor(after_midnight) == datetime(2026, 3, 3, 7, 0, tzinfo=UTC)


def test_demo_has_staff_who_log_in_with_the_demo_password_and_a_master_without_chat(seeded):
    roles = dict(db.session.execute(select(User.email, User.role)).all())
    assert roles == {
        "owner@salon.test": "owner",
        "anna@salon.test": "admin",
        "olena@salon.test": "admin",
        "master@salon.test": "master",
    }
    anna, response = _login(seeded, "anna@salon.test")
    assert response.status_code == 302
    assert anna.get("/").status_code == 200
    master, response = _login(seeded, "master@salon.test")
    assert response.status_code == 302
    assert master.get("/").status_code == 403


def test_demo_clients_cover_every_category_with_phones_fields_and_visits(seeded):
    categories = set(db.session.scalars(select(Client.category)))
    assert categories == set(CATEGORIES)
    assert db.session.scalar(select(func.count()).select_from(Client)) >= 40
    phones = [p.e164 for c in db.session.scalars(select(Client)) for p in c.phones]
    assert any(p.startswith("+7") for p in phones) and any(p.startswith("+380") for p in phones)
    assert all(re.fullmatch(r"\+\d{11,12}", p) for p in phones)
    field_names = set(db.session.scalars(select(CustomField.name)))
    assert field_names == {"Тип волос", "Аллергии", "Любимый мастер", "День рождения"}
    valued = set(
        db.session.scalars(
            select(CustomField.name).join(CustomFieldValue, CustomFieldValue.field_id == CustomField.id)
        )
    )
    assert valued == field_names
    past = set(db.session.scalars(select(Visit.status).where(Visit.starts_at < ANCHOR)))
    future = set(db.session.scalars(select(Visit.status).where(Visit.starts_at > ANCHOR)))
    assert past >= {"arrived", "cancelled"}
    assert future >= {"waiting", "confirmed", "cancelled"}
    assert "arrived" not in future


def test_demo_conversations_cover_every_channel_state_and_list(seeded):
    kinds = set(db.session.scalars(select(Channel.kind)))
    assert kinds == set(CHANNEL_KINDS) - {"instagram", "email"}
    broken = db.session.scalars(select(Channel).where(Channel.health == "broken")).all()
    assert [c.health_reason for c in broken] == ["Токен отозван (401 Unauthorized)"]

    conversations = db.session.scalars(select(Conversation)).all()
    assert 55 <= len(conversations) <= 65
    assert {c.channel.kind for c in conversations} == kinds
    names = {u.email: u.id for u in db.session.scalars(select(User))}
    unanswered_unassigned = [
        c for c in conversations if c.unanswered and c.assignee_id is None and not c.with_bot
    ]
    assert len(unanswered_unassigned) >= 5
    assert {c.assignee_id for c in conversations} >= {names["anna@salon.test"], names["olena@salon.test"]}
    snoozed = [c for c in conversations if c.state == "snoozed"]
    assert snoozed and all(c.snoozed_until == ANCHOR + timedelta(days=1) for c in snoozed)
    assert any(c.state == "closed" for c in conversations)
    assert any(c.is_spam for c in conversations)
    assert any(c.with_bot for c in conversations)
    assert any(c.contact.client_id is None for c in conversations)
    assert any(c.contact.blocked for c in conversations)
    assert any(c.contact.given_by_visitor for c in conversations)
    # a closed dialog the client wrote to again: its first session closed, a new one open
    reopened = [
        c
        for c in conversations
        if c.state == "open"
        and db.session.scalar(select(func.count()).where(Session.conversation_id == c.id)) > 1
    ]
    assert reopened
    for conversation in reopened:
        sessions = db.session.scalars(
            select(Session).where(Session.conversation_id == conversation.id).order_by(Session.id)
        ).all()
        assert sessions[0].closed_at is not None and sessions[-1].closed_at is None
        assert conversation.current_session_id == sessions[-1].id


def test_demo_denormalized_list_fields_agree_with_the_messages(seeded):
    for conversation in db.session.scalars(select(Conversation)):
        messages = db.session.scalars(
            select(Message).where(Message.conversation_id == conversation.id).order_by(Message.id)
        ).all()
        talk = [m for m in messages if m.direction in ("in", "out")]
        since_reply = 0
        for m in talk:
            since_reply = since_reply + 1 if m.direction == "in" else 0
        assert conversation.unread_count == since_reply, conversation.id
        assert conversation.last_message_at == talk[-1].created_at
        assert conversation.last_message_direction == talk[-1].direction
        assert talk[-1].text.startswith(conversation.last_message_preview.rstrip("…"))
        assert conversation.last_activity_at == max(m.created_at for m in messages)
        assert [m.created_at for m in messages] == sorted(m.created_at for m in messages)
        assert conversation.last_activity_at < ANCHOR
        session = db.session.get(Session, conversation.current_session_id)
        assert session.conversation_id == conversation.id
        assert (session.closed_at is not None) == (conversation.state == "closed")


def test_demo_has_events_notes_an_edit_a_failed_delivery_and_files(seeded):
    events = set(db.session.scalars(select(Message.event).where(Message.direction == "event")))
    assert events >= {"took", "assigned", "closed", "snoozed", "reopened", "spam", "tag_added"}
    assert db.session.scalar(select(func.count()).where(Message.direction == "note")) >= 2

    edited = db.session.scalars(select(Message).where(Message.edited_at.is_not(None))).one()
    assert edited.direction == "in"
    assert [r.text for r in edited.revisions] == ["Здравствуйте! Можно перенести запись на четверг?"]
    assert edited.text == "Здравствуйте! Можно перенести запись на пятницу?"

    failed = db.session.scalars(select(Message).where(Message.delivery_status == "failed")).one()
    assert failed.direction == "out"
    assert failed.delivery_error == "Forbidden: bot was blocked by the user"
    contact = db.session.get(Contact, db.session.get(Conversation, failed.conversation_id).contact_id)
    assert contact.blocked
    statuses = set(db.session.scalars(select(Message.delivery_status).where(Message.direction == "out")))
    assert statuses >= {"delivered", "read", "failed"}

    upload_dir = Path(seeded.config["UPLOAD_DIR"])
    attachments = db.session.scalars(select(Attachment)).all()
    images = [a for a in attachments if a.is_image]
    assert len(images) >= 2
    for attachment in images:
        data = (upload_dir / attachment.storage_path).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) == attachment.size
    pdf = next(a for a in attachments if a.content_type == "application/pdf")
    assert (upload_dir / pdf.storage_path).read_bytes().startswith(b"%PDF-")


def test_demo_has_tags_comments_and_quick_replies_with_variables(seeded):
    assert set(db.session.scalars(select(Tag.name))) == {"VIP", "Новый клиент", "Жалоба", "Запись"}
    assert db.session.scalar(select(func.count()).select_from(conversation_tags)) >= 3
    assert db.session.scalar(select(func.count()).select_from(session_tags)) >= 3
    comments = db.session.scalars(select(Comment)).all()
    assert any(c.session_id for c in comments) and any(c.session_id is None for c in comments)
    texts = " ".join(db.session.scalars(select(Template.text)))
    assert 5 <= db.session.scalar(select(func.count()).select_from(Template)) <= 8
    for variable in (
        "{client.first_name}",
        "{visit.date}",
        "{visit.time}",
        "{visit.service}",
        "{salon.name}",
        "{staff.first_name}",
    ):
        assert variable in texts


def test_seed_demo_if_empty_does_nothing_the_second_time(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo", "--if-empty"])
    assert first.exit_code == 0 and "Demo salon created" in first.output
    count = db.session.scalar(select(func.count()).select_from(Message))
    db.session.remove()

    second = runner.invoke(args=["seed-demo", "--if-empty"])
    assert second.exit_code == 0 and "not seeded" in second.output
    assert db.session.scalar(select(func.count()).select_from(Message)) == count
    assert db.session.scalar(select(func.count()).select_from(User)) == 4


def test_seed_demo_without_the_flag_still_refuses_to_seed_the_demo_twice(seeded):
    assert seed_demo(only_if_empty=False) is False
    assert db.session.scalar(select(func.count()).select_from(Channel)) == 5


def test_seed_demo_if_empty_leaves_a_database_with_accounts_alone(app):
    from tests.factories import make_user

    make_user(role="owner")
    assert seed_demo(only_if_empty=True) is False
    assert db.session.scalar(select(func.count()).select_from(Conversation)) == 0
