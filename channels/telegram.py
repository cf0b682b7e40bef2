"""Telegram Bot API: updates in (webhook or getUpdates), sendMessage / sendPhoto / sendDocument out.

Every call is `{api_url}/bot<token>/<method>`; the answer is `{"ok": true, "result": ...}` or
`{"ok": false, "error_code": ..., "description": ..., "parameters": {"retry_after": ...}}`.
External ids: a contact is its private chat id; a message is "<chat id>:<message id>",
because Telegram numbers messages per chat. Media are referenced by their file_id and
fetched later (getFile, then `{api_url}/file/bot<token>/<file_path>`). Only private chats
are served: updates from groups and channels are answered 200 and ignored.

Credentials: {"token": bot token, "secret": webhook secret token}. Settings: "mode"
("polling" to use getUpdates even with an https PUBLIC_URL), "username" (from getMe,
for t.me deep links).
"""

import hashlib
import hmac
import json
import logging
import mimetypes
import posixpath
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _

from channels.base import (
    Adapter,
    BadSignature,
    BlockedError,
    ChannelRef,
    ContactBlocked,
    DeliveryError,
    FetchedMedia,
    Health,
    InboundAttachment,
    InboundMessage,
    MalformedPayload,
    MessageEdited,
    OutboundAttachment,
    OutboundMessage,
    PermanentError,
    SendResult,
    TemporaryError,
    WebhookReply,
    WebhookRequest,
)
from channels.http import http, json_or_none, retry_after_header

log = logging.getLogger(__name__)

SECRET_HEADER = "x-telegram-bot-api-secret-token"
# the update kinds we ask Telegram for (setWebhook and getUpdates)
ALLOWED_UPDATES = ("message", "edited_message", "my_chat_member")
TEXT_LIMIT = 4096  # characters in one sendMessage
CAPTION_LIMIT = 1024  # characters in a photo / document caption
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")
PHOTO_MAX_BYTES = 10 * 1024 * 1024  # larger pictures go as documents
# seconds Telegram holds a getUpdates call open when nothing arrives
POLL_TIMEOUT = 25
# a webhook delivery error older than this no longer marks the channel broken
WEBHOOK_ERROR_FRESH = timedelta(hours=1)
# message contents we store as a placeholder: the client did something we can't show
UNSUPPORTED = ("poll", "dice", "game", "story", "invoice", "giveaway", "paid_media")


def webhook_secret(channel: ChannelRef) -> str:
    """The secret Telegram sends back in X-Telegram-Bot-Api-Secret-Token.

    The channel's own when its credentials hold one, else one derived from SECRET_KEY and
    the channel uid, so a channel saved without a secret is still never open to forgeries.
    """
    secret = str(channel.credentials.get("secret") or "")
    if secret:
        return secret
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"okno-telegram-webhook:{channel.uid}".encode(), hashlib.sha256).hexdigest()


def is_polling(channel: ChannelRef) -> bool:
    """Whether updates come by getUpdates: asked for, or no https address Telegram could post to."""
    return channel.settings.get("mode") == "polling" or not channel.webhook_url.startswith("https://")


