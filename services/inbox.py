"""The read side of the inbox: every query that feeds the list, the dialog and the card.

Written once, here; each costs a fixed number of SQL statements whatever the size.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select, text, union_all
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.exceptions import NotFound

from extensions import db
from models import (
    CATEGORIES,
    Attachment,
    Channel,
    Client,
    ClientPhone,
    Comment,
    Contact,
    Conversation,
    CustomField,
    CustomFieldValue,
    Message,
    RolePermission,
    Session,
    Tag,
    User,
    Visit,
    conversation_tags,
)
from models.base import utcnow
from services.text import normalize_text, phone_search_digits

SCOPES = ("all", "mine", "unassigned")
STATES = ("unanswered", "open", "snoozed", "closed", "spam", "all")
LISTS = ("admin", "bot")
MAX_QUERY = 200


def _int_or_none(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**62 else None


@dataclass
class ListFilter:
    """What the list shows; built from the URL, unknown values fall back to defaults."""

    q: str = ""
    scope: str = "all"
    state: str = "open"
    lst: str = "admin"
    channel: int | None = None
    assignee: int | None = None
    category: str | None = None
    tag: int | None = None
    cursor: tuple[datetime, int] | None = None

    @classmethod
    def from_args(cls, args) -> "ListFilter":
        f = cls()
        f.q = (args.get("q") or "").strip()[:MAX_QUERY]
        f.scope = args.get("scope") if args.get("scope") in SCOPES else "all"
        f.state = args.get("state") if args.get("state") in STATES else "open"
        f.lst = args.get("list") if args.get("list") in LISTS else "admin"
        f.channel = _int_or_none(args.get("channel"))
        f.assignee = _int_or_none(args.get("assignee"))
        f.category = args.get("category") if args.get("category") in CATEGORIES else None
        f.tag = _int_or_none(args.get("tag"))
        f.cursor = _parse_cursor(args.get("after"))
        return f

    def args(self, **override) -> dict:
        """The non-default values as URL arguments (so links stay short and shareable)."""
        values = {
            "q": self.q,
            "scope": self.scope if self.scope != "all" else None,
            "state": self.state if self.state != "open" else None,
            "list": self.lst if self.lst != "admin" else None,
            "channel": self.channel,
            "assignee": self.assignee,
            "category": self.category,
            "tag": self.tag,
        }
        values.update(override)
        return {k: v for k, v in values.items() if v not in (None, "")}

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.channel or self.assignee or self.category or self.tag)


def _parse_cursor(raw) -> tuple[datetime, int] | None:
    if not raw or "_" not in raw:
        return None
    ts, _sep, ident = raw.rpartition("_")
    ident_num = _int_or_none(ident)
    try:
        when = datetime.fromisoformat(ts)
    except ValueError:
        return None
    if ident_num is None or when.tzinfo is None:
        return None
    return when, ident_num


def cursor_for(conversation: Conversation) -> str:
    return f"{conversation.last_activity_at.isoformat()}_{conversation.id}"


def _state_clause(state: str):
    c = Conversation
    if state == "spam":
        return c.is_spam.is_(True)
    clauses = [c.is_spam.is_(False)]
    if state == "unanswered":
        clauses += [c.state == "open", c.unread_count > 0]
    elif state in ("open", "snoozed", "closed"):
        clauses.append(c.state == state)
    return and_(*clauses)


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fts_query(words: list[str]) -> str:
    """Each user word quoted (FTS operators in it lose their meaning) and prefix-matched."""
    return " ".join('"' + w.replace('"', '""') + '"*' for w in words)


def _contains(column, value: str):
    """`column` holds `value` as a substring.

    Both sides are normalised already (casefolded names, digits), so on SQLite instr()
    matches exactly what LIKE '%value%' would, at a third of LIKE's cost per row.
    """
    if db.engine.dialect.name == "sqlite":
        return func.instr(column, value) > 0
    return column.like(_like(value), escape="\\")


def _search_clause(q: str):
    """The conversations `q` finds: by phone (any written form), else by name or message words.

    One `Conversation.id IN (...)` subquery: the id is in every list index, so the page
    is still read in index order, each candidate checked against the set SQLite builds
    once, without a visit to the table. The set is a union of small scans: the
    contacts' and clients' normalised names or phone digits (index-only where an index
    covers them) and the 2000 latest full-text hits.
    """
    c = Conversation
    digits = phone_search_digits(q)
    if digits:
        client_ids = select(ClientPhone.client_id).where(_contains(ClientPhone.digits, digits))
        contact_ids = union_all(
            select(Contact.id).where(_contains(Contact.phone_digits, digits)),
            select(Contact.id).where(Contact.client_id.in_(client_ids)),
        )
        return c.id.in_(select(c.id).where(c.contact_id.in_(contact_ids)))

    norm = normalize_text(q)
    if not norm:
        return None
    client_ids = select(Client.id).where(_contains(Client.name_norm, norm))
    contact_ids = union_all(
        select(Contact.id).where(_contains(Contact.name_norm, norm)),
        select(Contact.id).where(Contact.client_id.in_(client_ids)),
    )
    by_name = select(c.id).where(c.contact_id.in_(contact_ids))
    words = [w for w in norm.split(" ") if any(ch.isalnum() for ch in w)][:8]
    if not words:
        return c.id.in_(by_name)
    if db.engine.dialect.name == "sqlite":
        hits = text(
            "SELECT rowid FROM messages_fts WHERE messages_fts MATCH :fts ORDER BY rowid DESC LIMIT 2000"
        ).bindparams(fts=_fts_query(words))
        by_text = select(Message.conversation_id).where(Message.id.in_(hits.columns(Message.id)))
    else:
        by_text = select(Message.conversation_id).where(
            and_(*(Message.text.ilike(_like(w), escape="\\") for w in words)),
            Message.direction.in_(("in", "out", "note")),
        )
    return c.id.in_(union_all(by_name, by_text))


def list_conversations(f: ListFilter, user: User, limit: int = 50) -> tuple[list[Conversation], str | None]:
    """One page of the list, newest activity first; returns rows and the next page's cursor."""
    c = Conversation
    stmt = (
        select(c)
        .options(
            joinedload(c.contact).joinedload(Contact.client),
            joinedload(c.channel),
            joinedload(c.assignee),
        )
        .where(_state_clause(f.state), c.with_bot.is_(f.lst == "bot"))
    )
    if f.scope == "mine":
        stmt = stmt.where(c.assignee_id == user.id)
    elif f.scope == "unassigned":
        stmt = stmt.where(c.assignee_id.is_(None))
    if f.channel:
        stmt = stmt.where(c.channel_id == f.channel)
    if f.assignee:
        stmt = stmt.where(c.assignee_id == f.assignee)
    if f.category:
        stmt = stmt.where(
            c.contact_id.in_(
                select(Contact.id)
                .join(Client, Client.id == Contact.client_id)
                .where(Client.category == f.category)
            )
        )
    if f.tag:
        stmt = stmt.where(
            c.id.in_(select(conversation_tags.c.conversation_id).where(conversation_tags.c.tag_id == f.tag))
        )
    if f.q:
        clause = _search_clause(f.q)
        if clause is not None:
            stmt = stmt.where(clause)
    if f.cursor:
        when, ident = f.cursor
        stmt = stmt.where(or_(c.last_activity_at < when, and_(c.last_activity_at == when, c.id < ident)))
    rows = (
        db.session.scalars(stmt.order_by(c.last_activity_at.desc(), c.id.desc()).limit(limit + 1))
        .unique()
        .all()
    )
    next_cursor = cursor_for(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def header_counts(user: User) -> dict[str, int]:
    """Unanswered conversations with an admin: all, mine, unassigned (one statement)."""
    c = Conversation
    unanswered = and_(c.state == "open", c.unread_count > 0)
    row = db.session.execute(
        select(
            func.count(),
            func.sum(case((c.assignee_id == user.id, 1), else_=0)),
            func.sum(case((c.assignee_id.is_(None), 1), else_=0)),
        ).where(c.is_spam.is_(False), c.with_bot.is_(False), unanswered)
    ).one()
    return {"unanswered": row[0] or 0, "mine": row[1] or 0, "unassigned": row[2] or 0}


def badge(count: int) -> str:
    return "99+" if count > 99 else str(count)


def load_conversation(conversation_id: int) -> Conversation | None:
    c = Conversation
    return (
        db.session.scalars(
            select(c)
            .options(
                joinedload(c.contact).joinedload(Contact.client).selectinload(Client.phones),
                joinedload(c.channel),
                joinedload(c.assignee),
                selectinload(c.tags),
                joinedload(c.current_session).selectinload(Session.tags),
            )
            .where(c.id == conversation_id)
        )
        .unique()
        .one_or_none()
    )


def _dialog_messages(conversation_id: int):
    """A conversation's messages with what the dialog shows of each (author, files, edits, quote)."""
    return (
        select(Message)
        .options(
            joinedload(Message.author),
            selectinload(Message.attachments),
            selectinload(Message.revisions),
            joinedload(Message.reply_to),
        )
        .where(Message.conversation_id == conversation_id)
    )


def load_messages(
    conversation_id: int, before: int | None = None, limit: int = 100
) -> tuple[list[Message], bool]:
    """The dialog's latest messages (or those before a message id), oldest first."""
    stmt = _dialog_messages(conversation_id)
    if before:
        stmt = stmt.where(Message.id < before)
    rows = db.session.scalars(stmt.order_by(Message.id.desc()).limit(limit + 1)).unique().all()
    more = len(rows) > limit
    return list(reversed(rows[:limit])), more


@dataclass
class Card:
    """What the client pane shows for one conversation."""

    client: Client | None
    contact: Contact
    next_visit: Visit | None = None
    last_visit: Visit | None = None
    visits_done: int = 0
    visits_cancelled: int = 0
    fields: list[tuple[CustomField, str]] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    history: list[Session] = field(default_factory=list)
    other_conversations: list[Conversation] = field(default_factory=list)
    all_tags: list[Tag] = field(default_factory=list)


def upcoming_visits(client_id: int, limit: int) -> list[Visit]:
    """The client's planned visits, soonest first: waiting or confirmed, not started yet."""
    return list(
        db.session.scalars(
            select(Visit)
            .where(
                Visit.client_id == client_id,
                Visit.starts_at >= utcnow(),
                Visit.status.in_(("waiting", "confirmed")),
            )
            .order_by(Visit.starts_at)
            .limit(limit)
        )
    )


def next_visit(client_id: int) -> Visit | None:
    """The client's next planned visit (card, quick replies)."""
    return next(iter(upcoming_visits(client_id, 1)), None)


def load_card(conversation: Conversation, history_limit: int = 5) -> Card:
    contact = conversation.contact
    client = contact.client
    card = Card(client=client, contact=contact)
    card.all_tags = db.session.scalars(select(Tag).order_by(Tag.name)).all()
    card.comments = db.session.scalars(
        select(Comment)
        .options(joinedload(Comment.author))
        .where(Comment.conversation_id == conversation.id)
        .order_by(Comment.id.desc())
        .limit(20)
    ).all()
    card.history = db.session.scalars(
        select(Session)
        .where(Session.conversation_id == conversation.id)
        .order_by(Session.id.desc())
        .limit(history_limit + 1)
    ).all()
    if client is None:
        return card
    card.next_visit = next_visit(client.id)
    card.last_visit = db.session.scalars(
        select(Visit)
        .where(Visit.client_id == client.id, Visit.status == "arrived")
        .order_by(Visit.starts_at.desc())
        .limit(1)
    ).first()
    done, cancelled = db.session.execute(
        select(
            func.sum(case((Visit.status == "arrived", 1), else_=0)),
            func.sum(case((Visit.status == "cancelled", 1), else_=0)),
        ).where(Visit.client_id == client.id)
    ).one()
    card.visits_done, card.visits_cancelled = done or 0, cancelled or 0
    values = dict(
        db.session.execute(
            select(CustomFieldValue.field_id, CustomFieldValue.value).where(
                CustomFieldValue.client_id == client.id
            )
        ).all()
    )
    defs = db.session.scalars(
        select(CustomField).where(CustomField.active.is_(True)).order_by(CustomField.position, CustomField.id)
    ).all()
    card.fields = [(d, values.get(d.id, "")) for d in defs]
    card.other_conversations = db.session.scalars(
        select(Conversation)
        .options(joinedload(Conversation.channel))
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(Contact.client_id == client.id, Conversation.id != conversation.id)
        .order_by(Conversation.last_activity_at.desc())
    ).all()
    return card


def chat_staff() -> list[User]:
    """Staff who may take chats: the assignee picker and the assignee filter."""
    users = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name)).all()
    # one query for the permissions, not one per user whose role has no row (User.may_chat)
    allowed = set(db.session.scalars(select(RolePermission.role).where(RolePermission.may_chat.is_(True))))
    return [u for u in users if u.role == "owner" or u.role in allowed]


