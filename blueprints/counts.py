"""GET /counts: the header's unanswered counts, cheap enough to ask after every `counts` event."""

from flask import Blueprint, jsonify, render_template
from flask_login import current_user

from blueprints.access import may_chat
from services import inbox
from web import wants_fragment

bp = Blueprint("counts", __name__)


@bp.get("/counts")
@may_chat
def counts():
    """JSON {unanswered, mine, unassigned}; for htmx the header badge fragment."""
    if wants_fragment():
        # the badge template asks for the counts itself (web.py's header_counts helper)
        return render_template("inbox/_header_badge.html")
    return jsonify(inbox.header_counts(current_user))
