"""The client card changed from the chat: category, visits, fields, creating and linking clients."""

import pytest
from sqlalchemy import func, select
from werkzeug.exceptions import NotFound

from extensions import db
from models import Client, ClientPhone, Contact, CustomField, CustomFieldValue, Message, Visit
from services import clients as svc
from services.errors import ActionError
from tests.factories import (
    committed,
    make_client,
    make_contact,
    make_conversation,
    make_message,
    make_user,
    make_visit,
)


def fresh(model, ident):
    """The row as a new request would read it: only what was committed."""
    return committed(model, ident)


def events(conversation_id: int) -> list[Message]:
    db.session.rollback()
    return db.session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.direction == "event")
        .order_by(Message.id)
    ).all()


def make_field(name, kind="text", options="") -> CustomField:
    field = CustomField(name=name, kind=kind, options=options)
    db.session.add(field)
    db.session.commit()
    return field


def field_values(client_id: int) -> dict[str, str]:
    db.session.rollback()
    rows = db.session.execute(
        select(CustomField.name, CustomFieldValue.value)
        .join(CustomField, CustomField.id == CustomFieldValue.field_id)
        .where(CustomFieldValue.client_id == client_id)
    ).all()
    return dict(rows)


@pytest.fixture
def admin(app):
    return make_user(name="Анна")


@pytest.fixture
def chat(app):
    """A conversation with a linked client, the way the card pane shows it."""
    client = make_client("Мария Иванова")
    conversation = make_conversation(client=client, messages=["Здравствуйте"])
    return client, conversation


# --- category --------------------------------------------------------------------------------------


def test_setting_the_category_records_old_and_new(admin, chat):
    client, conversation = chat
    svc.set_client_category(client.id, "model", admin, conversation_id=conversation.id)
    assert fresh(Client, client.id).category == "model"
    event = events(conversation.id)[-1]
    assert event.event == "category"
    assert event.data == {"actor": "Анна", "old": "client", "new": "model", "client": "Мария Иванова"}


@pytest.mark.parametrize("category", ["", "vip", "CLIENT", None])
def test_unknown_category_is_refused(admin, chat, category):
    client, conversation = chat
    with pytest.raises(ActionError):
        svc.set_client_category(client.id, category, admin, conversation_id=conversation.id)
    assert fresh(Client, client.id).category == "client"
    assert events(conversation.id) == []


def test_setting_the_same_category_records_nothing(admin, chat):
    client, conversation = chat
    svc.set_client_category(client.id, "client", admin, conversation_id=conversation.id)
    assert events(conversation.id) == []


def test_category_of_an_unknown_client_is_not_found(admin):
    with pytest.raises(NotFound):
        svc.set_client_category(987654, "spam", admin)


# --- visits ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["confirmed", "cancelled", "waiting"])
def test_visit_status_changes_for_a_visit_ahead_and_is_recorded(admin, chat, status):
    client, conversation = chat
    visit = make_visit(client, days=3, status="waiting" if status != "waiting" else "confirmed")
    old = visit.status
    svc.set_visit_status(visit.id, status, admin, conversation_id=conversation.id)
    assert fresh(Visit, visit.id).status == status
    event = events(conversation.id)[-1]
    assert event.event == "visit_status"
    assert (event.data["old"], event.data["new"], event.data["service"]) == (old, status, "Стрижка")
    assert event.data["starts_at"] == fresh(Visit, visit.id).starts_at.isoformat()


def test_client_can_arrive_for_todays_visit(admin, chat):
    client, conversation = chat
    visit = make_visit(client, days=0)
    svc.set_visit_status(visit.id, "arrived", admin, conversation_id=conversation.id)
    assert fresh(Visit, visit.id).status == "arrived"
    assert events(conversation.id)[-1].data["new"] == "arrived"


def test_client_can_arrive_for_a_past_visit(admin, chat):
    client, _conversation = chat
    visit = make_visit(client, days=-2, status="confirmed")
    svc.set_visit_status(visit.id, "arrived", admin)
    assert fresh(Visit, visit.id).status == "arrived"


def test_arrived_is_refused_for_a_visit_days_ahead(admin, chat):
    client, conversation = chat
    visit = make_visit(client, days=3, status="confirmed")
    with pytest.raises(ActionError):
        svc.set_visit_status(visit.id, "arrived", admin, conversation_id=conversation.id)
    assert fresh(Visit, visit.id).status == "confirmed"
    assert events(conversation.id) == []


@pytest.mark.parametrize("status", ["done", "", "ARRIVED"])
def test_unknown_visit_status_is_refused(admin, chat, status):
    client, _conversation = chat
    visit = make_visit(client)
    with pytest.raises(ActionError):
        svc.set_visit_status(visit.id, status, admin)
    assert fresh(Visit, visit.id).status == "waiting"


def test_visit_status_of_an_unknown_visit_is_not_found(admin):
    with pytest.raises(NotFound):
        svc.set_visit_status(987654, "confirmed", admin)


