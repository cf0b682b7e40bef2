"""The three panes: conversation list, dialog, client card.

Full pages at / and /c/<id> (deep links, reload, back button); htmx asks for the
fragments. The list's filters live in the page URL, so a fragment request reads them
from HX-Current-URL, and the page URL htmx pushes is built here (HX-Push-Url). Every
action answers with the regions it changed: the dialog, and out of band the card, the
list row and the header badge. Without JavaScript an action redirects back (303).

Live updates (static/app.js listens to /stream): the page asks GET /c/<id>/row for a list row
and GET /c/<id>/tail for what changed in the open dialog; the composer's POSTs (reply, note)
answer the same way, so a message shows once whichever answer arrives first.
"""

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RoutingException

from blueprints.access import may_chat
from blueprints.files import send_attachment
from channels import get_adapter
from channels.base import PermanentError
from extensions import db
from models import Channel
from models.base import utcnow
from services import clients, conversations, inbox, messaging
from services.attachments import accept_attribute, format_size, max_upload_bytes
from services.errors import ActionError
from services.salon import get_salon
from web import wants_fragment

bp = Blueprint("inbox", __name__)

STATE_TABS = {
    "unanswered": _l("Unanswered"),
    "open": _l("Open"),
    "snoozed": _l("Snoozed"),
    "closed": _l("Closed"),
    "spam": _l("Spam"),
    "all": _l("All"),
}
SCOPE_LABELS = {"all": _l("All"), "mine": _l("Mine"), "unassigned": _l("Unassigned")}
# one dialog's state: its own words (in Russian a tab is plural, a state is not)
CONVERSATION_STATES = {
    "open": _l("Status: open"),
    "snoozed": _l("Status: snoozed"),
    "closed": _l("Status: closed"),
}
CATEGORY_LABELS = {
    "client": _l("Client"),
    "spam": _l("Spam"),
    "staff": _l("Staff"),
    "model": _l("Model"),
    "sleeping": _l("Sleeping"),
    "not_client": _l("Not a client"),
}
CATEGORY_FILTERS = {
    "client": _l("Clients"),
    "spam": _l("Spam"),
    "staff": _l("Staff"),
    "model": _l("Models"),
    "sleeping": _l("Sleeping"),
    "not_client": _l("Not clients"),
}
VISIT_LABELS = {
    "waiting": _l("Waiting"),
    "confirmed": _l("Confirmed"),
    "cancelled": _l("Cancelled"),
    "arrived": _l("Arrived"),
}
DELIVERY = {
    "queued": ("⏱", _l("Queued")),
    "sent": ("✓", _l("Sent")),
    "delivered": ("✓✓", _l("Delivered")),
    "read": ("✓✓", _l("Read")),
    "failed": ("⚠", _l("Not delivered")),
}
CHANNEL_BADGES = {
    "widget": ("Web", _l("Website chat")),
    "telegram": ("TG", "Telegram"),
    "whatsapp": ("WA", "WhatsApp"),
    "viber": ("Vb", "Viber"),
    "vk": ("VK", "VK"),
    "instagram": ("IG", "Instagram"),
    "email": ("@", _l("E-mail")),
}
KIND_LABELS = {
    "image": _l("Photo"),
    "file": _l("File"),
    "voice": _l("Voice message"),
    "video": _l("Video"),
    "sticker": _l("Sticker"),
    "location": _l("Location"),
    "contact": _l("Contact"),
    "service": _l("Service"),
}
SNOOZE_PRESETS = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "1w": timedelta(weeks=1)}
SNOOZE_LIMIT = timedelta(days=366)
# raster images are shown inline; anything else (SVG, HTML, PDF...) is downloaded
HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
# room for the form fields and multipart headers around the composer's files
MULTIPART_OVERHEAD = 64 * 1024
# a common emoji set for the composer's picker (no library: one grid, inserted as text)
EMOJI = (
    "😊 🙂 😉 😍 🥰 😘 😁 😂 🤗 🤔 😌 😔 😢 😮 🙏 👍 👌 👏 🙌 💪 👋 ❤️ 💖 💅 💇‍♀️ 💄 ✨ 🌸 🌷 🌹 💐 🎉 🎁 "
    "☕ 🍰 ☀️ ⭐ 🔥 ✅ ❗ ⏰ 📅 📍 📞 💳 🎀"
).split()


