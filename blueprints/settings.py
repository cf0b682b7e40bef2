"""Owner settings: chat access, salon, client fields, tags, staff.

Plain forms: a saved form redirects back to its page with a note (so reload never posts
twice); a refused one re-renders the page with 422, the typed values and the message next
to the field.
"""

from dataclasses import dataclass

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.access import owner_required
from models import FIELD_KINDS, ROLES
from services import settings
from services.errors import ActionError
from services.widget import WidgetSettings

bp = Blueprint("settings", __name__)

SECTIONS = {
    # section: what its page shows besides the form
    "index": lambda: {"overview": settings.overview()},
    "chat": lambda: {"chat_roles": settings.chat_roles(), "accounts": settings.staff_accounts()},
    "salon": lambda: {"timezones": settings.timezone_choices()},
    "fields": lambda: {"rows": settings.custom_fields()},
    "tags": lambda: {"rows": settings.tag_rows()},
    "staff": lambda: {"accounts": settings.staff_accounts()},
    "widget": lambda: {"widgets": settings.widget_channels(), "widget_settings": WidgetSettings.of},
}


@dataclass
class Refusal:
    """Which form was refused, on which input, why, and what the user had typed."""

    form: str
    field: str
    message: str
    values: dict


def _page(section: str, refusal: Refusal | None = None):
    context = SECTIONS[section]()
    status = 200 if refusal is None else 422
    return (
        render_template(
            f"settings/{section}.html",
            section=section,
            refusal=refusal,
            roles=ROLES,
            field_kinds=FIELD_KINDS,
            role_label=lambda role: settings.ROLE_LABELS.get(role, role),
            kind_label=lambda kind: settings.KIND_LABELS.get(kind, kind),
            **context,
        ),
        status,
    )


def _refused(section: str, form: str, exc: ActionError):
    refusal = Refusal(form, getattr(exc, "field", "") or "form", str(exc), request.form.to_dict())
    return _page(section, refusal)


def _saved(section: str, message: str):
    flash(message, "success")
    return redirect(url_for(f"settings.{section}"), 303)


def _on(name: str) -> bool:
    return request.form.get(name) == "1"


@bp.get("/")
@owner_required
def index():
    return _page("index")


@bp.route("/chat", methods=["GET", "POST"])
@owner_required
def chat():
    if request.method == "GET":
        return _page("chat")
    try:
        settings.set_chat_roles(request.form.getlist("roles"))
    except ActionError as exc:
        return _refused("chat", "chat", exc)
    return _saved("chat", _("Chat access saved."))


@bp.route("/salon", methods=["GET", "POST"])
@owner_required
def salon():
    if request.method == "GET":
        return _page("salon")
    try:
        settings.save_salon(request.form.get("name", ""), request.form.get("timezone", ""))
    except ActionError as exc:
        return _refused("salon", "salon", exc)
    return _saved("salon", _("Salon settings saved."))


@bp.route("/fields", methods=["GET", "POST"])
@owner_required
def fields():
    if request.method == "GET":
        return _page("fields")
    form = request.form
    try:
        field = settings.add_custom_field(form.get("name", ""), form.get("kind", ""), form.get("options", ""))
    except ActionError as exc:
        return _refused("fields", "add", exc)
    return _saved("fields", _("Field “%(name)s” added.", name=field.name))


@bp.post("/fields/<int:field_id>")
@owner_required
def update_field(field_id: int):
    form = request.form
    try:
        settings.update_custom_field(field_id, form.get("name", ""), form.get("options"))
    except ActionError as exc:
        return _refused("fields", f"field-{field_id}", exc)
    return _saved("fields", _("Field saved."))


@bp.post("/fields/<int:field_id>/active")
@owner_required
def field_active(field_id: int):
    active = _on("active")
    settings.set_custom_field_active(field_id, active)
    return _saved(
        "fields",
        _("Field shown on client cards again.") if active else _("Field hidden; its values are kept."),
    )


@bp.route("/tags", methods=["GET", "POST"])
@owner_required
def tags():
    if request.method == "GET":
        return _page("tags")
    try:
        tag = settings.add_tag(request.form.get("name", ""), request.form.get("color", ""))
    except ActionError as exc:
        return _refused("tags", "add", exc)
    return _saved("tags", _("Tag “%(name)s” added.", name=tag.name))


@bp.post("/tags/<int:tag_id>")
@owner_required
def update_tag(tag_id: int):
    try:
        settings.update_tag(tag_id, request.form.get("name", ""), request.form.get("color", ""))
    except ActionError as exc:
        return _refused("tags", f"tag-{tag_id}", exc)
    return _saved("tags", _("Tag saved."))


@bp.post("/tags/<int:tag_id>/delete")
@owner_required
def delete_tag(tag_id: int):
    try:
        settings.delete_tag(tag_id)
    except ActionError as exc:
        return _refused("tags", f"tag-{tag_id}", exc)
    return _saved("tags", _("Tag removed."))


@bp.route("/staff", methods=["GET", "POST"])
@owner_required
def staff():
    if request.method == "GET":
        return _page("staff")
    form = request.form
    try:
        user = settings.add_staff(
            form.get("name", ""), form.get("email", ""), form.get("role", ""), form.get("password", "")
        )
    except ActionError as exc:
        return _refused("staff", "add", exc)
    return _saved("staff", _("Account for %(name)s created.", name=user.name))


@bp.post("/staff/<int:user_id>/role")
@owner_required
def staff_role(user_id: int):
    try:
        settings.set_staff_role(user_id, request.form.get("role", ""), current_user)
    except ActionError as exc:
        return _refused("staff", f"staff-{user_id}", exc)
    return _saved("staff", _("Role changed."))


@bp.post("/staff/<int:user_id>/active")
@owner_required
def staff_active(user_id: int):
    active = _on("active")
    try:
        settings.set_staff_active(user_id, active, current_user)
    except ActionError as exc:
        return _refused("staff", f"staff-{user_id}", exc)
    return _saved(
        "staff", _("Account reactivated.") if active else _("Account deactivated: it can't log in.")
    )


@bp.route("/widget", methods=["GET", "POST"])
@owner_required
def widget():
    if request.method == "GET":
        return _page("widget")
    try:
        channel = settings.add_widget_channel(request.form.get("name", ""))
    except ActionError as exc:
        return _refused("widget", "add", exc)
    return _saved("widget", _("Widget “%(name)s” added: paste its code into your site.", name=channel.name))


@bp.post("/widget/<int:channel_id>")
@owner_required
def update_widget(channel_id: int):
    form = request.form
    try:
        settings.save_widget_settings(
            channel_id,
            name=form.get("name", ""),
            color=form.get("color", ""),
            greeting=form.get("greeting", ""),
            origins=form.get("origins", ""),
            ask_name=_on("ask_name"),
            ask_phone=_on("ask_phone"),
            contact_required=_on("contact_required"),
        )
    except ActionError as exc:
        return _refused("widget", f"widget-{channel_id}", exc)
    return _saved("widget", _("Widget settings saved."))