# --- notes and custom fields ---------------------------------------------------------------------


def test_notes_are_saved_trimmed_and_recorded(admin, chat):
    client, conversation = chat
    svc.update_client_details(
        client.id, admin, notes="  Аллергия на латекс \n", conversation_id=conversation.id
    )
    assert fresh(Client, client.id).notes == "Аллергия на латекс"
    event = events(conversation.id)[-1]
    assert event.event == "client_updated"
    assert event.data["fields"] == "notes"


def test_unchanged_notes_record_nothing(admin, chat):
    client, conversation = chat
    svc.update_client_details(client.id, admin, notes="", conversation_id=conversation.id)
    assert events(conversation.id) == []


def test_custom_fields_are_saved_and_changed(admin, chat):
    client, conversation = chat
    hair = make_field("Тип волос")
    kind = make_field("Кожа", kind="select", options="Сухая\nЖирная\nНормальная\n")
    age = make_field("Возраст", kind="number")
    svc.update_client_details(
        client.id,
        admin,
        fields={hair.id: "Кудрявые", kind.id: "Сухая", age.id: "34"},
        conversation_id=conversation.id,
    )
    assert field_values(client.id) == {"Тип волос": "Кудрявые", "Кожа": "Сухая", "Возраст": "34"}
    assert events(conversation.id)[-1].data["fields"] == "Тип волос, Кожа, Возраст"

    svc.update_client_details(
        client.id, admin, fields={hair.id: "Прямые", age.id: "34"}, conversation_id=conversation.id
    )
    assert field_values(client.id)["Тип волос"] == "Прямые"
    # only the field that changed is named
    assert events(conversation.id)[-1].data["fields"] == "Тип волос"


def test_number_field_accepts_a_decimal_comma(admin, chat):
    client, _conversation = chat
    size = make_field("Размер", kind="number")
    svc.update_client_details(client.id, admin, fields={size.id: "38,5"})
    assert field_values(client.id) == {"Размер": "38,5"}


def test_empty_value_for_a_field_never_filled_stores_nothing(admin, chat):
    client, conversation = chat
    hair = make_field("Тип волос")
    svc.update_client_details(client.id, admin, fields={hair.id: "  "}, conversation_id=conversation.id)
    assert field_values(client.id) == {}
    assert events(conversation.id) == []


@pytest.mark.parametrize("value", ["Жирная кожа", "сухая", "Other"])
def test_select_field_refuses_a_value_not_listed(admin, chat, value):
    client, conversation = chat
    kind = make_field("Кожа", kind="select", options="Сухая\nЖирная")
    with pytest.raises(ActionError) as refused:
        svc.update_client_details(client.id, admin, fields={kind.id: value}, conversation_id=conversation.id)
    assert "Кожа" in str(refused.value)
    assert field_values(client.id) == {}
    assert events(conversation.id) == []


@pytest.mark.parametrize("value", ["abc", "12 лет", "1.2.3"])
def test_number_field_refuses_what_is_not_a_number(admin, chat, value):
    client, _conversation = chat
    age = make_field("Возраст", kind="number")
    with pytest.raises(ActionError) as refused:
        svc.update_client_details(client.id, admin, fields={age.id: value})
    assert "Возраст" in str(refused.value)
    assert field_values(client.id) == {}


def test_a_refused_save_keeps_none_of_its_other_changes(admin, chat):
    client, conversation = chat
    hair = make_field("Тип волос")
    age = make_field("Возраст", kind="number")
    with pytest.raises(ActionError):
        svc.update_client_details(
            client.id, admin, notes="новые заметки", fields={hair.id: "Прямые", age.id: "много"}
        )
    # the next save in the same worker or request must not carry the refused one along
    svc.update_client_details(client.id, admin, notes="", fields={}, conversation_id=conversation.id)
    assert fresh(Client, client.id).notes == ""
    assert field_values(client.id) == {}


def test_unknown_field_ids_are_ignored(admin, chat):
    client, conversation = chat
    svc.update_client_details(client.id, admin, fields={987654: "x"}, conversation_id=conversation.id)
    assert field_values(client.id) == {}
    assert events(conversation.id) == []


# --- creating a client from an unknown writer -----------------------------------------------------


def test_new_client_is_named_after_the_contact_and_linked(admin):
    contact = make_contact(name="  Ольга Петрова ", phone="8 (916) 123-45-67")
    conversation = make_conversation(contact=contact)
    client = svc.create_client_from_contact(contact.id, admin, conversation_id=conversation.id)
    client = fresh(Client, client.id)
    assert client.name == "Ольга Петрова"
    assert client.name_norm == "ольга петрова"
    assert client.category == "client"
    assert [p.e164 for p in client.phones] == ["+79161234567"]
    assert [p.digits for p in client.phones] == ["79161234567"]
    assert fresh(Contact, contact.id).client_id == client.id
    event = events(conversation.id)[-1]
    assert (event.event, event.data["client"]) == ("client_created", "Ольга Петрова")