def channels() -> list[Channel]:
    return db.session.scalars(select(Channel).order_by(Channel.name)).all()


def tags() -> list[Tag]:
    return db.session.scalars(select(Tag).order_by(Tag.name)).all()


def search_clients(q: str, limit: int = 10) -> list[Client]:
    """Clients by name or phone, for "Attach to an existing client" and "New message"."""
    q = (q or "").strip()[:MAX_QUERY]
    if not q:
        return []
    digits = phone_search_digits(q)
    stmt = select(Client).options(selectinload(Client.phones))
    if digits:
        stmt = stmt.where(
            Client.id.in_(
                select(ClientPhone.client_id).where(ClientPhone.digits.like(_like(digits), escape="\\"))
            )
        )
    else:
        stmt = stmt.where(Client.name_norm.like(_like(normalize_text(q)), escape="\\"))
    return db.session.scalars(stmt.order_by(Client.name).limit(limit)).all()


# The inbox screen's loaders (blueprints/inbox.py): each view asks one of these.


@dataclass
class Dialog:
    """An open conversation: what the dialog pane and the card pane show."""

    conversation: Conversation
    messages: list[Message]
    more: bool
    card: Card
    staff: list[User]
    history_limit: int = 5


def load_dialog(conversation_id: int, history_limit: int = 5, with_messages: bool = True) -> Dialog:
    """The dialog (its latest messages) and its card; NotFound for an unknown id."""
    conversation = load_conversation(conversation_id)
    if conversation is None:
        raise NotFound()
    messages, more = load_messages(conversation_id) if with_messages else ([], False)
    card = load_card(conversation, history_limit)
    return Dialog(conversation, messages, more, card, chat_staff(), history_limit)


