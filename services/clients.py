"""Changes to the CRM card made from the chat: category, visits, fields, linking."""

from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from extensions import db
from models import (
    CATEGORIES,
    VISIT_STATUSES,
    Client,
    ClientPhone,
    Contact,
    Conversation,
    CustomField,
    CustomFieldValue,
    User,
    Visit,
)
from models.base import utcnow
from services.db import begin_write, get_or_404
from services.errors import ActionError
from services.events import record_event
from services.realtime import conversation_changed
from services.text import format_phone, normalize_phone, normalize_text


def _conversations_of(client_id: int) -> list[Conversation]:
    return db.session.scalars(
        select(Conversation)
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(Contact.client_id == client_id)
    ).all()


def _rows_changed(client_id: int | None = None, contact_id: int | None = None) -> None:
    """Open inboxes re-fetch every conversation that shows this client (or this contact)."""
    if client_id is not None:
        ids = [c.id for c in _conversations_of(client_id)]
    else:
        ids = db.session.scalars(select(Conversation.id).where(Conversation.contact_id == contact_id)).all()
    for conversation_id in ids:
        conversation_changed(conversation_id)


def _record_on(conversation_id: int | None, actor: User, event: str, **data) -> None:
    if conversation_id is not None:
        record_event(get_or_404(Conversation, conversation_id), actor, event, **data)


def add_phone(client: Client, raw: str) -> ClientPhone:
    """Attach a phone in E.164 form; raises ActionError when it is no phone."""
    e164 = normalize_phone(raw, current_app.config["DEFAULT_PHONE_REGION"])
    if e164 is None:
        raise ActionError(_("This doesn't look like a phone number."))
    for phone in client.phones:
        if phone.e164 == e164:
            return phone
    phone = ClientPhone(e164=e164, digits=e164.lstrip("+"))
    client.phones.append(phone)
    return phone


def set_client_name(client: Client, name: str) -> None:
    client.name = name.strip()
    client.name_norm = normalize_text(client.name)


def set_client_category(
    client_id: int, category: str, actor: User, conversation_id: int | None = None
) -> None:
    if category not in CATEGORIES:
        raise ActionError(_("Unknown category."))
    begin_write()
    client = get_or_404(Client, client_id)
    if client.category == category:
        db.session.rollback()
        return
    old, client.category = client.category, category
    _record_on(conversation_id, actor, "category", old=old, new=category, client=client.name)
    _rows_changed(client_id=client.id)
    db.session.commit()


def set_visit_status(visit_id: int, status: str, actor: User, conversation_id: int | None = None) -> None:
    """Waiting -> Confirmed / Cancelled / Arrived; a visit can't arrive before its day."""
    if status not in VISIT_STATUSES:
        raise ActionError(_("Unknown visit status."))
    begin_write()
    visit = get_or_404(Visit, visit_id)
    if conversation_id is not None:
        conversation = get_or_404(Conversation, conversation_id)
        if conversation.contact.client_id != visit.client_id:
            raise NotFound()  # another client's visit: not reachable from this dialog
    if visit.status == status:
        db.session.rollback()
        return
    if status == "arrived" and visit.starts_at > utcnow() + timedelta(hours=12):
        raise ActionError(_("A client can't arrive for a visit that is still ahead."))
    old, visit.status = visit.status, status
    _record_on(
        conversation_id,
        actor,
        "visit_status",
        old=old,
        new=status,
        service=visit.service,
        starts_at=visit.starts_at.isoformat(),
    )
    _rows_changed(client_id=visit.client_id)
    db.session.commit()


def update_client_details(
    client_id: int,
    actor: User,
    notes: str | None = None,
    fields: dict[int, str] | None = None,
    conversation_id: int | None = None,
) -> None:
    """Save the notes and the owner-defined fields of a client card."""
    begin_write()
    client = get_or_404(Client, client_id)
    changed: list[str] = []
    if notes is not None and notes.strip() != client.notes:
        client.notes = notes.strip()
        changed.append(_("notes"))
    if fields:
        defs = {f.id: f for f in db.session.scalars(select(CustomField)).all()}
        existing = {
            v.field_id: v
            for v in db.session.scalars(
                select(CustomFieldValue).where(CustomFieldValue.client_id == client.id)
            )
        }
        for field_id, value in fields.items():
            field = defs.get(field_id)
            if field is None:
                continue
            value = (value or "").strip()
            if field.kind == "select" and value and value not in field.option_list:
                db.session.rollback()  # nothing of a refused save may ride along with the next one
                raise ActionError(_("Choose one of the listed values for %(field)s.", field=field.name))
            if field.kind == "number" and value:
                try:
                    float(value.replace(",", "."))
                except ValueError:
                    db.session.rollback()
                    raise ActionError(_("%(field)s must be a number.", field=field.name)) from None
            row = existing.get(field_id)
            if row is None:
                if not value:
                    continue
                db.session.add(CustomFieldValue(client_id=client.id, field_id=field_id, value=value))
            elif row.value == value:
                continue
            else:
                row.value = value
            changed.append(field.name)
    if not changed:
        db.session.rollback()
        return
    _record_on(conversation_id, actor, "client_updated", fields=", ".join(changed))
    _rows_changed(client_id=client.id)
    db.session.commit()


def create_client_from_contact(contact_id: int, actor: User, conversation_id: int | None = None) -> Client:
    """A new CRM card for an unknown writer, named after the writer, else the phone."""
    begin_write()
    contact = get_or_404(Contact, contact_id)
    if contact.client_id is not None:
        raise ActionError(_("This contact is already linked to a client."))
    name = contact.display_name.strip()
    if contact.given_by_visitor or not name:
        # a name a website visitor typed is theirs to claim, not a verified identity
        name = format_phone(contact.phone) if contact.phone else (name or _("New client"))
    client = Client(name="", name_norm="", category="client")
    set_client_name(client, name)
    if contact.email:
        client.email = contact.email
    db.session.add(client)
    if contact.phone:
        add_phone(client, contact.phone)
    db.session.flush()
    contact.client_id = client.id
    _record_on(conversation_id, actor, "client_created", client=client.name)
    _rows_changed(contact_id=contact.id)
    db.session.commit()
    return client


def attach_contact(contact_id: int, client_id: int, actor: User, conversation_id: int | None = None) -> None:
    begin_write()
    contact = get_or_404(Contact, contact_id)
    client = get_or_404(Client, client_id)
    if contact.client_id == client.id:
        db.session.rollback()
        return
    contact.client_id = client.id
    _record_on(conversation_id, actor, "contact_attached", client=client.name)
    _rows_changed(contact_id=contact.id)
    db.session.commit()


def unlink_contact(contact_id: int, actor: User, conversation_id: int | None = None) -> None:
    """Undo a wrong link; the client card and the messages stay as they are."""
    begin_write()
    contact = get_or_404(Contact, contact_id)
    if contact.client_id is None:
        db.session.rollback()
        return
    client = get_or_404(Client, contact.client_id)
    contact.client_id = None
    _record_on(conversation_id, actor, "contact_unlinked", client=client.name)
    _rows_changed(contact_id=contact.id)
    db.session.commit()
