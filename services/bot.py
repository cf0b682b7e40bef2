"""The salon bot: greets, shows a client their upcoming visits, hands the dialog to an administrator.

It speaks only in conversations that are "With bot" (Conversation.with_bot): new Telegram and
Viber conversations start there when the channel's settings["bot"] is on (the default).
"/start" (or Viber's conversation_started) greets with the salon's name and two buttons;
"My visits" answers with the linked client's upcoming visits; anything else, or "Talk to an
administrator", moves the dialog to With admin. A staff reply takes the dialog from the bot
too (services.messaging.send_reply).

Its replies are outbound messages without an author (data {"bot": true, "buttons": [...]}),
delivered through the outbox like staff replies, in the channel's settings["language"] or
else the salon's default locale. "/start <token>" links the writer to a client card first
(services.deeplinks), whoever has the dialog.
"""

import logging
import re
from contextlib import contextmanager
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from channels.base import ConversationStarted, InboundMessage
from extensions import db
from models import Channel, Conversation, Message
from models.base import utcnow
from services import deeplinks, messaging
from services.conversations import get_conversation, open_session
from services.db import begin_write
from services.events import record_event
from services.inbox import upcoming_visits
from services.realtime import conversation_changed
from services.salon import get_salon

log = logging.getLogger(__name__)

BOT_KINDS = ("telegram", "viber")
MY_VISITS = _l("My visits")
TALK_TO_ADMIN = _l("Talk to an administrator")
# "/start", "/start@SalonBot", "/start <deep link token>"
START = re.compile(r"/start(?:@\w+)?(?:\s+(\S+))?\s*", re.ASCII)
VISITS_SHOWN = 5


def bot_on(channel: Channel) -> bool:
    """Whether the salon bot answers on this channel (Telegram and Viber, unless turned off)."""
    return channel.kind in BOT_KINDS and bool((channel.settings or {}).get("bot", True))


def starts_with_bot(channel: Channel) -> bool:
    """Whether a new conversation on this channel starts in the With bot list."""
    return bot_on(channel)


def takes_turn(conversation: Conversation, message: Message) -> bool:
    """Whether answer_client has anything to do with this client message (no query: the inbound
    path asks while it stores the message, so other channels pay nothing)."""
    return conversation.with_bot or (message.text or "").startswith("/start")


@contextmanager
def _bot_language(channel: Channel):
    languages = current_app.config["LANGUAGES"]
    chosen = (channel.settings or {}).get("language")
    language = chosen if chosen in languages else current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(language):
        yield language


def _buttons() -> list[str]:
    return [str(MY_VISITS), str(TALK_TO_ADMIN)]


def _greeting() -> str:
    return _(
        "Hello! This is %(salon)s. Choose below what you need, or just write your question.",
        salon=get_salon().name,
    )


def _is_button(text: str, label) -> bool:
    """The client pressed this button: its label in any of the inbox's languages."""
    wanted = text.strip().casefold()
    for language in current_app.config["LANGUAGES"]:
        with force_locale(language):
            if wanted == str(label).casefold():
                return True
    return False


def answer_client(message_id: int) -> None:
    """After a client message is stored: link a /start deep link, then let the bot answer if it has
    the dialog. A failure here is logged, never lost with the client's message, which is stored."""
    try:
        _answer(message_id)
    except Exception:
        db.session.rollback()
        log.exception("salon bot: no answer to message %s", message_id)


def _answer(message_id: int) -> None:
    message = db.session.get(Message, message_id)
    if message is None or message.direction != "in":
        return
    conversation_id = message.conversation_id
    text = (message.text or "").strip() if message.kind == "text" else ""
    start = START.fullmatch(text)
    if start and start.group(1):
        deeplinks.link_from_start(conversation_id, start.group(1))
    conversation = get_conversation(conversation_id)
    if not conversation.with_bot:
        db.session.rollback()
        return
    channel = conversation.channel
    if not bot_on(channel):  # turned off since: the dialog must not wait in With bot for nobody
        hand_off(conversation_id, reply=False)
        return
    with _bot_language(channel) as language:
        if start:
            reply = _greeting()
        elif text and _is_button(text, MY_VISITS):
            reply = visits_text(conversation.contact.client_id, language)
        else:
            reply = None
        buttons = _buttons()
    db.session.rollback()
    if reply is None:
        hand_off(conversation_id)
    else:
        messaging.send_bot_reply(conversation_id, reply, buttons)


def visits_text(client_id: int | None, language: str) -> str:
    """The linked client's next visits (salon time zone), or why the bot can't show them."""
    if client_id is None:
        return _(
            "This chat isn't linked to your client card yet, so I can't see your visits. "
            "Write your question and an administrator will answer."
        )
    visits = upcoming_visits(client_id, VISITS_SHOWN)
    if not visits:
        return _("You have no upcoming visits. Write here to book one and an administrator will answer.")
    zone = ZoneInfo(get_salon().timezone)
    lines = [_("Your upcoming visits:")]
    for visit in visits:
        when = format_datetime(visit.starts_at, "d MMMM, HH:mm", tzinfo=zone, locale=language)
        if visit.master:
            line = _(
                "%(when)s — %(service)s, master: %(master)s",
                when=when,
                service=visit.service,
                master=visit.master,
            )
        else:
            line = _("%(when)s — %(service)s", when=when, service=visit.service)
        lines.append("• " + line)
    return "\n".join(lines)


def hand_off(conversation_id: int, reply: bool = True) -> bool:
    """Move a conversation from the bot to With admin (an event staff see); True if it was the bot's.

    With `reply` the client is told that an administrator will answer (and the bot's
    keyboard is taken away).
    """
    begin_write()
    conversation = get_conversation(conversation_id)
    if not conversation.with_bot:
        db.session.rollback()
        return False
    conversation.with_bot = False
    record_event(conversation, None, "bot_handoff")
    conversation_changed(conversation.id, counts=True)
    channel = conversation.channel
    db.session.commit()
    if reply:
        with _bot_language(channel):
            text = _("Thank you! An administrator will answer you here soon.")
        messaging.send_bot_reply(conversation_id, text, context={"remove_keyboard": True})
    return True


def conversation_started(channel_id: int, event: ConversationStarted) -> Message | None:
    """The client opened the bot (Viber conversation_started, subscribed): a With bot conversation
    and the greeting. Its payload may be a client's deep link token. None when the bot is off."""
    begin_write()
    channel = db.session.get(Channel, channel_id)
    if channel is None or not bot_on(channel):
        db.session.rollback()
        return None
    identity = InboundMessage(
        external_contact_id=event.external_contact_id,
        external_message_id="",
        contact_name=event.contact_name,
        avatar_url=event.avatar_url,
    )
    contact = messaging._upsert_contact(channel.id, identity)
    conversation = db.session.scalars(
        select(Conversation).where(Conversation.contact_id == contact.id)
    ).first()
    if conversation is None:
        now = utcnow()
        conversation = Conversation(
            channel_id=channel.id, contact_id=contact.id, last_activity_at=now, with_bot=True
        )
        db.session.add(conversation)
        db.session.flush()
        open_session(conversation, now)
        conversation_changed(conversation.id, counts=True)
    conversation_id = conversation.id
    db.session.commit()
    if event.payload:
        deeplinks.link_from_start(conversation_id, event.payload)
    conversation = get_conversation(conversation_id)
    if not conversation.with_bot:
        db.session.rollback()
        return None
    with _bot_language(channel):
        text, buttons = _greeting(), _buttons()
    db.session.rollback()
    return messaging.send_bot_reply(conversation_id, text, buttons)
