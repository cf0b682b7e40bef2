"""Quick replies: the management page (owners and administrators) and the composer's picker.

The page is plain forms, as on the settings pages: a saved form redirects back with a note
(reload never posts twice); a refused one re-renders with 422, what was typed and the message
next to the field. The picker answers the composer: an HTML list, and JSON for one filled text.
"""

from dataclasses import dataclass
from functools import wraps

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from blueprints.access import may_chat
from services import templates
from services.errors import ActionError
from web import wants_fragment

bp = Blueprint("quick_replies", __name__)

MANAGERS = ("owner", "admin")


def may_manage_templates(view):
    """Logged in as an owner or administrator whose role may use the chat."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_user.role not in MANAGERS or not current_user.may_chat:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


@bp.app_context_processor
def quick_reply_helpers():
    return {"may_manage_templates": _may_manage}


def _may_manage() -> bool:
    return bool(current_user.is_authenticated and current_user.role in MANAGERS and current_user.may_chat)


@dataclass
class Refusal:
    """Which form was refused, on which input, why, and what the user had typed."""

    form: str
    field: str
    message: str
    values: dict


def _refusal(form: str, exc: ActionError) -> Refusal:
    return Refusal(form, getattr(exc, "field", "") or "form", str(exc), request.form.to_dict())


def _list_page(q: str, refusal: Refusal | None = None, status: int = 200):
    context = {
        "q": q,
        "rows": templates.search_templates(q),
        "refusal": refusal,
        "variables": templates.VARIABLES,
        "segments": templates.segments,
    }
    if wants_fragment() and refusal is None:
        return render_template("quick_replies/_list.html", **context)
    return render_template("quick_replies/index.html", **context), status


@bp.route("/templates", methods=["GET", "POST"])
@may_manage_templates
def index():
    """The list (searchable with ?q=) and the form that adds a template."""
    if request.method == "GET":
        return _list_page(request.args.get("q", "").strip())
    form = request.form
    try:
        template = templates.add_template(form.get("title", ""), form.get("text", ""))
    except ActionError as exc:
        return _list_page("", _refusal("add", exc), 422)
    flash(_("Template “%(title)s” added.", title=template.title), "success")
    return redirect(url_for(".index"), 303)


@bp.route("/templates/<int:template_id>", methods=["GET", "POST"])
@may_manage_templates
def edit(template_id: int):
    """One template's edit form; saving goes back to the list."""
    if request.method == "GET":
        return _edit_page(templates.get_template(template_id))
    form = request.form
    try:
        templates.update_template(template_id, form.get("title", ""), form.get("text", ""))
    except ActionError as exc:
        return _edit_page(templates.get_template(template_id), _refusal("edit", exc), 422)
    flash(_("Template saved."), "success")
    return redirect(url_for(".index"), 303)


def _edit_page(template, refusal: Refusal | None = None, status: int = 200):
    return (
        render_template(
            "quick_replies/edit.html",
            template=template,
            refusal=refusal,
            variables=templates.VARIABLES,
        ),
        status,
    )


@bp.post("/templates/<int:template_id>/delete")
@may_manage_templates
def delete(template_id: int):
    title = templates.delete_template(template_id)
    flash(_("Template “%(title)s” deleted.", title=title), "success")
    return redirect(url_for(".index"), 303)


# ---- the composer's picker -------------------------------------------------------------------


@bp.get("/c/<int:conversation_id>/quick-replies")
@may_chat
def picker(conversation_id: int):
    """Templates matching ?q= (title or text), each with a button that fetches it filled."""
    q = request.args.get("q", "").strip()
    return render_template(
        "quick_replies/_picker.html",
        conversation_id=conversation_id,
        q=q,
        rows=templates.pick_templates(conversation_id, q),
    )


@bp.get("/c/<int:conversation_id>/quick-replies/<int:template_id>")
@may_chat
def fill(conversation_id: int, template_id: int):
    """{"text": ..., "missing": [...]}: the text for the composer, never sent from here."""
    filled = templates.fill_template(template_id, conversation_id, current_user)
    return jsonify(text=filled.text, missing=filled.missing)
