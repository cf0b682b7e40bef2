"""Viber bots (REST bot API): signed callbacks in, send_message out.

Callbacks are signed with the bot's token (X-Viber-Content-Signature: hex HMAC-SHA256 of
the raw body). Ids: a contact is the Viber user id (sender.id / user.id / user_id), a
message is its message_token; statuses (delivered / seen / failed) name our message by
the token send_message returned.

Viber fetches outgoing media from a public URL, so attachments go out as signed,
expiring links to /media/<token> under PUBLIC_URL (blueprints/media.py).

The welcome: Viber lets a bot write to someone who opened the chat but has not
subscribed only once, as the body of the answer to `conversation_started`;
send_message to them fails with status 6 (which means "unsubscribed" and would mark
them blocked). So an unsubscribed opener gets the welcome in that answer (the salon
bot's greeting and buttons) and no conversation until they write; a subscribed one
becomes a ConversationStarted event and the salon bot (services.bot) greets them
through the outbox like any bot reply.
"""

import hashlib
import hmac
import json
import logging
import mimetypes
import os
from datetime import UTC, datetime

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from channels.base import (
    Adapter,
    BadSignature,
    BlockedError,
    ChannelRef,
    ContactBlocked,
    ConversationStarted,
    DeliveryError,
    FetchedMedia,
    Health,
    InboundAttachment,
    InboundMessage,
    MalformedPayload,
    OutboundAttachment,
    OutboundMessage,
    PermanentError,
    SendResult,
    StatusUpdate,
    TemporaryError,
    WebhookReply,
    WebhookRequest,
)
from channels.http import download, filename_from_url, http, json_or_none, retry_after_header

log = logging.getLogger(__name__)

# callbacks we ask for; "message" and "webhook" come always and can't be filtered
EVENT_TYPES = ("delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started")

# Viber's documented limits
SENDER_NAME_MAX = 28
TEXT_MAX = 7000
CAPTION_MAX = 512
PICTURE_TYPES = ("image/jpeg", "image/png", "image/gif")
PICTURE_MAX = 1024 * 1024
FILE_MAX = 50 * 1024 * 1024
FILE_NAME_MAX = 256

# send_message statuses (Viber's error codes)
RECEIVER_NOT_REGISTERED = 5
RECEIVER_NOT_SUBSCRIBED = 6
TOO_MANY_REQUESTS = 12
# Viber allows 100 messages an hour to someone who does not answer; try again well later
TOO_MANY_RETRY_AFTER = 300

STATUS_OF_EVENT = {"delivered": "delivered", "seen": "read", "failed": "failed"}


def _sent_at(data: dict) -> datetime | None:
    stamp = data.get("timestamp")
    if isinstance(stamp, int | float) and stamp > 0:
        return datetime.fromtimestamp(stamp / 1000, UTC)
    return None


def _guess_type(filename: str, fallback: str) -> str:
    return mimetypes.guess_type(filename)[0] or fallback


