"""The three panes: conversation list, dialog, client card."""

from flask import Blueprint, render_template, request
from flask_login import current_user

from blueprints.access import may_chat
from services import inbox

bp = Blueprint("inbox", __name__)


@bp.get("/")
@may_chat
def index():
    f = inbox.ListFilter.from_args(request.args)
    rows, next_cursor = inbox.list_conversations(f, current_user)
    return render_template("inbox/page.html", f=f, rows=rows, next_cursor=next_cursor, conversation=None)
