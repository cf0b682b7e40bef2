"""Messenger channels: the owner's settings (/settings/channels) and "write first" (/start-chat).

Settings are plain forms, as on the other settings pages: a saved form redirects back
with a note, a refused one comes back with 422, what was typed (never a stored secret)
and the message next to the field. Check and Sync now queue a job; the channel's status
fragment polls itself while the job runs.
"""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from blueprints.access import may_chat, owner_required
from blueprints.settings import Refusal
from services import channel_setup, start_chat
from services.errors import ActionError
from web import wants_fragment

bp = Blueprint("channels", __name__)

SETTINGS = "/settings/channels"


@bp.app_context_processor
def channel_labels():
    return {"channel_kind_label": channel_setup.kind_label}


def _widget_settings_url() -> str | None:
    """The widget has a settings page of its own (blueprints/settings.py), when it exists."""
    return url_for("settings.widget") if "settings.widget" in current_app.view_functions else None


def _form_page(kind: str, view=None, refusal: Refusal | None = None):
    return (
        render_template(
            "channels/settings_form.html",
            section="channels",
            kind=kind,
            view=view,
            fields=view.fields if view else channel_setup.form_fields(kind),
            telegram_modes=channel_setup.TELEGRAM_MODES,
            https=current_app.config["PUBLIC_URL"].startswith("https://"),
            refusal=refusal,
        ),
        200 if refusal is None else 422,
    )


def _refusal(form: str, exc: ActionError) -> Refusal:
    # only what was typed comes back: inputs of secrets stay empty whatever was sent
    return Refusal(form, getattr(exc, "field", "") or "form", str(exc), request.form.to_dict())


def _to_channel(channel_id: int, message: str):
    flash(message, "success")
    return redirect(url_for(".edit", channel_id=channel_id), 303)


@bp.get(SETTINGS)
@owner_required
def index():
    return render_template(
        "channels/settings_list.html",
        section="channels",
        views=channel_setup.channel_views(),
        kinds=channel_setup.MESSENGER_KINDS,
        widget_settings_url=_widget_settings_url(),
    )


@bp.route(f"{SETTINGS}/new/<kind>", methods=["GET", "POST"])
@owner_required
def new(kind: str):
    if kind not in channel_setup.MESSENGER_KINDS:
        abort(404)
    if request.method == "GET":
        return _form_page(kind)
    try:
        channel = channel_setup.add_channel(kind, request.form.get("name", ""), request.form)
    except ActionError as exc:
        return _form_page(kind, refusal=_refusal("channel", exc))
    return _to_channel(
        channel.id, _("Channel “%(name)s” added. It is being checked with the platform.", name=channel.name)
    )


@bp.route(f"{SETTINGS}/<int:channel_id>", methods=["GET", "POST"])
@owner_required
def edit(channel_id: int):
    if request.method == "GET":
        view = channel_setup.channel_view(channel_id)
        return _form_page(view.channel.kind, view)
    try:
        channel_setup.edit_channel(channel_id, request.form.get("name", ""), request.form)
    except ActionError as exc:
        view = channel_setup.channel_view(channel_id)
        return _form_page(view.channel.kind, view, _refusal("channel", exc))
    return _to_channel(channel_id, _("Channel saved. It is being checked with the platform."))


@bp.post(f"{SETTINGS}/<int:channel_id>/enabled")
@owner_required
def enabled(channel_id: int):
    on = request.form.get("enabled") == "1"
    channel_setup.set_channel_enabled(channel_id, on)
    if on:
        return _to_channel(channel_id, _("Channel turned on."))
    return _to_channel(channel_id, _("Channel turned off: nothing is sent through it until it is on."))


def _status(channel_id: int):
    return render_template("channels/_settings_status.html", view=channel_setup.channel_view(channel_id))


@bp.get(f"{SETTINGS}/<int:channel_id>/status")
@owner_required
def status(channel_id: int):
    """The channel's health and sync fragment (polled while a check or a sync runs)."""
    if not wants_fragment():
        return redirect(url_for(".edit", channel_id=channel_id), 303)
    return _status(channel_id)


@bp.post(f"{SETTINGS}/<int:channel_id>/check")
@owner_required
def check(channel_id: int):
    channel_setup.request_check(channel_id)
    if wants_fragment():
        return _status(channel_id)
    return _to_channel(channel_id, _("Checking the channel with the platform…"))


@bp.post(f"{SETTINGS}/<int:channel_id>/sync")
@owner_required
def sync(channel_id: int):
    channel_setup.request_sync(channel_id)
    if wants_fragment():
        return _status(channel_id)
    return _to_channel(channel_id, _("Syncing: fetching what the platform still holds…"))


# --- write first ----------------------------------------------------------------------------


@bp.get("/start-chat")
@may_chat
def start():
    """ "New message": find a client by name or phone, see where they can be written to."""
    q = request.args.get("q", "").strip()[:200]
    results = start_chat.find_clients(q) if q else []
    if wants_fragment():
        return render_template("channels/_start_chat_results.html", q=q, results=results)
    return render_template("channels/start_chat.html", q=q, results=results, client_entry=None)


@bp.get("/clients/<int:client_id>/start-chat")
@may_chat
def client_start(client_id: int):
    """The client card's "Start chat": that client's contacts, which can be written to and why not."""
    entry = start_chat.client_options(client_id)
    if wants_fragment():
        return render_template("channels/_start_chat_contacts.html", entry=entry)
    return render_template("channels/start_chat.html", q="", results=[], client_entry=entry)