class TelegramAdapter(Adapter):
    kind = "telegram"
    supports_reply_to = True

    # --- the Bot API ------------------------------------------------------------------------

    def call(self, channel: ChannelRef, method: str, payload: dict | None = None, **kwargs):
        """One Bot API method; its `result`, or the platform's refusal as a DeliveryError.

        JSON body by default; `data` + `files` for multipart uploads. The token is in the
        URL only: no error message we raise or log contains it.
        """
        token = str(channel.credentials.get("token") or "")
        if not token:
            raise PermanentError(_("The bot token is not set."))
        if "files" not in kwargs:
            kwargs["json"] = payload or {}
        response = http("POST", f"{channel.api_url}/bot{token}/{method}", **kwargs)
        body = json_or_none(response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("ok") is True:
            return body.get("result")
        raise _refusal(response, body)

    # --- outbound ---------------------------------------------------------------------------

    def send(self, channel: ChannelRef, message: OutboundMessage) -> SendResult:
        """Text (split at Telegram's 4096 characters), then each attachment; the first message's id.

        The text rides as the first attachment's caption when it fits. The reply-to goes on
        the first message sent, the bot keyboard on the last.
        """
        chat_id = message.contact_external_id
        text = message.text or ""
        caption = ""
        if message.attachments and len(text) <= CAPTION_LIMIT:
            caption, text = text, ""
        calls: list[tuple[str, dict, OutboundAttachment | None]] = [
            ("sendMessage", {"text": chunk}, None) for chunk in _chunks(text, TEXT_LIMIT)
        ]
        for index, attachment in enumerate(message.attachments):
            method = "sendPhoto" if _sends_as_photo(attachment) else "sendDocument"
            fields = {"caption": caption} if index == 0 and caption else {}
            calls.append((method, fields, attachment))
        if not calls:
            raise PermanentError(_("The message is empty."))
        reply = _reply_parameters(chat_id, message.reply_to_external_id)
        if reply:
            calls[0][1]["reply_parameters"] = reply
        markup = _reply_markup(message)
        if markup:
            calls[-1][1]["reply_markup"] = markup

        first_id = None
        for method, fields, attachment in calls:
            fields = {"chat_id": chat_id, **fields}
            if attachment is None:
                result = self.call(channel, method, fields)
            else:
                result = self._upload(channel, method, fields, attachment)
            if first_id is None:
                first_id = (result or {}).get("message_id")
        return SendResult(external_id=f"{chat_id}:{first_id}" if first_id else None, status="sent")

    def _upload(self, channel: ChannelRef, method: str, fields: dict, attachment: OutboundAttachment):
        field = "photo" if method == "sendPhoto" else "document"
        form = {k: json.dumps(v) if isinstance(v, dict | list) else str(v) for k, v in fields.items()}
        try:
            with open(attachment.path, "rb") as fh:
                files = {field: (attachment.filename, fh, attachment.content_type)}
                return self.call(channel, method, data=form, files=files)
        except OSError as exc:
            raise PermanentError(_("The attached file is missing on the server.")) from exc

    # --- inbound ----------------------------------------------------------------------------

    def verify(self, channel: ChannelRef, request: WebhookRequest) -> None:
        given = request.headers.get(SECRET_HEADER, "")
        if not given:
            raise BadSignature("X-Telegram-Bot-Api-Secret-Token is missing.")
        if not hmac.compare_digest(given.encode(), webhook_secret(channel).encode()):
            raise BadSignature("X-Telegram-Bot-Api-Secret-Token does not match.")

    def parse(self, channel: ChannelRef, request: WebhookRequest) -> WebhookReply:
        try:
            update = json.loads(request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedPayload("The body is not JSON.") from exc
        return WebhookReply(events=events_from_update(update))

    def get_updates(self, channel: ChannelRef, offset: int | None = None, timeout: int = 0) -> list[dict]:
        """One getUpdates call: the updates after `offset` (which confirms everything before it)."""
        payload: dict = {"timeout": timeout, "allowed_updates": list(ALLOWED_UPDATES)}
        if offset is not None:
            payload["offset"] = offset
        result = self.call(channel, "getUpdates", payload, timeout=(5, timeout + 15))
        if not isinstance(result, list):
            raise TemporaryError(_("Telegram gave an answer that can't be read."))
        return [u for u in result if isinstance(u, dict)]

    def resync(self, channel: ChannelRef, since: datetime | None) -> list:
        """In polling mode what Telegram still holds unconfirmed (one call, no offset: it confirms nothing).

        With a webhook Telegram pushes everything and keeps no history a bot could read.
        """
        if not is_polling(channel):
            return []
        events: list = []
        for update in self.get_updates(channel):
            try:
                events.extend(events_from_update(update))
            except MalformedPayload as exc:
                log.warning("telegram channel %s: update skipped on resync: %s", channel.id, exc)
        return events

    def fetch_media(self, channel: ChannelRef, url: str) -> FetchedMedia:
        """`url` is the file_id an inbound message carried: getFile, then the file itself."""
        info = self.call(channel, "getFile", {"file_id": url}) or {}
        path = info.get("file_path") if isinstance(info, dict) else None
        if not path:
            raise PermanentError(_("Telegram no longer has this file."))
        token = channel.credentials["token"]
        response = http("GET", f"{channel.api_url}/file/bot{token}/{path}")
        if response.status_code >= 500 or response.status_code == 429:
            raise TemporaryError(
                _("Telegram's file server failed (HTTP %(code)s).", code=response.status_code)
            )
        if response.status_code != 200:
            raise PermanentError(_("Telegram refused the file (HTTP %(code)s).", code=response.status_code))
        # the file server mostly says application/octet-stream: the path's extension knows better
        guessed = mimetypes.guess_type(path)[0]
        sent = (response.headers.get("Content-Type") or "").split(";")[0].strip()
        content_type = guessed or sent or "application/octet-stream"
        return FetchedMedia(response.content, content_type, posixpath.basename(path))

    # --- set-up and health ------------------------------------------------------------------

    def register_webhook(self, channel: ChannelRef) -> None:
        """setWebhook with the secret token; in polling mode deleteWebhook, so getUpdates may run."""
        if is_polling(channel):
            self.call(channel, "deleteWebhook", {"drop_pending_updates": False})
            return
        self.call(
            channel,
            "setWebhook",
            {
                "url": channel.webhook_url,
                "secret_token": webhook_secret(channel),
                "allowed_updates": list(ALLOWED_UPDATES),
            },
        )

    def check_health(self, channel: ChannelRef) -> Health:
        """getMe (the token works) and getWebhookInfo (Telegram reaches our webhook).

        `details` go into the channel's settings: "username" for deep links, "bot_name".
        """
        polling = is_polling(channel)
        try:
            me = self.call(channel, "getMe") or {}
        except PermanentError as exc:
            return Health(False, _("Telegram refused the bot token: %(reason)s", reason=exc.reason))
        except TemporaryError as exc:
            return Health(False, _("Telegram did not answer: %(reason)s", reason=exc.reason))
        details = {"username": me.get("username", ""), "bot_name": me.get("first_name", "")}
        try:
            info = self.call(channel, "getWebhookInfo") or {}
        except DeliveryError as exc:
            return Health(False, exc.reason, details)
        if polling:
            # a webhook left from before is deleted by the poller, which can't read updates otherwise
            return Health(True, details=details)
        if info.get("url") != channel.webhook_url:
            return Health(False, _("The webhook is not registered: save the channel again."), details)
        error_at = info.get("last_error_date")
        if error_at and datetime.now(UTC) - _time(error_at) < WEBHOOK_ERROR_FRESH:
            reason = info.get("last_error_message") or "?"
            return Health(False, _("Telegram can't deliver updates: %(reason)s", reason=reason), details)
        return Health(True, details=details)


def _refusal(response, body) -> DeliveryError:
    """The platform's error as ours: blocked, try again later (429 / 5xx), or for good."""
    status = response.status_code
    if not isinstance(body, dict):
        if status >= 500 or status == 429 or status < 400:
            return TemporaryError(
                _("Telegram gave an answer that can't be read (HTTP %(code)s).", code=status)
            )
        return PermanentError(f"HTTP {status}")
    code = body.get("error_code") if isinstance(body.get("error_code"), int) else status
    description = str(body.get("description") or f"HTTP {status}")
    if code == 429:
        parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
        retry_after = parameters.get("retry_after")
        if not isinstance(retry_after, int | float):
            retry_after = retry_after_header(response)
        return TemporaryError(description, retry_after=retry_after)
    if code >= 500 or status >= 500:
        return TemporaryError(description)
    if code == 403 and "blocked by the user" in description:
        return BlockedError(description)
    return PermanentError(description)


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] if text.strip() else []


def _sends_as_photo(attachment: OutboundAttachment) -> bool:
    if attachment.content_type not in PHOTO_TYPES:
        return False
    try:
        with open(attachment.path, "rb") as fh:
            fh.seek(0, 2)
            return fh.tell() <= PHOTO_MAX_BYTES
    except OSError:
        return True  # the upload reports the missing file


def _reply_parameters(chat_id: str, reply_to_external_id: str | None) -> dict | None:
    """Quote one of this chat's messages; sent without the quote when it was deleted meanwhile."""
    if not reply_to_external_id:
        return None
    chat, _sep, message_id = reply_to_external_id.rpartition(":")
    if chat != str(chat_id) or not message_id.isdigit():
        return None
    return {"message_id": int(message_id), "allow_sending_without_reply": True}


def _reply_markup(message: OutboundMessage) -> dict | None:
    """The salon bot's buttons as a reply keyboard (one per row); removed once an administrator took over."""
    if message.buttons:
        return {"keyboard": [[{"text": label}] for label in message.buttons], "resize_keyboard": True}
    if message.context.get("remove_keyboard"):
        return {"remove_keyboard": True}
    return None


# --- updates -> events ----------------------------------------------------------------------


def events_from_update(update) -> list:
    """Our events for one Update object; [] for kinds we don't handle and for group chats."""
    if not isinstance(update, dict):
        raise MalformedPayload("An update must be a JSON object.")
    if not isinstance(update.get("update_id"), int):
        raise MalformedPayload("The update has no update_id.")
    if "message" in update:
        return _message_events(_object(update, "message"))
    if "edited_message" in update:
        return _edit_events(_object(update, "edited_message"))
    if "my_chat_member" in update:
        return _member_events(_object(update, "my_chat_member"))
    log.info("telegram: update %s of a kind we don't handle ignored", update["update_id"])
    return []


def _object(parent: dict, key: str) -> dict:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise MalformedPayload(f"'{key}' must be an object.")
    return value


def _int(parent: dict, key: str) -> int:
    value = parent.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedPayload(f"'{key}' must be an integer.")
    return value


def _private_chat_id(message: dict) -> str | None:
    chat = _object(message, "chat")
    chat_id = _int(chat, "id")
    return str(chat_id) if chat.get("type") == "private" else None


def _time(value) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _person_name(person: dict) -> str:
    name = " ".join(p for p in (person.get("first_name"), person.get("last_name")) if p).strip()
    if not name and person.get("username"):
        name = "@" + str(person["username"])
    return name


def _message_events(message: dict) -> list:
    chat_id = _private_chat_id(message)
    if chat_id is None:
        return []
    message_id = _int(message, "message_id")
    sender = message.get("from") if isinstance(message.get("from"), dict) else {}
    content = _content(message, sender)
    if content is None:
        return []  # a service message (pinned, payment, ...): nothing the client wrote
    kind, attachments, context = content
    reply_to = message.get("reply_to_message")
    reply_to_id = None
    if isinstance(reply_to, dict) and isinstance(reply_to.get("message_id"), int):
        reply_to_id = f"{chat_id}:{reply_to['message_id']}"
    date = message.get("date")
    return [
        InboundMessage(
            external_contact_id=chat_id,
            external_message_id=f"{chat_id}:{message_id}",
            text=str(message.get("text") or message.get("caption") or ""),
            contact_name=_person_name(sender) or _person_name(message["chat"]),
            kind=kind,
            attachments=attachments,
            sent_at=_time(date) if isinstance(date, int) else None,
            reply_to_external_id=reply_to_id,
            context=context,
        )
    ]


def _file(item: dict, filename: str, content_type: str, key: str = "") -> tuple[InboundAttachment, ...]:
    file_id = item.get("file_id")
    if not isinstance(file_id, str) or not file_id:
        raise MalformedPayload(f"'{key or 'file'}' has no file_id.")
    size = item.get("file_size") if isinstance(item.get("file_size"), int) else 0
    name = str(item.get("file_name") or filename)
    mime = str(item.get("mime_type") or content_type)
    return (InboundAttachment(filename=name, content_type=mime, size=size, url=file_id),)


def _content(message: dict, sender: dict) -> tuple[str, tuple, dict] | None:
    """(kind, attachments, context) of a message; None for a service message."""
    number = message.get("message_id")
    if "photo" in message:
        sizes = (
            [s for s in message["photo"] if isinstance(s, dict)] if isinstance(message["photo"], list) else []
        )
        if not sizes:
            raise MalformedPayload("'photo' must be a list of sizes.")
        # Telegram lists sizes smallest first; the largest is the one worth keeping
        largest = max(
            sizes, key=lambda s: (s.get("file_size") or 0, (s.get("width") or 0) * (s.get("height") or 0))
        )
        return "image", _file(largest, f"photo_{number}.jpg", "image/jpeg", "photo"), {}
    if "sticker" in message:
        sticker = _object(message, "sticker")
        if sticker.get("is_animated"):
            name, mime = "sticker.tgs", "application/x-tgsticker"
        elif sticker.get("is_video"):
            name, mime = "sticker.webm", "video/webm"
        else:
            name, mime = "sticker.webp", "image/webp"
        context = {"sticker": {"emoji": sticker["emoji"]}} if sticker.get("emoji") else {}
        return "sticker", _file(sticker, name, mime, "sticker"), context
    if "voice" in message:
        return "voice", _file(_object(message, "voice"), "voice.ogg", "audio/ogg", "voice"), {}
    if "video_note" in message:
        return "video", _file(_object(message, "video_note"), "video_note.mp4", "video/mp4", "video_note"), {}
    if "video" in message:
        return "video", _file(_object(message, "video"), "video.mp4", "video/mp4", "video"), {}
    if "animation" in message:  # a GIF: Telegram sends it as an MP4 (and repeats it as `document`)
        return "video", _file(_object(message, "animation"), "animation.mp4", "video/mp4", "animation"), {}
    if "audio" in message:
        return "file", _file(_object(message, "audio"), "audio.mp3", "audio/mpeg", "audio"), {}
    if "document" in message:
        document = _object(message, "document")
        return "file", _file(document, "document", "application/octet-stream", "document"), {}
    if "venue" in message or "location" in message:
        venue = message.get("venue") if isinstance(message.get("venue"), dict) else {}
        location = venue.get("location") if venue else message.get("location")
        if not isinstance(location, dict):
            raise MalformedPayload("'location' must be an object.")
        lat, lon = location.get("latitude"), location.get("longitude")
        if not isinstance(lat, int | float) or not isinstance(lon, int | float):
            raise MalformedPayload("'location' needs a latitude and a longitude.")
        place = {"lat": lat, "lon": lon}
        for key in ("title", "address"):
            if venue.get(key):
                place[key] = str(venue[key])
        return "location", (), {"location": place}
    if "contact" in message:
        contact = _object(message, "contact")
        phone = contact.get("phone_number")
        if not isinstance(phone, str) or not phone:
            raise MalformedPayload("'contact' has no phone_number.")
        shared = {"phone": phone, "name": _person_name(contact)}
        # the client shared their own number (the usual "Share my phone" button)
        shared["own"] = bool(sender.get("id")) and contact.get("user_id") == sender.get("id")
        return "contact", (), {"contact": shared}
    if "text" in message:
        return "text", (), {}
    for key in UNSUPPORTED:
        if key in message:
            return "text", (), {"unsupported": key}
    return None


def _edit_events(message: dict) -> list:
    chat_id = _private_chat_id(message)
    if chat_id is None:
        return []
    message_id = _int(message, "message_id")
    edited = message.get("edit_date")
    return [
        MessageEdited(
            external_contact_id=chat_id,
            external_message_id=f"{chat_id}:{message_id}",
            text=str(message.get("text") or message.get("caption") or ""),
            edited_at=_time(edited) if isinstance(edited, int) else None,
        )
    ]


def _member_events(update: dict) -> list:
    """The client stopped (kicked) or restarted (member) the bot in their private chat."""
    chat_id = _private_chat_id(update)
    if chat_id is None:
        return []
    status = _object(update, "new_chat_member").get("status")
    sender = update.get("from") if isinstance(update.get("from"), dict) else {}
    if status == "kicked":
        return [ContactBlocked(chat_id, True, _person_name(sender))]
    if status == "member":
        return [ContactBlocked(chat_id, False, _person_name(sender))]
    return []


adapter = TelegramAdapter()