def load_earlier_messages(conversation_id: int, before: int) -> tuple[list[Message], bool, datetime]:
    """Messages before `before` (the oldest one shown), whether more remain, and its time."""
    anchor = db.session.get(Message, before)
    if anchor is None or anchor.conversation_id != conversation_id:
        raise NotFound()
    messages, more = load_messages(conversation_id, before=before)
    return messages, more, anchor.created_at


# the most messages one tail answer carries (a browser back after a long time away)
TAIL_LIMIT = 300


@dataclass
class Tail:
    """What changed in an open dialog since the browser last looked: realtime updates and the
    composer's answer. `dialog.messages` are the new ones, `changed` those shown already."""

    dialog: Dialog  # its card is None unless asked for
    changed: list[Message]
    # the time of the last message the browser shows: new messages on the same day get no separator
    after_at: datetime | None


def load_tail(
    conversation_id: int,
    after: int | None,
    changed_ids: list[int] = (),
    since: int | None = None,
    with_card: bool = False,
) -> Tail:
    """Messages after `after` (the last one the browser shows) and, re-read, the shown ones that
    changed: `changed_ids`, or every one from `since` on (a reconnected browser); the card only
    `with_card` (a delivery tick needs none). NotFound for an unknown conversation or an `after`
    of another one."""
    if with_card:
        dialog = load_dialog(conversation_id, with_messages=False)
    else:
        conversation = load_conversation(conversation_id)
        if conversation is None:
            raise NotFound()
        dialog = Dialog(conversation, [], False, None, chat_staff())
    after_at = None
    if after:
        anchor = db.session.get(Message, after)
        if anchor is None or anchor.conversation_id != conversation_id:
            raise NotFound()
        after_at = anchor.created_at
    stmt = _dialog_messages(conversation_id)
    if after:
        stmt = stmt.where(Message.id > after)
    dialog.messages = list(db.session.scalars(stmt.order_by(Message.id).limit(TAIL_LIMIT)).unique())
    changed: list[Message] = []
    upto = after or 0
    if since and upto:
        shown = Message.id.between(since, upto)
    elif changed_ids and upto:
        shown = and_(Message.id.in_(list(changed_ids)[:TAIL_LIMIT]), Message.id <= upto)
    else:
        shown = None
    if shown is not None:
        rows = db.session.scalars(_dialog_messages(conversation_id).where(shown).order_by(Message.id))
        changed = list(rows.unique())[-TAIL_LIMIT:]
    return Tail(dialog, changed, after_at)


