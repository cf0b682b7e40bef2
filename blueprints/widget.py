"""The website widget's endpoints (JSON, cross-origin) and the demo page.

Everything under /widget/<uid>/ belongs to one widget channel. Browsers reach it from the
salon's own site, so CORS answers only the origins the owner listed (and Okno's own);
CSRF tokens can't work cross-origin, so these views are exempt and the signed visitor
token authorises instead: in the Authorization header (Bearer), or in `?token=` where
the browser can't send headers (EventSource, <img>). Errors are JSON {"error": reason}:
400 bad input, 403 bad token or origin, 404 unknown channel, 413/415 refused file, 429.
"""

import json
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest, Forbidden, HTTPException

from blueprints.files import INLINE_TYPES, send_attachment
from extensions import csrf, db
from models import Channel, Message
from services import realtime, widget
from services.attachments import UploadRefused, format_size, max_upload_bytes
from services.errors import ActionError

bp = Blueprint("widget", __name__, url_prefix="/widget")
csrf.exempt(bp)

SCRIPT = Path(__file__).resolve().parent.parent / "static" / "widget.js"
BOOT_MARK = "{/*OKNO_BOOT*/}"
# room for the multipart envelope and a caption around the file itself
MULTIPART_OVERHEAD = 64 * 1024
# a JSON or form post (a message, a name) is small; only the upload endpoint takes more
MAX_POST_BYTES = 64 * 1024


# ---- channel, origin, token --------------------------------------------------------------------


def _own_origins() -> set[str]:
    own = {
        widget.normalize_origin(request.host_url),
        widget.normalize_origin(current_app.config["PUBLIC_URL"]),
    }
    return {o for o in own if o}


@bp.before_request
def load_channel():
    """Every /widget/<uid>/... request: the channel exists (404) and the page's origin may use it (403)."""
    uid = (request.view_args or {}).get("uid")
    if uid is None:
        return None
    request.max_content_length = MAX_POST_BYTES
    g.widget_channel = widget.get_widget_channel(uid)
    g.widget_origin_ok = widget.origin_allowed(
        g.widget_channel, request.headers.get("Origin"), _own_origins()
    )
    if not g.widget_origin_ok:
        raise Forbidden(_("This site may not use this chat widget: add it to the widget's allowed sites."))
    return None


@bp.after_request
def cors(response):
    origin = request.headers.get("Origin")
    if g.get("widget_channel") is not None:
        response.vary.add("Origin")
        if origin and g.get("widget_origin_ok"):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response.headers["Access-Control-Max-Age"] = "600"
        if response.mimetype == "application/json":
            response.headers["Cache-Control"] = "no-store"
    return response


def _token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.args.get("token") or request.form.get("token")


def _visitor() -> widget.Visitor:
    return widget.visitor_from_token(g.widget_channel, _token())


def _body() -> dict:
    """The posted fields, from JSON or a form; 400 for a body that is neither."""
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise BadRequest(_("The request body must be a JSON object."))
        return data
    return request.form.to_dict()


def _text(data: dict, name: str) -> str:
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(_("“%(name)s” must be text.", name=name))
    return value


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(_("“%(name)s” must be a whole number.", name=name)) from None
    if value < 0:
        raise BadRequest(_("“%(name)s” must be a whole number.", name=name))
    return value


# ---- errors: JSON with the reason ------------------------------------------------------------


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    code = exc.code or 500
    if exc.description != type(exc).description:
        message = exc.description  # ours: already a reason for the visitor
    else:
        message = {
            400: _("The request could not be understood."),
            403: _("Access denied."),
            404: _("Not found: this chat or file doesn't exist."),
            405: _("This action isn't allowed here."),
            413: _("The file is too large: at most %(limit)s.", limit=format_size(max_upload_bytes()))
            if request.endpoint == "widget.post_attachment"
            else _("The request is too large."),
            429: _("Too many messages at once. Wait a minute and try again."),
        }.get(code, _("Something went wrong on our side. Try again in a moment."))
    return jsonify(error=message), code


@bp.errorhandler(ActionError)
def action_error(exc: ActionError):
    db.session.rollback()
    status = exc.status if isinstance(exc, UploadRefused) else 400
    return jsonify(error=str(exc)), status


@bp.errorhandler(Exception)
def server_error(exc: Exception):
    current_app.logger.exception("widget: unhandled error")
    db.session.rollback()
    return jsonify(error=_("Something went wrong on our side. Try again in a moment.")), 500


# ---- what a message looks like to the widget -------------------------------------------------