class ViberAdapter(Adapter):
    kind = "viber"
    supports_reply_to = False  # the bot API has no quoting

    # --- outbound -----------------------------------------------------------------------------

    def send(self, channel: ChannelRef, message: OutboundMessage) -> SendResult:
        """send_message for the text and each attachment; the last token names the message.

        A picture takes the text as its caption when there is one picture and the text
        fits; otherwise the text goes first, on its own. The bot's buttons ride on the
        last part (Viber shows the keyboard of the latest message).
        """
        parts = self._parts(message)
        base = {"receiver": message.contact_external_id, "sender": self._sender(channel, message.author_name)}
        if message.buttons:
            parts[-1]["keyboard"] = self._keyboard(message.buttons)
        token = None
        for part in parts:
            answer = self._call(channel, "send_message", {**base, **part})
            token = answer.get("message_token") or token
        return SendResult(external_id=str(token) if token else None)

    def _parts(self, message: OutboundMessage) -> list[dict]:
        text = (message.text or "").strip()
        if len(text) > TEXT_MAX:
            raise PermanentError(
                _("The message is longer than Viber allows (%(limit)s characters).", limit=TEXT_MAX)
            )
        media = [self._media_part(item) for item in message.attachments]
        pictures = [part for part in media if part["type"] == "picture"]
        if text and len(media) == 1 and pictures and len(text) <= CAPTION_MAX:
            pictures[0]["text"] = text
            return media
        parts = [{"type": "text", "text": text}] if text else []
        parts.extend(media)
        if not parts:
            raise PermanentError(_("The message is empty."))
        return parts

    def _media_part(self, item: OutboundAttachment) -> dict:
        from blueprints.media import media_url

        if item.attachment_id is None:
            raise PermanentError(_("The file can't be linked for Viber."))
        try:
            size = os.path.getsize(item.path)
        except OSError as exc:
            raise PermanentError(_("The file to send is missing.")) from exc
        url = media_url(item.attachment_id)
        if item.content_type in PICTURE_TYPES and size <= PICTURE_MAX:
            return {"type": "picture", "media": url, "text": ""}
        if size > FILE_MAX:
            raise PermanentError(_("The file is larger than Viber allows (50 MB)."))
        return {"type": "file", "media": url, "size": size, "file_name": item.filename[:FILE_NAME_MAX]}

    def _sender(self, channel: ChannelRef, author_name: str = "") -> dict:
        """Who the client sees as the sender: the salon's bot name and the staff member, in 28 characters."""
        base = (channel.settings.get("sender_name") or channel.settings.get("account_name") or "").strip()
        author = (author_name or "").strip()
        if base and author:
            room = SENDER_NAME_MAX - len(author) - 3
            name = f"{base[:room].rstrip()} · {author}" if room >= 3 else author
        else:
            name = base or author or "Okno"
        sender = {"name": name[:SENDER_NAME_MAX]}
        avatar = channel.settings.get("sender_avatar") or channel.settings.get("account_avatar")
        if avatar:
            sender["avatar"] = avatar
        return sender

    @staticmethod
    def _keyboard(buttons) -> dict:
        columns = {1: 6, 2: 3, 3: 2}.get(len(buttons), 3)  # a row is 6 columns wide
        return {
            "Type": "keyboard",
            "DefaultHeight": False,
            "Buttons": [
                {
                    "ActionType": "reply",
                    "ActionBody": label,
                    "Text": label,
                    "TextSize": "regular",
                    "Columns": columns,
                    "Rows": 1,
                }
                for label in buttons
            ],
        }

    def _call(self, channel: ChannelRef, method: str, payload: dict) -> dict:
        """POST one API method with the token header; Viber's failure statuses as our errors."""
        token = channel.credentials.get("token")
        if not token:
            raise PermanentError(_("The channel has no Viber token."))
        response = http(
            "POST", f"{channel.api_url}/{method}", json=payload, headers={"X-Viber-Auth-Token": token}
        )
        if response.status_code == 429 or response.status_code >= 500:
            raise TemporaryError(
                _("Viber is not available (HTTP %(code)s).", code=response.status_code),
                retry_after_header(response),
            )
        body = json_or_none(response)
        if not isinstance(body, dict) or not isinstance(body.get("status"), int):
            raise PermanentError(_("Viber answered HTTP %(code)s.", code=response.status_code))
        status = body["status"]
        if status == 0:
            return body
        reason = body.get("status_message") or str(status)
        if status == RECEIVER_NOT_SUBSCRIBED:
            # the standard "Bot blocked by the user" is what staff see (jobs.delivery)
            raise BlockedError("")
        if status == RECEIVER_NOT_REGISTERED:
            raise PermanentError(
                _("The client is no longer registered in Viber (%(reason)s).", reason=reason)
            )
        if status == TOO_MANY_REQUESTS:
            raise TemporaryError(
                _("Viber limits messages to this client for now (%(reason)s).", reason=reason),
                TOO_MANY_RETRY_AFTER,
            )
        raise PermanentError(_("Viber refused: %(reason)s", reason=reason))

    # --- inbound ------------------------------------------------------------------------------

    def verify(self, channel: ChannelRef, request: WebhookRequest) -> None:
        token = channel.credentials.get("token") or ""
        given = (request.headers.get("x-viber-content-signature") or "").strip().lower()
        if not token:
            raise BadSignature("The channel has no Viber token.")
        if not given:
            raise BadSignature("No X-Viber-Content-Signature header.")
        expected = hmac.new(token.encode(), request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, given):
            raise BadSignature("The X-Viber-Content-Signature does not match the body.")

    def parse(self, channel: ChannelRef, request: WebhookRequest) -> WebhookReply:
        try:
            data = json.loads(request.body)
        except ValueError as exc:
            raise MalformedPayload("The body is not JSON.") from exc
        if not isinstance(data, dict) or not isinstance(data.get("event"), str):
            raise MalformedPayload("The callback has no event field.")
        event = data["event"]
        if event == "message":
            return WebhookReply(events=[self._message(data)])
        if event in STATUS_OF_EVENT:
            token = data.get("message_token")
            if not token:
                raise MalformedPayload(f"A {event} callback without message_token.")
            status = StatusUpdate(
                external_message_id=str(token),
                status=STATUS_OF_EVENT[event],
                error=str(data.get("desc") or "") if event == "failed" else "",
                at=_sent_at(data),
            )
            return WebhookReply(events=[status])
        if event == "subscribed":
            user = self._user(data, "user")
            return WebhookReply(
                events=[ContactBlocked(str(user["id"]), blocked=False, contact_name=user.get("name") or "")]
            )
        if event == "unsubscribed":
            user_id = data.get("user_id")
            if not user_id:
                raise MalformedPayload("An unsubscribed callback without user_id.")
            return WebhookReply(events=[ContactBlocked(str(user_id), blocked=True)])
        if event == "conversation_started":
            return self._conversation_started(channel, data)
        if event != "webhook":  # "webhook" is set_webhook's check: a 200 is all it wants
            log.info("viber channel %s: callback %r ignored", channel.id, event)
        return WebhookReply()

    @staticmethod
    def _user(data: dict, key: str) -> dict:
        user = data.get(key)
        if not isinstance(user, dict) or not user.get("id"):
            raise MalformedPayload(f"A {data.get('event')} callback without {key}.id.")
        return user

    def _message(self, data: dict) -> InboundMessage:
        sender = self._user(data, "sender")
        body = data.get("message")
        token = data.get("message_token")
        if not isinstance(body, dict) or not isinstance(body.get("type"), str) or not token:
            raise MalformedPayload("A message callback needs message.type and message_token.")
        kind, text, attachments, context = self._content(body)
        return InboundMessage(
            external_contact_id=str(sender["id"]),
            external_message_id=str(token),
            text=text,
            contact_name=sender.get("name") or "",
            kind=kind,
            attachments=attachments,
            sent_at=_sent_at(data),
            avatar_url=sender.get("avatar") or None,
            context=context,
        )

    @staticmethod
    def _content(body: dict) -> tuple[str, str, tuple[InboundAttachment, ...], dict]:
        """(kind, text, attachments, context) of one Viber message object."""
        kind = body["type"]
        text = str(body.get("text") or "")
        media = str(body.get("media") or "")
        # callbacks name it file_size (send_message calls it size)
        size = next((v for v in (body.get("file_size"), body.get("size")) if isinstance(v, int)), 0)
        if kind == "picture":
            name = body.get("file_name") or filename_from_url(media, "photo.jpg")
            attachment = InboundAttachment(name, _guess_type(name, "image/jpeg"), size, url=media)
            return "image", text, (attachment,) if media else (), {}
        if kind == "video":
            name = body.get("file_name") or filename_from_url(media, "video.mp4")
            attachment = InboundAttachment(name, _guess_type(name, "video/mp4"), size, url=media)
            context = {"duration": body["duration"]} if body.get("duration") else {}
            return "video", text, (attachment,) if media else (), context
        if kind == "file":
            name = body.get("file_name") or filename_from_url(media, "file")
            attachment = InboundAttachment(
                name, _guess_type(name, "application/octet-stream"), size, url=media
            )
            return "file", text, (attachment,) if media else (), {}
        if kind == "sticker":
            context = {"sticker_id": body.get("sticker_id")}
            attachment = InboundAttachment(filename_from_url(media, "sticker.png"), "image/png", url=media)
            return "sticker", text, (attachment,) if media else (), context
        if kind == "location":
            location = body.get("location") if isinstance(body.get("location"), dict) else {}
            place = {"lat": location.get("lat"), "lon": location.get("lon")}
            if location.get("address"):
                place["address"] = location["address"]
            shown = location.get("address") or f"{place['lat']}, {place['lon']}"
            return "location", text or shown, (), {"location": place}
        if kind == "contact":
            contact = body.get("contact") if isinstance(body.get("contact"), dict) else {}
            shared = {"name": contact.get("name") or "", "phone": contact.get("phone_number") or ""}
            shown = ", ".join(v for v in (shared["name"], shared["phone"]) if v)
            return "contact", text or shown, (), {"contact": shared}
        if kind == "url":
            return "text", text or media, (), {}
        # text, and kinds a client rarely sends a bot (rich_media): what text there is
        return "text", text, (), {}

    def _conversation_started(self, channel: ChannelRef, data: dict) -> WebhookReply:
        user = self._user(data, "user")
        if data.get("subscribed") and channel.settings.get("bot", True):
            # send_message reaches a subscriber: the salon bot greets through the outbox
            started = ConversationStarted(
                external_contact_id=str(user["id"]),
                contact_name=user.get("name") or "",
                avatar_url=user.get("avatar") or None,
                payload=str(data.get("context") or ""),
            )
            return WebhookReply(events=[started])
        return WebhookReply(
            body=json.dumps(self.welcome(channel), ensure_ascii=False), content_type="application/json"
        )

    def welcome(self, channel: ChannelRef) -> dict:
        """The welcome answered to conversation_started: send_message's shape without a receiver.

        With the salon bot on, its greeting and its two buttons (services.bot speaks the
        same words, in the channel's language, and knows its buttons in every language);
        with the bot off, a plain invitation to write. settings["welcome_text"] overrides
        the text.
        """
        settings = channel.settings
        languages = current_app.config["LANGUAGES"]
        language = settings.get("language")
        name = (settings.get("sender_name") or settings.get("account_name") or "").strip()
        buttons: tuple[str, ...] = ()
        with force_locale(language if language in languages else current_app.config["BABEL_DEFAULT_LOCALE"]):
            if not settings.get("bot", True):
                text = _("Hello! Write your question here and an administrator will answer.")
            else:
                if name:
                    text = _(
                        "Hello! This is %(salon)s. Choose below what you need, or just write your question.",
                        salon=name,
                    )
                else:
                    text = _("Hello! Choose below what you need, or just write your question.")
                buttons = (_("My visits"), _("Talk to an administrator"))
        message = {
            "sender": self._sender(channel),
            "type": "text",
            "text": (settings.get("welcome_text") or text)[:TEXT_MAX],
        }
        if buttons:
            message["keyboard"] = self._keyboard(buttons)
        return message

    # --- operations ---------------------------------------------------------------------------

    def register_webhook(self, channel: ChannelRef) -> None:
        """set_webhook: Viber checks the URL at once (a "webhook" callback) before it answers."""
        self._call(
            channel,
            "set_webhook",
            {
                "url": channel.webhook_url,
                "event_types": list(EVENT_TYPES),
                "send_name": True,
                "send_photo": True,
            },
        )

    def check_health(self, channel: ChannelRef) -> Health:
        """get_account_info: the token works, and (for a saved channel) the webhook is ours."""
        try:
            info = self._call(channel, "get_account_info", {})
        except DeliveryError as exc:
            return Health(ok=False, reason=exc.reason)
        details = {
            "account_name": info.get("name") or "",
            "account_uri": info.get("uri") or "",
            "account_avatar": info.get("icon") or "",
        }
        webhook = info.get("webhook") or ""
        if not channel.uid:  # credentials tried before the channel is saved: it has no webhook yet
            return Health(ok=True, details=details)
        if not webhook:
            return Health(ok=False, reason=_("The Viber webhook is not set."), details=details)
        if webhook != channel.webhook_url:
            return Health(
                ok=False,
                reason=_("The Viber webhook points elsewhere: %(url)s", url=webhook),
                details=details,
            )
        return Health(ok=True, details=details)

    def fetch_media(self, channel: ChannelRef, url: str) -> FetchedMedia:
        """The media link from the callback, a plain GET (Viber's links expire after a while)."""
        return download(url, "Viber")


adapter = ViberAdapter()