def load_message(conversation_id: int, message_id: int) -> Message:
    """One message of the conversation as the dialog shows it; NotFound when it is not there."""
    message = (
        db.session.scalars(_dialog_messages(conversation_id).where(Message.id == message_id))
        .unique()
        .one_or_none()
    )
    if message is None:
        raise NotFound()
    return message


@dataclass
class Screen:
    """The whole inbox page: a page of the list, the filters' choices, the open dialog if any."""

    rows: list[Conversation]
    next_cursor: str | None
    channels: list[Channel]
    staff: list[User]
    tags: list[Tag]
    dialog: Dialog | None = None


def load_screen(f: ListFilter, user: User, conversation_id: int | None = None) -> Screen:
    dialog = load_dialog(conversation_id) if conversation_id is not None else None
    rows, next_cursor = list_conversations(f, user)
    staff = dialog.staff if dialog else chat_staff()
    all_tags = dialog.card.all_tags if dialog else tags()
    return Screen(rows, next_cursor, channels(), staff, all_tags, dialog)


def list_row(f: ListFilter, user: User, conversation_id: int) -> Conversation | None:
    """The conversation as a row of the list `f` describes, or None when that list excludes it.

    Asks list_conversations itself for the one row at the conversation's own cursor
    position, so "does it still belong here" can't drift from what the list shows.
    NotFound for an unknown id.
    """
    last_activity = db.session.scalar(
        select(Conversation.last_activity_at).where(Conversation.id == conversation_id)
    )
    if last_activity is None:
        raise NotFound()
    probe = replace(f, cursor=(last_activity, conversation_id + 1))
    rows, _next = list_conversations(probe, user, limit=1)
    return rows[0] if rows and rows[0].id == conversation_id else None


def conversation_link(conversation_id: int) -> tuple[int, int | None]:
    """(contact id, linked client id) of a conversation; NotFound for an unknown id."""
    row = db.session.execute(
        select(Contact.id, Contact.client_id)
        .join(Conversation, Conversation.contact_id == Contact.id)
        .where(Conversation.id == conversation_id)
    ).one_or_none()
    if row is None:
        raise NotFound()
    return row[0], row[1]


def get_attachment(attachment_id: int) -> Attachment:
    """A stored attachment whose file was fetched; NotFound otherwise."""
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or not attachment.storage_path:
        raise NotFound()
    return attachment