@bp.record_once
def labels(state):
    """The inbox's constant labels as Jinja globals (not a context processor), so templates can
    import inbox/_macros.html without context: Jinja then builds that module once, not per row."""
    state.app.jinja_env.globals.update(
        {
            "state_tabs": STATE_TABS,
            "scope_labels": SCOPE_LABELS,
            "conversation_states": CONVERSATION_STATES,
            "category_labels": CATEGORY_LABELS,
            "category_filters": CATEGORY_FILTERS,
            "visit_labels": VISIT_LABELS,
            "delivery": DELIVERY,
            "channel_badges": CHANNEL_BADGES,
            "kind_labels": KIND_LABELS,
            "emoji": EMOJI,
            "upload_accept": accept_attribute,
            "upload_limit": lambda: format_size(max_upload_bytes()),
        }
    )


@bp.app_template_global("quotes_ok")
def quotes_ok(channel_id: int) -> bool:
    """Whether replies through this channel can quote a message (its adapter says so)."""
    cache = g.setdefault("quotes_ok", {})
    if channel_id not in cache:
        channel = db.session.get(Channel, channel_id)
        try:
            cache[channel_id] = bool(channel and get_adapter(channel.kind).supports_reply_to)
        except PermanentError:  # a kind without an adapter yet
            cache[channel_id] = False
    return cache[channel_id]


@bp.app_template_global("conversation_name")
def conversation_name(conversation) -> str:
    """What the inbox calls a conversation: its client's name, else the contact's (a function, not
    a macro: every list row asks for it)."""
    client = conversation.contact.client
    return client.name if client else (conversation.contact.display_name or _("No name"))


@bp.app_template_filter("initials")
def initials(name: str | None) -> str:
    """Up to two letters for an avatar: "Мария Иванова" -> "МИ"."""
    if isinstance(name, Markup):  # a name a macro rendered is escaped already
        name = name.unescape()
    letters = [next((ch for ch in word if ch.isalnum()), "") for word in (name or "").split()]
    return "".join(ch for ch in letters if ch)[:2].upper() or "?"


@bp.app_template_filter("from_iso")
def from_iso(value: str | None) -> datetime | None:
    """A timestamp kept as ISO text in event data, back to an aware datetime."""
    try:
        when = datetime.fromisoformat(value or "")
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@bp.app_template_filter("hex_color")
def hex_color(value: str | None) -> str:
    return value if value and HEX_COLOR.fullmatch(value) else "#6b7280"


@bp.app_template_filter("web_url")
def web_url(value: str | None) -> str | None:
    return value if value and value.startswith(("https://", "http://")) else None


# --- the screen -------------------------------------------------------------------


@bp.get("/")
@may_chat
def index():
    f = inbox.ListFilter.from_args(request.args)
    return render_template("inbox/page.html", f=f, screen=inbox.load_screen(f, current_user))


@bp.get("/c/<int:conversation_id>")
@may_chat
def conversation(conversation_id: int):
    """The page with the dialog open; from a list row (htmx) the dialog and the card only."""
    if wants_fragment():
        f = _shown_filter()
        dialog = inbox.load_dialog(conversation_id)
        response = make_response(render_template("inbox/_open.html", dialog=dialog))
        response.headers["HX-Push-Url"] = url_for(
            ".conversation", conversation_id=conversation_id, **f.args()
        )
        return response
    f = inbox.ListFilter.from_args(request.args)
    screen = inbox.load_screen(f, current_user, conversation_id)
    return render_template("inbox/page.html", f=f, screen=screen)


