"""WhatsApp Cloud API: a business phone number on Meta's Graph API.

Credentials: phone_number_id, access_token, app_secret (webhook signatures), verify_token
(the GET handshake), waba_id (optional: approved templates, webhook subscription).

Inbound: `entry[].changes[].value` of field "messages" carries `messages[]` (what clients
wrote; `contacts[]` names them) and `statuses[]` (how far our messages got). Outbound:
POST /{phone_number_id}/messages with the token as a Bearer header; media are uploaded
first (POST /{phone_number_id}/media) and sent by id. Free text reaches a client only
within 24 hours of their last message; outside it only approved templates do.
"""

import logging
import mimetypes
import re
from datetime import UTC, datetime
from pathlib import Path

from channels.base import (
    ChannelRef,
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
from channels.base import ChannelSettings as ChannelSettingsEvent
from channels.http import http
from channels.meta import (
    WHATSAPP_WINDOW_CLOSED,
    MetaAdapter,
    delivery_error,
    from_timestamp,
    graph_json,
    list_of_dicts,
    read_body,
    read_graph_error,
    window_closed_reason,
)

log = logging.getLogger(__name__)

# the message types we store, and what they are called here
KINDS = {
    "text": "text",
    "image": "image",
    "document": "file",
    "audio": "voice",
    "video": "video",
    "sticker": "sticker",
    "location": "location",
    "contacts": "contact",
    "interactive": "text",
    "button": "text",
}
MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")
# what WhatsApp shows as a photo / video / voice; any other file goes as a document
SEND_AS = {
    "image/jpeg": "image",
    "image/png": "image",
    "video/mp4": "video",
    "video/3gpp": "video",
    "audio/aac": "audio",
    "audio/amr": "audio",
    "audio/mpeg": "audio",
    "audio/mp4": "audio",
    "audio/ogg": "audio",
}
STATUSES = ("sent", "delivered", "read", "failed")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
# pages of templates read per resync (100 each): enough for any salon, bounded all the same
MAX_TEMPLATE_PAGES = 20


class WhatsAppAdapter(MetaAdapter):
    kind = "whatsapp"
    supports_reply_to = True

    # --- inbound -----------------------------------------------------------------------------

    def parse(self, channel: ChannelRef, request: WebhookRequest) -> WebhookReply:
        own_number = str(channel.credentials.get("phone_number_id") or "")
        events: list = []
        for entry in read_body(request, "whatsapp_business_account"):
            for change in list_of_dicts(entry.get("changes"), "changes"):
                if change.get("field") != "messages":
                    log.info("whatsapp channel %s: webhook field %r ignored", channel.id, change.get("field"))
                    continue
                value = change.get("value")
                if not isinstance(value, dict):
                    raise MalformedPayload("`value` of a change is not an object")
                number = str((value.get("metadata") or {}).get("phone_number_id") or "")
                if own_number and number and number != own_number:
                    # one Meta app may serve several numbers: this one belongs to another channel
                    log.info("whatsapp channel %s: update for number %s ignored", channel.id, number)
                    continue
                names = {
                    str(c.get("wa_id")): str((c.get("profile") or {}).get("name") or "")
                    for c in list_of_dicts(value.get("contacts"), "contacts")
                }
                for message in list_of_dicts(value.get("messages"), "messages"):
                    event = self._message(message, names)
                    if event is not None:
                        events.append(event)
                    else:
                        log.info(
                            "whatsapp channel %s: message type %r ignored", channel.id, message.get("type")
                        )
                for status in list_of_dicts(value.get("statuses"), "statuses"):
                    event = self._status(status)
                    if event is not None:
                        events.append(event)
        return WebhookReply(events=events, body="ok")

    def _message(self, message: dict, names: dict) -> InboundMessage | None:
        sender, external_id = message.get("from"), message.get("id")
        if not isinstance(sender, str) or not sender or not isinstance(external_id, str) or not external_id:
            raise MalformedPayload("a message has no `from` or `id`")
        kind_of = message.get("type")
        if kind_of not in KINDS:
            return None
        body = message.get(kind_of)
        if kind_of == "contacts":
            if not isinstance(body, list) or not body:
                raise MalformedPayload("a contacts message has no contacts")
        elif not isinstance(body, dict):
            raise MalformedPayload(f"a {kind_of} message has no `{kind_of}` object")
        text, attachments, context = "", (), {}
        if kind_of == "text":
            text = str(body.get("body") or "")
        elif kind_of in MEDIA_TYPES:
            text = str(body.get("caption") or "")
            attachments = (_attachment(kind_of, body),)
        elif kind_of == "location":
            text, context = _location(body)
        elif kind_of == "contacts":
            text, context = _shared_contacts(body)
        elif kind_of == "interactive":
            reply = body.get(body.get("type")) if isinstance(body.get("type"), str) else None
            if not isinstance(reply, dict) or not reply.get("title"):
                return None  # a flow answer or something else that is not a button press
            text, context = str(reply["title"]), {"button_id": str(reply.get("id") or "")}
        elif kind_of == "button":
            text, context = str(body.get("text") or ""), {"button_payload": str(body.get("payload") or "")}
        quoted = message.get("context") if isinstance(message.get("context"), dict) else {}
        return InboundMessage(
            external_contact_id=sender,
            external_message_id=external_id,
            text=text,
            contact_name=names.get(sender, ""),
            kind=KINDS[kind_of],
            attachments=attachments,
            sent_at=from_timestamp(message.get("timestamp")),
            reply_to_external_id=str(quoted["id"]) if quoted.get("id") else None,
            phone="+" + sender if sender.isdigit() else None,
            context=context,
        )

    def _status(self, status: dict) -> StatusUpdate | None:
        external_id, state = status.get("id"), status.get("status")
        if not isinstance(external_id, str) or not external_id:
            raise MalformedPayload("a status has no `id`")
        if state not in STATUSES:
            return None  # "deleted", "warning", "played": nothing a tick shows
        error = ""
        if state == "failed":
            errors = [e for e in status.get("errors") or () if isinstance(e, dict)]
            error = _status_error(errors[0]) if errors else "Delivery failed."
        return StatusUpdate(external_id, state, error=error, at=from_timestamp(status.get("timestamp")))

    # --- outbound ----------------------------------------------------------------------------

    def send(self, channel: ChannelRef, message: OutboundMessage) -> SendResult:
        headers = self.auth_headers(channel)
        url = f"{self._number_url(channel)}/messages"
        base = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": message.contact_external_id,
        }
        if message.template:
            payload = {**base, "type": "template", "template": template_payload(message.template)}
            return self._post(url, headers, payload)
        if message.attachments:
            first = None
            for index, attachment in enumerate(message.attachments):
                media_id = self._upload(channel, headers, attachment)
                caption = message.text if index == 0 else ""
                result = self._post(url, headers, {**base, **_media_body(attachment, media_id, caption)})
                first = first or result
            return first
        if not message.text.strip():
            raise PermanentError("The message is empty.")
        payload = {**base, "type": "text", "text": {"preview_url": False, "body": message.text}}
        if message.reply_to_external_id:
            payload["context"] = {"message_id": message.reply_to_external_id}
        return self._post(url, headers, payload)

    def _post(self, url: str, headers: dict, payload: dict) -> SendResult:
        data = graph_json(http("POST", url, headers=headers, json=payload))
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages or not isinstance(messages[0], dict):
            raise TemporaryError("WhatsApp accepted the message but gave no id for it.")
        return SendResult(external_id=str(messages[0].get("id") or "") or None, status="sent")

    def _upload(self, channel: ChannelRef, headers: dict, attachment: OutboundAttachment) -> str:
        path = Path(attachment.path)
        if not path.is_file():
            raise PermanentError(f"The file {attachment.filename} is missing on the server.")
        with path.open("rb") as fh:
            response = http(
                "POST",
                f"{self._number_url(channel)}/media",
                headers=headers,
                data={"messaging_product": "whatsapp", "type": attachment.content_type},
                files={"file": (attachment.filename, fh, attachment.content_type)},
            )
        media_id = graph_json(response).get("id")
        if not media_id:
            raise TemporaryError("WhatsApp took the file but gave no media id.")
        return str(media_id)

    def _number_url(self, channel: ChannelRef) -> str:
        number = str(channel.credentials.get("phone_number_id") or "")
        if not number:
            raise PermanentError("The channel has no phone number id.")
        return f"{channel.api_url}/{number}"

    # --- media, health, webhook, resync --------------------------------------------------------

    def fetch_media(self, channel: ChannelRef, url: str) -> FetchedMedia:
        """`url` is a webhook's media id: GET /{media-id} gives the file's link, fetched with the token."""
        headers = self.auth_headers(channel)
        content_type = ""
        if not url.startswith(("https://", "http://")):
            info = graph_json(http("GET", f"{channel.api_url}/{url}", headers=headers))
            content_type = str(info.get("mime_type") or "")
            url = str(info.get("url") or "")
            if not url:
                raise PermanentError("WhatsApp gave no download link for the file.")
        response = http("GET", url, headers=headers)
        error = read_graph_error(response)
        if error is not None:
            raise delivery_error(error, response)
        content_type = content_type or response.headers.get("Content-Type", "application/octet-stream")
        return FetchedMedia(response.content, content_type.split(";")[0].strip())

    def check_health(self, channel: ChannelRef) -> Health:
        """The number as Meta knows it (GET /{phone_number_id}); with a WABA id, is the app subscribed?"""
        try:
            headers = self.auth_headers(channel)
            info = graph_json(
                http(
                    "GET",
                    self._number_url(channel),
                    headers=headers,
                    params={"fields": "display_phone_number,verified_name,quality_rating"},
                )
            )
            details = {
                k: info[k] for k in ("display_phone_number", "verified_name", "quality_rating") if k in info
            }
            waba = str(channel.credentials.get("waba_id") or "")
            if waba:
                apps = graph_json(http("GET", f"{channel.api_url}/{waba}/subscribed_apps", headers=headers))
                if not apps.get("data"):
                    return Health(
                        ok=False,
                        reason="The app is not subscribed to the WhatsApp Business Account: no webhooks.",
                        details=details,
                    )
        except (PermanentError, TemporaryError) as exc:
            return Health(ok=False, reason=exc.reason)
        return Health(ok=True, details=details)

    def register_webhook(self, channel: ChannelRef) -> None:
        """Subscribe the app to the WABA; with an https address, point its webhooks at this channel."""
        waba = str(channel.credentials.get("waba_id") or "")
        if not waba:
            return  # the callback URL is then set in the Meta app dashboard
        payload = {}
        if channel.webhook_url.startswith("https://") and channel.credentials.get("verify_token"):
            payload = {
                "override_callback_uri": channel.webhook_url,
                "verify_token": channel.credentials["verify_token"],
            }
        graph_json(
            http(
                "POST",
                f"{channel.api_url}/{waba}/subscribed_apps",
                headers=self.auth_headers(channel),
                json=payload,
            )
        )

    def resync(self, channel: ChannelRef, since: datetime | None) -> list:
        """WhatsApp keeps no history to fetch; what a sync refreshes is the list of approved templates."""
        waba = str(channel.credentials.get("waba_id") or "")
        if not waba:
            return []
        templates = self.fetch_templates(channel, waba)
        return [
            ChannelSettingsEvent(
                {
                    "templates": templates,
                    "templates_synced_at": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            )
        ]

    def fetch_templates(self, channel: ChannelRef, waba: str) -> list[dict]:
        """Approved templates a composer can fill: [{"name", "language", "body", "params", ...}]."""
        headers = self.auth_headers(channel)
        url = f"{channel.api_url}/{waba}/message_templates"
        params: dict | None = {
            "status": "APPROVED",
            "fields": "name,language,status,category,parameter_format,components",
            "limit": 100,
        }
        found = []
        for _page in range(MAX_TEMPLATE_PAGES):
            data = graph_json(http("GET", url, headers=headers, params=params))
            for item in data.get("data") or ():
                template = _usable_template(item) if isinstance(item, dict) else None
                if template is not None:
                    found.append(template)
            url = (data.get("paging") or {}).get("next")
            if not url:
                break
            params = None  # the next link carries them
        return sorted(found, key=lambda t: (t["name"], t["language"]))


def template_payload(template: dict) -> dict:
    """The Cloud API's template object for {"name", "language", "params", "param_names"?}."""
    params = [str(p) for p in template.get("params") or ()]
    names = template.get("param_names") or ()
    payload = {"name": template["name"], "language": {"code": template["language"]}}
    if params:
        parameters = []
        for index, value in enumerate(params):
            parameter = {"type": "text", "text": value}
            if index < len(names):
                parameter["parameter_name"] = names[index]
            parameters.append(parameter)
        payload["components"] = [{"type": "body", "parameters": parameters}]
    return payload


def _usable_template(item: dict) -> dict | None:
    """A template the composer can send with body parameters only; None for one needing more.

    Templates with a media header, header variables or URL button variables need inputs
    this composer does not offer: sending them without would be refused by WhatsApp.
    """
    if item.get("status", "APPROVED") != "APPROVED" or not item.get("name") or not item.get("language"):
        return None
    body = ""
    for component in item.get("components") or ():
        if not isinstance(component, dict):
            continue
        kind = str(component.get("type") or "").upper()
        if kind == "BODY":
            body = str(component.get("text") or "")
        elif kind == "HEADER":
            if str(component.get("format") or "TEXT").upper() != "TEXT" or PLACEHOLDER.search(
                str(component.get("text") or "")
            ):
                return None
        elif kind == "BUTTONS":
            for button in component.get("buttons") or ():
                if isinstance(button, dict) and PLACEHOLDER.search(str(button.get("url") or "")):
                    return None
    names = list(dict.fromkeys(PLACEHOLDER.findall(body)))
    template = {
        "name": str(item["name"]),
        "language": str(item["language"]),
        "body": body,
        "params": len(names),
    }
    if str(item.get("parameter_format") or "").upper() == "NAMED":
        template["param_names"] = names
    return template


def _attachment(kind_of: str, body: dict) -> InboundAttachment:
    media_id = body.get("id")
    if not media_id:
        raise MalformedPayload(f"a {kind_of} message has no media id")
    content_type = str(body.get("mime_type") or "application/octet-stream").split(";")[0].strip()
    filename = str(body.get("filename") or "")
    if not filename:
        extension = mimetypes.guess_extension(content_type) or ""
        filename = f"{kind_of}-{media_id}{extension}"
    return InboundAttachment(filename=filename[:255], content_type=content_type[:100], url=str(media_id))


def _location(body: dict) -> tuple[str, dict]:
    try:
        latitude, longitude = float(body["latitude"]), float(body["longitude"])
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedPayload("a location message has no coordinates") from exc
    name, address = str(body.get("name") or ""), str(body.get("address") or "")
    place = {"lat": latitude, "lon": longitude}
    if name:
        place["title"] = name
    if address:
        place["address"] = address
    shown = ", ".join(part for part in (name, address) if part) or f"{latitude}, {longitude}"
    return shown, {"location": place}


def _shared_contacts(cards: list) -> tuple[str, dict]:
    """Shared contact cards: a line per card; the first card's name and phone for the client card."""
    lines, context = [], {}
    for card in cards:
        if not isinstance(card, dict):
            continue
        name = str((card.get("name") or {}).get("formatted_name") or "")
        phones = [p for p in card.get("phones") or () if isinstance(p, dict)]
        phone = ""
        if phones:
            phone = str(phones[0].get("phone") or "") or (
                "+" + str(phones[0]["wa_id"]) if phones[0].get("wa_id") else ""
            )
        lines.append(" ".join(part for part in (name, phone) if part))
        if not context:
            context = {"contact": {"name": name, "phone": phone}}
    return "\n".join(line for line in lines if line), context


def _media_body(attachment: OutboundAttachment, media_id: str, caption: str) -> dict:
    kind = SEND_AS.get(attachment.content_type.split(";")[0].strip().lower(), "document")
    media: dict = {"id": media_id}
    if kind == "document":
        media["filename"] = attachment.filename
    if caption and kind != "audio":  # voice notes carry no caption
        media["caption"] = caption
    return {"type": kind, kind: media}


def _status_error(error: dict) -> str:
    """What staff read next to a message WhatsApp could not deliver."""
    try:
        code = int(error.get("code"))
    except (TypeError, ValueError):
        code = None
    if code == WHATSAPP_WINDOW_CLOSED:
        return window_closed_reason()
    title = str(error.get("title") or error.get("message") or "Delivery failed")
    details = (
        (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else None
    )
    text = f"{title}: {details}" if details and details != title else title
    return f"{text} (code {code})" if code is not None else text


adapter = WhatsAppAdapter()
