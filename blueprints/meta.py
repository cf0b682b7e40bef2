"""WhatsApp and Instagram in the dialog: the 24-hour reply window and WhatsApp template messages.

`reply_window_of(conversation)` is available to every template, so the window partials
(templates/channels/_reply_window.html, _wa_templates.html) need only the conversation.
"""

from flask import Blueprint, request
from flask_login import current_user

from blueprints.access import may_chat
from blueprints.inbox import _answer as answer_with_dialog
from services import messaging, windows

bp = Blueprint("meta", __name__)


@bp.app_template_global()
def reply_window_of(conversation) -> windows.ReplyWindow:
    return windows.window_of(conversation)


@bp.post("/c/<int:conversation_id>/wa-template")
@may_chat
def wa_template(conversation_id: int):
    """Send an approved WhatsApp template (name, language, one `params` field per parameter)."""
    messaging.send_template(
        conversation_id,
        current_user,
        request.form.get("name", ""),
        request.form.get("language", ""),
        request.form.getlist("params"),
    )
    return answer_with_dialog(conversation_id)
