"""GET /clients/<id>/telegram-link: a client's Telegram deep link, for the client card."""

from flask import Blueprint, render_template

from blueprints.access import may_chat
from services import deeplinks
from web import wants_fragment

bp = Blueprint("deeplinks", __name__)


@bp.get("/clients/<int:client_id>/telegram-link")
@may_chat
def telegram_link(client_id: int):
    """The link with a copy button (a fragment for htmx, a small page otherwise); 404 for no such client."""
    link = deeplinks.telegram_link(client_id)
    template = "channels/_deeplink.html" if wants_fragment() else "channels/deeplink.html"
    return render_template(template, link=link)
