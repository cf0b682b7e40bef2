"""The inbox costs a fixed number of SQL statements, however many rows or messages it shows."""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event

from extensions import db
from models import Attachment, Comment, CustomField, CustomFieldValue, MessageRevision, User
from models.base import utcnow
from tests.factories import (
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


@contextmanager
def counted_statements():
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def statements_for(staff, url: str, headers=None) -> list[str]:
    with counted_statements() as statements:
        response = staff.get(url, headers=headers or {})
    assert response.status_code == 200, response.get_data(as_text=True)
    return statements


@pytest.fixture
def staff(login_as):
    return login_as(make_user(name="Anna Admin"))


def add_list_rows(n: int, tag) -> None:
    """Rows that touch everything a row shows: channel, client or contact, assignee, tags."""
    for i in range(n):
        channel = make_channel(("telegram", "whatsapp", "viber", "vk", "widget")[i % 5])
        client = make_client(f"Клиент {i}", phones=[f"+7916{i:07d}"]) if i % 2 else None
        c = make_conversation(
            channel=channel, client=client, name=f"writer {i}", assignee_id=make_user(name=f"Staff {i}").id
        )
        c.tags.append(tag)
        db.session.commit()
        make_message(c, f"Сообщение {i}")


def test_the_list_costs_the_same_for_10_rows_and_for_50(staff):
    tag = make_tag("VIP")
    add_list_rows(10, tag)
    ten_page = statements_for(staff, "/")
    ten_fragment = statements_for(staff, "/list?state=all", HTMX)

    add_list_rows(40, tag)
    fifty_page = statements_for(staff, "/")
    fifty_fragment = statements_for(staff, "/list?state=all", HTMX)

    assert len(fifty_page) == len(ten_page), "\n".join(fifty_page)
    assert len(fifty_fragment) == len(ten_fragment), "\n".join(fifty_fragment)


def new_author(name: str) -> User:
    """A staff member of one's own per message, so that a per-author query would show."""
    user = User(
        name=name, email=f"{name.replace(' ', '.').lower()}@salon.test", password_hash="-", role="admin"
    )
    db.session.add(user)
    db.session.commit()
    return user


def make_dialog(n_messages: int, tag, field):
    """A linked client's conversation with every kind of message, card data and history."""
    client = make_client(f"Клиентка {n_messages}", phones=["+79161234567", "+79261234567"])
    make_visit(client, days=2)
    make_visit(client, days=-20, status="arrived")
    db.session.add(CustomFieldValue(client_id=client.id, field_id=field.id, value="Прямые"))
    for kind in ("whatsapp", "vk"):
        make_conversation(contact=make_contact(make_channel(kind), name="other", client=client))
    c = make_conversation(client=client, name="writer")
    c.tags.append(tag)
    db.session.commit()
    previous = None
    start = utcnow() - timedelta(days=5)
    for i in range(n_messages):
        author = new_author(f"Author {n_messages}-{i}")
        direction = ("in", "out", "note", "in", "event")[i % 5]
        message = make_message(
            c,
            f"Текст {i}",
            direction=direction,
            at=start + timedelta(minutes=30 * i),
            author=author if direction in ("out", "note", "event") else None,
            delivery_status="delivered" if direction == "out" else None,
            event="took" if direction == "event" else None,
            data={"actor": author.name} if direction == "event" else {},
            reply_to_id=previous.id if previous is not None and i % 7 == 0 else None,
            edited_at=utcnow() if i % 6 == 0 else None,
        )
        if i % 6 == 0:
            db.session.add(MessageRevision(message_id=message.id, text="раньше"))
        if i % 4 == 0:
            db.session.add(
                Attachment(
                    message_id=message.id,
                    filename=f"f{i}.png",
                    content_type="image/png",
                    size=10,
                    storage_path=f"f{i}.png",
                )
            )
        db.session.add(Comment(conversation_id=c.id, author_id=author.id, text=f"Комментарий {i}"))
        db.session.commit()
        previous = message
    return c


def test_an_open_dialog_costs_the_same_for_20_messages_and_for_100(staff):
    tag = make_tag("VIP")
    field = CustomField(name="Hair", kind="text")
    db.session.add(field)
    db.session.commit()
    short = make_dialog(20, tag, field)
    long = make_dialog(100, tag, field)

    short_page = statements_for(staff, f"/c/{short.id}")
    long_page = statements_for(staff, f"/c/{long.id}")
    short_fragment = statements_for(staff, f"/c/{short.id}", HTMX)
    long_fragment = statements_for(staff, f"/c/{long.id}", HTMX)

    assert len(long_page) == len(short_page), "\n".join(long_page)
    assert len(long_fragment) == len(short_fragment), "\n".join(long_fragment)