@bp.get("/list")
@may_chat
def list_fragment():
    """The list for the filters in the query; with `after=` the next page's rows only."""
    f = inbox.ListFilter.from_args(request.args)
    if not wants_fragment():
        return redirect(url_for(".index", **f.args()), 303)
    rows, next_cursor = inbox.list_conversations(f, current_user)
    selected_id = _shown_conversation_id()
    context = {"f": f, "rows": rows, "next_cursor": next_cursor, "selected_id": selected_id}
    if f.cursor:
        return render_template("inbox/_rows.html", **context)
    response = make_response(render_template("inbox/_list.html", **context))
    if request.headers.get("X-Okno-Live"):  # a live refresh of the list shown: the URL stays
        return response
    if selected_id:
        response.headers["HX-Push-Url"] = url_for(".conversation", conversation_id=selected_id, **f.args())
    else:
        response.headers["HX-Push-Url"] = url_for(".index", **f.args())
    return response


@bp.get("/c/<int:conversation_id>/dialog")
@may_chat
def dialog(conversation_id: int):
    """The dialog pane; with `before=<message id>` the earlier messages above it."""
    if not wants_fragment():
        return redirect(url_for(".conversation", conversation_id=conversation_id), 303)
    before = _int(request.args.get("before"))
    if before:
        messages, more, anchor_at = inbox.load_earlier_messages(conversation_id, before)
        return render_template(
            "inbox/_earlier.html",
            conversation_id=conversation_id,
            messages=messages,
            more=more,
            before=before,
            anchor_at=anchor_at,
        )
    return render_template("inbox/_dialog.html", dialog=inbox.load_dialog(conversation_id))


@bp.get("/c/<int:conversation_id>/card")
@may_chat
def card(conversation_id: int):
    """The client pane; `history=<n>` shows more of the earlier sessions."""
    if not wants_fragment():
        return redirect(url_for(".conversation", conversation_id=conversation_id), 303)
    history = min(_int(request.args.get("history")) or 5, 200)
    dialog = inbox.load_dialog(conversation_id, history_limit=history, with_messages=False)
    return render_template("inbox/_card.html", dialog=dialog)


@bp.get("/c/<int:conversation_id>/row")
@may_chat
def row(conversation_id: int):
    """The conversation's list row for the list the browser shows (for realtime updates).

    Out of band only: the row in place, at the top when not shown yet, or its removal
    when the shown list's filters exclude it now.
    """
    if not wants_fragment():
        return redirect(url_for(".conversation", conversation_id=conversation_id), 303)
    f = _shown_filter()
    return render_template(
        "inbox/_row_update.html",
        f=f,
        row=inbox.list_row(f, current_user, conversation_id),
        conversation_id=conversation_id,
        selected_id=_shown_conversation_id(),
    )


@bp.get("/c/<int:conversation_id>/tail")
@may_chat
def tail(conversation_id: int):
    """What changed in the open dialog (realtime), all out of band for app.js to place.

    `after`: the last message the browser shows (newer ones are appended); `changed`: shown
    message ids to re-render (delivery ticks); `since`: re-render every shown one from this id
    (after a reconnect); `card=1` adds the client card. The header and composer always come.
    """
    if not wants_fragment():
        return redirect(url_for(".conversation", conversation_id=conversation_id), 303)
    changed = [n for n in map(_int, request.args.get("changed", "").split(",")) if n]
    tail = inbox.load_tail(
        conversation_id,
        _int(request.args.get("after")),
        changed,
        _int(request.args.get("since")),
        with_card=bool(request.args.get("card")),
    )
    return render_template("inbox/_tail.html", tail=tail, dialog=tail.dialog)


@bp.get("/c/<int:conversation_id>/clients")
@may_chat
def client_search(conversation_id: int):
    """Clients by name or phone, each with an Attach button (for an unknown writer)."""
    inbox.conversation_link(conversation_id)  # 404 for an unknown conversation
    q = request.args.get("q", "")
    return render_template(
        "inbox/_client_search.html",
        conversation_id=conversation_id,
        q=q.strip(),
        found=inbox.search_clients(q),
    )


@bp.get("/attachments/<int:attachment_id>")
@may_chat
def attachment(attachment_id: int):
    """A message's file, to staff only; anything but a raster image is a download."""
    return send_attachment(inbox.get_attachment(attachment_id))


# --- actions: each answers with the regions it changed ------------------------------


