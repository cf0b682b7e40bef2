"""Telegram /start deep links: a signed token for one client, and linking the writer who opens it.

The client card offers `https://t.me/<bot username>?start=<token>`; Telegram opens the bot and
sends "/start <token>" as the client's first message. Telegram allows [A-Za-z0-9_-], at most
64 characters, in a start parameter, so the token is "<client id>-<issued at>-<signature>"
(base 36, base 36, itsdangerous HMAC in URL-safe base64): about 40 characters.
"""

import re
import time
from dataclasses import dataclass

from flask import current_app
from itsdangerous import Signer
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from extensions import db
from models import Channel, Client, Conversation
from services.db import begin_write
from services.events import record_event
from services.realtime import conversation_changed

SALT = "okno-start"
# a link sent to a client stays good this long (seconds)
MAX_AGE = 60 * 60 * 24 * 60
START_PARAMETER = re.compile(r"[0-9a-z]{1,13}-[0-9a-z]{1,13}-[A-Za-z0-9_-]{16,}")
MAX_LENGTH = 64


def _signer() -> Signer:
    return Signer(current_app.config["SECRET_KEY"], salt=SALT)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def make_token(client_id: int, now: float | None = None) -> str:
    """A start parameter that names this client and can't be forged or altered."""
    body = f"{_base36(client_id)}-{_base36(int(now if now is not None else time.time()))}"
    return f"{body}-{_signer().get_signature(body).decode()}"


def read_token(token: str, now: float | None = None) -> int | None:
    """The client id a token names; None when it is not ours, altered or expired."""
    if not token or len(token) > MAX_LENGTH or not START_PARAMETER.fullmatch(token):
        return None
    client36, issued36, signature = token.split("-", 2)
    body = f"{client36}-{issued36}"
    if not _signer().verify_signature(body.encode(), signature.encode()):
        return None
    now = now if now is not None else time.time()
    issued = int(issued36, 36)
    if issued > now + 300 or now - issued > MAX_AGE:
        return None
    return int(client36, 36)


@dataclass(frozen=True)
class TelegramLink:
    client: Client
    channel: Channel | None  # the bot the link opens; None when no Telegram bot is connected
    url: str = ""  # empty while the bot's username is unknown (the channel was never checked)


def telegram_link(client_id: int) -> TelegramLink:
    """The deep link for a client card: the first enabled Telegram bot whose username we know."""
    client = db.session.get(Client, client_id)
    if client is None:
        raise NotFound()
    bots = db.session.scalars(
        select(Channel).where(Channel.kind == "telegram", Channel.enabled.is_(True)).order_by(Channel.id)
    ).all()
    for channel in bots:
        username = str((channel.settings or {}).get("username") or "").lstrip("@")
        if username:
            return TelegramLink(client, channel, f"https://t.me/{username}?start={make_token(client.id)}")
    return TelegramLink(client, bots[0] if bots else None)


def link_from_start(conversation_id: int, token: str) -> bool:
    """The writer opened a client's deep link: link their contact to that client; True if linked.

    An invalid or expired token is ignored, and so is a contact staff already linked to
    someone else (a forwarded link must not undo their decision; they can unlink by hand).
    """
    client_id = read_token(token)
    if client_id is None:
        return False
    begin_write()
    conversation = db.session.get(Conversation, conversation_id)
    client = db.session.get(Client, client_id)
    if conversation is None or client is None or conversation.contact.client_id is not None:
        db.session.rollback()
        return False
    conversation.contact.client_id = client.id
    record_event(conversation, None, "linked_by_link", client=client.name)
    conversation_changed(conversation.id)
    db.session.commit()
    return True
