"""The staff event stream (SSE) and the typing signal."""

from flask import Blueprint
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.access import may_chat
from services import realtime

bp = Blueprint("stream", __name__)


@bp.before_request
def logged_in_only():
    """A stream or a typing ping from a logged-out tab gets 401, never a login page."""
    if not current_user.is_authenticated:
        return _("Please log in."), 401
    return None


@bp.get("/stream")
@may_chat
def stream():
    return realtime.sse_response(realtime.open_stream(current_user))


@bp.post("/c/<int:conversation_id>/typing")
@may_chat
def typing(conversation_id: int):
    realtime.announce_typing(conversation_id, current_user)
    return "", 204
