"""GET /media/<token>: one stored attachment, for a platform that fetches media by URL (Viber).

The token is the attachment id signed with SECRET_KEY (salt "okno-media") and it expires,
so the link reaches exactly the file it was made for and nothing else: no listing, no
guessing, no staff login. Adapters make the links with `media_url` while sending.
"""

from flask import Blueprint, abort, current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from blueprints.files import send_attachment
from services import inbox

bp = Blueprint("media", __name__)

SALT = "okno-media"
# long enough for a delivery retried with backoff (the outbox gives up after about an hour)
MAX_AGE = 3 * 24 * 3600


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def media_url(attachment_id: int) -> str:
    """A public, signed, expiring link to one attachment, under PUBLIC_URL (no request needed)."""
    token = _serializer().dumps(attachment_id)
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/media/{token}"


@bp.get("/media/<token>")
def media(token: str):
    try:
        attachment_id = _serializer().loads(
            token, max_age=current_app.config.get("MEDIA_LINK_MAX_AGE", MAX_AGE)
        )
    except BadSignature:  # also SignatureExpired
        abort(404)
    if not isinstance(attachment_id, int):
        abort(404)
    return send_attachment(inbox.get_attachment(attachment_id), private=False, max_age=3600)