@bp.post("/c/<int:conversation_id>/assign")
@may_chat
def assign(conversation_id: int):
    conversations.assign_conversation(conversation_id, _int(request.form.get("assignee")), current_user)
    return _answer(conversation_id)


@bp.post("/c/<int:conversation_id>/close")
@may_chat
def close(conversation_id: int):
    conversations.close_conversation(conversation_id, current_user)
    return _answer(conversation_id)


@bp.post("/c/<int:conversation_id>/reopen")
@may_chat
def reopen(conversation_id: int):
    conversations.reopen_conversation(conversation_id, current_user)
    return _answer(conversation_id)


@bp.post("/c/<int:conversation_id>/snooze")
@may_chat
def snooze(conversation_id: int):
    conversations.snooze_conversation(conversation_id, _snooze_until(request.form), current_user)
    return _answer(conversation_id)


@bp.post("/c/<int:conversation_id>/spam")
@may_chat
def spam(conversation_id: int):
    conversations.set_spam(conversation_id, request.form.get("spam") == "1", current_user)
    return _answer(conversation_id)


@bp.post("/c/<int:conversation_id>/note")
@may_chat
def note(conversation_id: int):
    conversations.add_note(conversation_id, current_user, request.form.get("text", ""))
    return _composer_answer(conversation_id)


@bp.post("/c/<int:conversation_id>/reply")
@may_chat
def reply(conversation_id: int):
    """The composer: text, files (multipart `files`), a quoted message (`reply_to_id`)."""
    request.max_content_length = max_upload_bytes() * messaging.MAX_REPLY_FILES + MULTIPART_OVERHEAD
    if request.form.get("note"):  # the private-note toggle without JavaScript: never to the client
        return note(conversation_id)
    messaging.send_reply(
        conversation_id,
        current_user,
        request.form.get("text", ""),
        reply_to_id=_int(request.form.get("reply_to_id")),
        files=request.files.getlist("files"),
    )
    return _composer_answer(conversation_id)


@bp.post("/c/<int:conversation_id>/messages/<int:message_id>/retry")
@may_chat
def retry(conversation_id: int, message_id: int):
    """A failed message's Retry button: queued again, its ticks updated in place."""
    inbox.load_message(conversation_id, message_id)  # 404 for a message of another conversation
    messaging.retry_message(message_id, current_user)
    if not wants_fragment():
        return redirect(url_for(".conversation", conversation_id=conversation_id), 303)
    return render_template("inbox/_retried.html", msg=inbox.load_message(conversation_id, message_id))


@bp.post("/c/<int:conversation_id>/comment")
@may_chat
def comment(conversation_id: int):
    on_session = request.form.get("session") == "1"
    conversations.add_comment(conversation_id, current_user, request.form.get("text", ""), on_session)
    return _answer(conversation_id)


@bp.post("/c/<int:conversation_id>/tag")
@may_chat
def tag(conversation_id: int):
    tag_id = _int(request.form.get("tag_id"))
    if tag_id is None:
        raise ActionError(_("Choose a tag."))
    conversations.set_tag(
        conversation_id,
        tag_id,
        on=request.form.get("on") != "0",
        actor=current_user,
        on_session=request.form.get("session") == "1",
    )
    return _answer(conversation_id)


@bp.post("/c/<int:conversation_id>/category")
@may_chat
def category(conversation_id: int):
    client_id = _linked_client(conversation_id)
    clients.set_client_category(client_id, request.form.get("category", ""), current_user, conversation_id)
    return _answer(conversation_id)


@bp.post("/c/<int:conversation_id>/visits/<int:visit_id>/status")
@may_chat
def visit_status(conversation_id: int, visit_id: int):
    _linked_client(conversation_id)
    clients.set_visit_status(visit_id, request.form.get("status", ""), current_user, conversation_id)
    return _answer(conversation_id)


@bp.post("/c/<int:conversation_id>/client")
@may_chat
def client_details(conversation_id: int):
    """The card's notes and custom fields (inputs named field-<id>)."""
    client_id = _linked_client(conversation_id)
    fields = {}
    for key, value in request.form.items():
        field_id = _int(key.removeprefix("field-")) if key.startswith("field-") else None
        if field_id is not None:
            fields[field_id] = value
    clients.update_client_details(
        client_id,
        current_user,
        notes=request.form.get("notes"),
        fields=fields,
        conversation_id=conversation_id,
    )
    return _answer(conversation_id)


