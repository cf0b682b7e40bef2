"""Quick replies: templates with {variables} that fill the composer for editing.

Filling never sends anything: it returns text for a person to read, change and send.
A variable with no value (no client linked, no planned visit) stays in the text as
written and is reported as missing, so the composer can flag it. Templates are not
history (no message or event refers to one), so deleting one is allowed.
"""

import re
from dataclasses import dataclass, field

from flask_babel import format_date, format_time, to_user_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from extensions import db
from models import Client, Template, User, Visit
from models.base import utcnow
from services.db import begin_write, refusals_roll_back
from services.errors import FieldError
from services.inbox import conversation_link, next_visit
from services.salon import get_salon
from services.text import normalize_text

TITLE_MAX = 120
TEXT_MAX = 4000  # under Telegram's 4096 characters per message
MAX_QUERY = 200

# name -> what it stands for, in the order the management page explains them
VARIABLES = {
    "client.first_name": _l("Client's first name"),
    "client.name": _l("Client's full name"),
    "visit.date": _l("Date of the client's next planned visit"),
    "visit.time": _l("Time of that visit"),
    "visit.service": _l("Service booked for that visit"),
    "salon.name": _l("Salon's name"),
    "staff.first_name": _l("Your first name"),
}
# {client.first_name}; any {word.word} whose first word is ours is checked when saving
PLACEHOLDER = re.compile(r"\{([a-z_]+)\.([a-z_]+)\}")
OUR_PREFIXES = {name.split(".")[0] for name in VARIABLES}


@dataclass
class Filled:
    """A template's text for the composer, and the placeholders left unfilled as written."""

    text: str
    missing: list[str] = field(default_factory=list)


@dataclass
class Segment:
    """A piece of a template's text: plain, or a variable (the page highlights those)."""

    text: str
    variable: bool = False
    known: bool = False


# ---- reads -----------------------------------------------------------------------------------------


def _get(template_id: int) -> Template:
    template = db.session.get(Template, template_id)
    if template is None:
        raise NotFound()
    return template


def get_template(template_id: int) -> Template:
    """One template; NotFound for an unknown id."""
    return _get(template_id)


def search_templates(q: str = "") -> list[Template]:
    """Templates whose title or text holds `q`, by title.

    Compared in Python on normalised text (casefolded, ё -> е) on both sides: SQLite's
    lower() folds ASCII only, and the table holds a few dozen rows.
    """
    rows = db.session.scalars(select(Template).order_by(Template.title, Template.id)).all()
    needle = normalize_text((q or "")[:MAX_QUERY])
    if not needle:
        return list(rows)
    return [t for t in rows if needle in normalize_text(t.title) or needle in normalize_text(t.text)]


def pick_templates(conversation_id: int, q: str = "") -> list[Template]:
    """The composer's picker for one dialog; NotFound for an unknown conversation."""
    conversation_link(conversation_id)
    return search_templates(q)


def segments(text: str) -> list[Segment]:
    """`text` cut into plain runs and {variables}, so a page can mark variables without |safe."""
    pieces: list[Segment] = []
    last = 0
    for match in PLACEHOLDER.finditer(text):
        if match.start() > last:
            pieces.append(Segment(text[last : match.start()]))
        name = f"{match.group(1)}.{match.group(2)}"
        pieces.append(Segment(match.group(0), variable=True, known=name in VARIABLES))
        last = match.end()
    if last < len(text):
        pieces.append(Segment(text[last:]))
    return pieces


# ---- filling ---------------------------------------------------------------------------------------


def _visit_date(visit: Visit) -> str:
    """28 ноября; the year only when the visit is in another year (salon's zone, reader's locale)."""
    same_year = to_user_timezone(visit.starts_at).year == to_user_timezone(utcnow()).year
    return format_date(visit.starts_at, "d MMMM" if same_year else "d MMMM y")


def _values(client: Client | None, visit: Visit | None, staff: User) -> dict[str, str]:
    values = {"salon.name": get_salon().name, "staff.first_name": staff.first_name}
    if client is not None:
        values["client.first_name"] = client.first_name
        values["client.name"] = client.name
    if visit is not None:
        values["visit.date"] = _visit_date(visit)
        values["visit.time"] = format_time(visit.starts_at, "HH:mm")
        values["visit.service"] = visit.service
    # an empty value would silently vanish from the text: treat it as missing
    return {name: value.strip() for name, value in values.items() if value and value.strip()}


def fill_template(template_id: int, conversation_id: int, staff: User) -> Filled:
    """The template's text with this dialog's values; NotFound for an unknown template or dialog.

    One pass over the text, so braces inside a value (a client named "{salon.name}") are
    inserted as they are and never read as variables. Unknown placeholders stay untouched.
    """
    template = _get(template_id)
    _contact_id, client_id = conversation_link(conversation_id)
    client = db.session.get(Client, client_id) if client_id else None
    visit = next_visit(client.id) if client else None
    values = _values(client, visit, staff)
    missing: list[str] = []

    def replace(match: re.Match) -> str:
        name = f"{match.group(1)}.{match.group(2)}"
        if name not in VARIABLES:
            return match.group(0)
        if name in values:
            return values[name]
        if match.group(0) not in missing:
            missing.append(match.group(0))
        return match.group(0)

    return Filled(PLACEHOLDER.sub(replace, template.text), missing)


# ---- writes ----------------------------------------------------------------------------------------


def _check(title: str, text: str, template_id: int | None = None) -> tuple[str, str]:
    title = (title or "").strip()
    text = (text or "").replace("\r\n", "\n").strip()
    if not title:
        raise FieldError("title", _("Enter a title: the picker lists templates by it."))
    if len(title) > TITLE_MAX:
        raise FieldError("title", _("At most %(n)d characters.", n=TITLE_MAX))
    if not text:
        raise FieldError("text", _("Enter the text of the reply."))
    if len(text) > TEXT_MAX:
        raise FieldError("text", _("At most %(n)d characters.", n=TEXT_MAX))
    for match in PLACEHOLDER.finditer(text):
        if match.group(1) in OUR_PREFIXES and f"{match.group(1)}.{match.group(2)}" not in VARIABLES:
            raise FieldError(
                "text",
                _("Unknown variable %(name)s: check its spelling against the list.", name=match.group(0)),
            )
    for other in db.session.scalars(select(Template)):
        if other.id != template_id and normalize_text(other.title) == normalize_text(title):
            raise FieldError("title", _("There is a template with this title already."))
    return title, text


@refusals_roll_back
def add_template(title: str, text: str) -> Template:
    """A new quick reply, offered in every dialog's picker at once."""
    begin_write()
    title, text = _check(title, text)
    template = Template(title=title, text=text)
    db.session.add(template)
    db.session.commit()
    return template


@refusals_roll_back
def update_template(template_id: int, title: str, text: str) -> Template:
    """Change a template's title or text; replies already sent with it stay as they were."""
    begin_write()
    template = _get(template_id)
    template.title, template.text = _check(title, text, template.id)
    db.session.commit()
    return template


@refusals_roll_back
def delete_template(template_id: int) -> str:
    """Remove a template (no message refers to one); returns its title for the notice."""
    begin_write()
    template = _get(template_id)
    title = template.title
    db.session.delete(template)
    db.session.commit()
    return title