def test_new_client_takes_the_contacts_email(admin):
    contact = make_contact(name="Olga", email="olga@example.test")
    client = svc.create_client_from_contact(contact.id, admin)
    assert fresh(Client, client.id).email == "olga@example.test"


def test_new_client_without_a_name_is_named_after_the_phone(admin):
    contact = make_contact(name="", phone="+380 67 123 45 67")
    client = svc.create_client_from_contact(contact.id, admin)
    client = fresh(Client, client.id)
    assert client.name == "+380 67 123 4567"
    assert [p.e164 for p in client.phones] == ["+380671234567"]
    # findable by the phone's digits as typed
    assert client.name_norm == "+380 67 123 4567"


def test_name_a_website_visitor_typed_is_not_taken_as_the_clients_name(admin):
    contact = make_contact(
        channel=None, name="Королева Англии", phone="+7 916 123-45-67", given_by_visitor=True
    )
    client = svc.create_client_from_contact(contact.id, admin)
    assert fresh(Client, client.id).name == "+7 916 123-45-67"


def test_contact_with_neither_name_nor_phone_gets_a_placeholder_name(admin):
    contact = make_contact(name="")
    client = svc.create_client_from_contact(contact.id, admin)
    assert fresh(Client, client.id).name != ""


def test_creating_a_client_for_a_linked_contact_is_refused(admin, chat):
    client, conversation = chat
    before = db.session.scalar(select(func.count()).select_from(Client))
    with pytest.raises(ActionError):
        svc.create_client_from_contact(conversation.contact_id, admin, conversation_id=conversation.id)
    assert db.session.scalar(select(func.count()).select_from(Client)) == before
    assert fresh(Contact, conversation.contact_id).client_id == client.id


# --- attach and unlink -----------------------------------------------------------------------------


def test_attaching_a_contact_links_it_and_records_the_client(admin):
    maria = make_client("Мария Иванова", phones=["+79161234567"])
    conversation = make_conversation(name="masha_k")
    svc.attach_contact(conversation.contact_id, maria.id, admin, conversation_id=conversation.id)
    assert fresh(Contact, conversation.contact_id).client_id == maria.id
    event = events(conversation.id)[-1]
    assert (event.event, event.data["client"], event.author_id) == (
        "contact_attached",
        "Мария Иванова",
        admin.id,
    )


def test_attaching_to_the_same_client_again_records_nothing(admin, chat):
    client, conversation = chat
    svc.attach_contact(conversation.contact_id, client.id, admin, conversation_id=conversation.id)
    assert events(conversation.id) == []


def test_attaching_to_an_unknown_client_is_not_found(admin):
    conversation = make_conversation()
    with pytest.raises(NotFound):
        svc.attach_contact(conversation.contact_id, 987654, admin, conversation_id=conversation.id)


def test_unlinking_keeps_the_client_card_and_the_messages(admin, chat):
    client, conversation = chat
    make_message(conversation, "Спасибо!", direction="in")
    make_visit(client)
    messages_before = db.session.scalar(select(func.count()).select_from(Message))
    svc.unlink_contact(conversation.contact_id, admin, conversation_id=conversation.id)
    assert fresh(Contact, conversation.contact_id).client_id is None
    kept = fresh(Client, client.id)
    assert kept is not None and kept.name == "Мария Иванова"
    assert len(kept.visits) == 1
    # every message stays, plus the event that says who unlinked
    assert db.session.scalar(select(func.count()).select_from(Message)) == messages_before + 1
    event = events(conversation.id)[-1]
    assert (event.event, event.data["client"]) == ("contact_unlinked", "Мария Иванова")


def test_unlinking_an_unlinked_contact_records_nothing(admin):
    conversation = make_conversation()
    svc.unlink_contact(conversation.contact_id, admin, conversation_id=conversation.id)
    assert events(conversation.id) == []


def test_relinking_after_an_unlink_moves_the_contact_to_the_right_client(admin, chat):
    wrong, conversation = chat
    right = make_client("Мария Петрова")
    svc.unlink_contact(conversation.contact_id, admin, conversation_id=conversation.id)
    svc.attach_contact(conversation.contact_id, right.id, admin, conversation_id=conversation.id)
    assert fresh(Contact, conversation.contact_id).client_id == right.id
    assert [e.event for e in events(conversation.id)] == ["contact_unlinked", "contact_attached"]
    assert fresh(Client, wrong.id) is not None


def test_phone_added_twice_in_different_forms_is_kept_once(app):
    client = make_client("Мария", phones=["+7 (916) 123-45-67", "89161234567"])
    assert db.session.scalars(select(ClientPhone.e164).where(ClientPhone.client_id == client.id)).all() == [
        "+79161234567"
    ]


def test_adding_something_that_is_no_phone_is_refused(app):
    client = make_client("Мария")
    with pytest.raises(ActionError):
        svc.add_phone(client, "позвоните мне")