@bp.post("/c/<int:conversation_id>/client/create")
@may_chat
def create_client(conversation_id: int):
    contact_id, _client_id = inbox.conversation_link(conversation_id)
    clients.create_client_from_contact(contact_id, current_user, conversation_id)
    return _answer(conversation_id)


@bp.post("/c/<int:conversation_id>/client/attach")
@may_chat
def attach_client(conversation_id: int):
    contact_id, _client_id = inbox.conversation_link(conversation_id)
    client_id = _int(request.form.get("client_id"))
    if client_id is None:
        raise ActionError(_("Choose a client to attach."))
    clients.attach_contact(contact_id, client_id, current_user, conversation_id)
    return _answer(conversation_id)


@bp.post("/c/<int:conversation_id>/client/unlink")
@may_chat
def unlink_client(conversation_id: int):
    contact_id, _client_id = inbox.conversation_link(conversation_id)
    clients.unlink_contact(contact_id, current_user, conversation_id)
    return _answer(conversation_id)


# --- helpers ----------------------------------------------------------------------


def _answer(conversation_id: int):
    """After an action: the dialog, and out of band the card, the list row and the header badge."""
    if not wants_fragment():
        return redirect(url_for(".conversation", conversation_id=conversation_id), 303)
    f = _shown_filter()
    dialog = inbox.load_dialog(conversation_id)
    row = inbox.list_row(f, current_user, conversation_id)
    return render_template("inbox/_updated.html", f=f, dialog=dialog, row=row, selected_id=conversation_id)


def _composer_answer(conversation_id: int):
    """After a reply or a note: the messages after the one the browser showed last (`after`),
    the header (the assignee may have changed), and out of band the list row and the header badge."""
    if not wants_fragment():
        return redirect(url_for(".conversation", conversation_id=conversation_id), 303)
    f = _shown_filter()
    tail = inbox.load_tail(conversation_id, _int(request.form.get("after")))
    row = inbox.list_row(f, current_user, conversation_id)
    return render_template(
        "inbox/_tail.html",
        tail=tail,
        dialog=tail.dialog,
        f=f,
        row=row,
        sent=True,
        selected_id=conversation_id,
    )


def _int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**62 else None


def _linked_client(conversation_id: int) -> int:
    _contact_id, client_id = inbox.conversation_link(conversation_id)
    if client_id is None:
        raise ActionError(_("Create a client or attach an existing one first."))
    return client_id


def _snooze_until(form) -> datetime:
    """A preset (1h, 1d, 1w) from now, or a datetime-local value read in the salon's time zone."""
    preset = SNOOZE_PRESETS.get(form.get("preset", ""))
    if preset:
        return utcnow() + preset
    try:
        local = datetime.fromisoformat(form.get("until", ""))
        until = (local if local.tzinfo else local.replace(tzinfo=ZoneInfo(get_salon().timezone))).astimezone(
            UTC
        )
    except (ValueError, OverflowError):
        raise ActionError(_("Choose a date and time.")) from None
    if until - utcnow() > SNOOZE_LIMIT:
        raise ActionError(_("Choose a time within a year."))
    return until


def _shown_url():
    """The URL the browser shows (htmx sends it): where the list's filters and the open dialog live."""
    return urlsplit(request.headers.get("HX-Current-URL", ""))


def _shown_filter() -> inbox.ListFilter:
    return inbox.ListFilter.from_args(MultiDict(parse_qsl(_shown_url().query)))


def _shown_conversation_id() -> int | None:
    path = _shown_url().path
    root = request.script_root
    if root and path.startswith(root):
        path = path[len(root) :]
    try:
        endpoint, values = current_app.url_map.bind("localhost").match(path, method="GET")
    except (HTTPException, RoutingException):
        return None
    return values.get("conversation_id") if endpoint == "inbox.conversation" else None
