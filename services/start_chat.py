"""Write first: which of a client's messenger contacts staff can write to, and why not the others.

A messenger lets a salon write only to someone who wrote to its bot first, so a chat is
"started" by opening the conversation that contact already has. A contact without one,
one who blocked the bot, or one on a channel that is off or broken can't be written to,
and the page says which of these it is.
"""

from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import NotFound

from extensions import db
from models import Channel, Client, Contact, Conversation
from services import inbox
from services.channels import unusable_reason


@dataclass
class ContactOption:
    """One messenger identity of a client: where to write, or why it can't be written to."""

    contact: Contact
    channel: Channel
    conversation_id: int | None
    reason: str | None  # None: staff can write here

    @property
    def can_write(self) -> bool:
        return self.reason is None


@dataclass
class ClientOptions:
    client: Client
    options: list[ContactOption] = field(default_factory=list)

    @property
    def can_write(self) -> bool:
        return any(o.can_write for o in self.options)


def _reason(contact: Contact, conversation_id: int | None) -> str | None:
    if conversation_id is None:
        return _("Never wrote to the salon's bot: a chat can't be started first.")
    if contact.blocked:
        return _("Blocked the bot.")
    return unusable_reason(contact.channel)


def options_for(clients: list[Client]) -> list[ClientOptions]:
    """Each client with their contacts, those that can be written to first (one query for all)."""
    by_client = {c.id: ClientOptions(c) for c in clients}
    if not by_client:
        return []
    rows = db.session.execute(
        select(Contact, Conversation.id)
        .options(joinedload(Contact.channel))
        .outerjoin(Conversation, Conversation.contact_id == Contact.id)
        .where(Contact.client_id.in_(list(by_client)))
        .order_by(Contact.id)
    ).all()
    for contact, conversation_id in rows:
        by_client[contact.client_id].options.append(
            ContactOption(contact, contact.channel, conversation_id, _reason(contact, conversation_id))
        )
    for entry in by_client.values():
        entry.options.sort(key=lambda o: (not o.can_write, o.channel.name, o.contact.id))
    return [by_client[c.id] for c in clients]


def find_clients(q: str) -> list[ClientOptions]:
    """Clients found by name or phone, each with their contacts (the "New message" page)."""
    return options_for(inbox.search_clients(q, limit=20))


def client_options(client_id: int) -> ClientOptions:
    """One client's contacts (the client card's "Start chat"); NotFound for an unknown client."""
    client = db.session.get(Client, client_id)
    if client is None:
        raise NotFound()
    return options_for([client])[0]