def _message_json(message: Message, token: str) -> dict:
    return {
        "id": message.id,
        "direction": message.direction,
        "kind": message.kind,
        "text": message.text,
        "created_at": message.created_at.isoformat(),
        "author": message.author.first_name if message.direction == "out" and message.author else "",
        "client_id": widget.client_id_of(message),
        "state": "sent" if message.direction == "in" else message.delivery_status,
        "attachments": [
            {
                "id": a.id,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "is_image": a.content_type in INLINE_TYPES,
                "url": url_for(
                    "widget.attachment",
                    uid=g.widget_channel.uid,
                    attachment_id=a.id,
                    token=token,
                    _external=True,
                ),
            }
            for a in message.attachments
            if a.storage_path
        ],
    }


# ---- endpoints -----------------------------------------------------------------------------


@bp.get("/<uid>/widget.js")
def script(uid: str):
    """The widget's script, told where its endpoints are; what the salon's <script> tag loads."""
    boot = {"uid": uid, "api": url_for("widget.config", uid=uid, _external=True).rsplit("/", 1)[0] + "/"}
    # "</" never closes anything in a script file, but the boot data stays inert even inline
    source = SCRIPT.read_text(encoding="utf-8").replace(BOOT_MARK, json.dumps(boot).replace("</", "<\\/"), 1)
    response = Response(source, mimetype="application/javascript")
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/<uid>/config")
def config(uid: str):
    """Colour, greeting, what to ask, and the texts, in the host page's language (?lang=) when given."""
    lang = (request.args.get("lang") or "").split("-")[0].lower()
    if lang in current_app.config["LANGUAGES"]:
        with force_locale(lang):
            return jsonify(widget.widget_config(g.widget_channel))
    return jsonify(widget.widget_config(g.widget_channel))


@bp.post("/<uid>/session")
def session(uid: str):
    """A new visitor: name and phone (both optional unless the owner requires them) -> their token."""
    data = _body()
    widget.check_session_rate(request.remote_addr or "unknown")
    contact = widget.start_session(g.widget_channel, _text(data, "name"), _text(data, "phone"))
    return jsonify(
        token=widget.issue_token(contact),
        visitor={"name": contact.display_name, "phone": contact.phone or ""},
    ), 201


@bp.get("/<uid>/messages")
def messages(uid: str):
    """The visitor's own conversation (?after=<id> for what is newer); a fresh token when it is due."""
    visitor = _visitor()
    token = visitor.fresh_token or _token()
    found = widget.visitor_messages(visitor.contact, after=_int_arg("after"))
    body = {"messages": [_message_json(m, token) for m in found]}
    if visitor.fresh_token:
        body["token"] = visitor.fresh_token
    return jsonify(body)


@bp.post("/<uid>/messages")
def post_message(uid: str):
    """A visitor's text. `client_id` (the widget's own id) makes a retried post land once."""
    visitor = _visitor()
    data = _body()
    widget.check_post_rate(visitor.contact.id)
    message = widget.post_visitor_message(visitor.contact, _text(data, "text"), _text(data, "client_id"))
    return jsonify(message=_message_json(message, _token())), 201


@bp.post("/<uid>/attachments")
def post_attachment(uid: str):
    """One photo or file (multipart field `file`), with an optional caption `text` and `client_id`."""
    request.max_content_length = max_upload_bytes() + MULTIPART_OVERHEAD
    visitor = _visitor()
    widget.check_post_rate(visitor.contact.id)
    file = request.files.get("file")
    message = widget.post_visitor_file(
        visitor.contact, file, request.form.get("client_id"), request.form.get("text", "")
    )
    return jsonify(message=_message_json(message, _token())), 201


@bp.get("/<uid>/attachments/<int:attachment_id>")
def attachment(uid: str, attachment_id: int):
    """A file of the visitor's own conversation; anything but a raster image is a download."""
    return send_attachment(widget.visitor_attachment(_visitor().contact, attachment_id))


@bp.post("/<uid>/read")
def read(uid: str):
    """The open widget showed staff replies up to `up_to`: staff see them as read."""
    visitor = _visitor()
    data = _body()
    up_to = data.get("up_to")
    if isinstance(up_to, str) and up_to.isdigit():
        up_to = int(up_to)
    if not isinstance(up_to, int) or isinstance(up_to, bool) or up_to < 0:
        raise BadRequest(_("“%(name)s” must be a whole number.", name="up_to"))
    return jsonify(read=widget.mark_read_by_visitor(visitor.contact, up_to))


@bp.get("/<uid>/stream")
def stream(uid: str):
    """The visitor's live events (staff replies, typing): their own channel only, `resync` first."""
    return realtime.sse_response(widget.open_visitor_stream(_visitor().contact))


@bp.get("/demo")
def demo():
    """A plain salon website with the widget embedded, to play the client against the inbox."""
    lang = request.args.get("lang")
    channel: Channel | None = widget.demo_channel()
    if lang in current_app.config["LANGUAGES"]:
        with force_locale(lang):
            return render_template("widget/demo.html", channel=channel, lang=lang)
    return render_template("widget/demo.html", channel=channel, lang=None)
