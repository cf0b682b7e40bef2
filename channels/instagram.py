"""Instagram messaging (Meta webhooks, Graph API): direct messages and comments on the salon's posts.

Credentials: ig_user_id (Instagram Login) or page_id (the Facebook Page linked to the
account), access_token, app_secret (webhook signatures), verify_token (GET handshake).

Inbound: `entry[].messaging[]` for direct messages (`message` with text / attachments /
reply_to, `is_echo` for our own, `read`, `message_edit`) and `entry[].changes[]` of field
"comments" for comments on the salon's media. A comment becomes a client message whose
context holds its comment and media ids, so the staff answer goes back as a reply under
that comment (POST /{comment_id}/replies) instead of a direct message.
"""

import hashlib
import json
import logging
from pathlib import Path

from channels.base import (
    BlockedError,
    ChannelRef,
    FetchedMedia,
    Health,
    InboundAttachment,
    InboundMessage,
    MalformedPayload,
    MessageEdited,
    OutboundAttachment,
    OutboundEcho,
    OutboundMessage,
    PermanentError,
    SendResult,
    StatusUpdate,
    TemporaryError,
    WebhookReply,
    WebhookRequest,
)
from channels.http import http
from channels.meta import (
    MetaAdapter,
    delivery_error,
    from_timestamp,
    graph_json,
    list_of_dicts,
    read_body,
    read_graph_error,
)

log = logging.getLogger(__name__)

ATTACHMENT_KINDS = {"image": "image", "video": "video", "audio": "voice", "file": "file"}
ATTACHMENT_TYPES = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/mp4",
    "file": "application/octet-stream",
}
# shares of posts, reels and stories: a link to what the client shared
SHARE_TYPES = ("share", "ig_post", "ig_reel", "reel", "story_mention")
# "This person isn't available right now": the client blocked the account (or left Instagram)
USER_UNAVAILABLE_CODE = 551
COMMENT_FIELDS = ("comments", "live_comments")
# message ids are stored in 120 characters; Instagram's mids run longer
MAX_ID = 120


def short_id(mid: str) -> str:
    """An Instagram id as we store it: as is when it fits, else its head and a digest of the whole
    (the same mid always gives the same id, so dedupe, edits and read receipts still match)."""
    if len(mid) <= MAX_ID:
        return mid
    return mid[:80] + "#" + hashlib.sha256(mid.encode()).hexdigest()[:32]


class InstagramAdapter(MetaAdapter):
    kind = "instagram"

    # --- inbound -----------------------------------------------------------------------------

    def parse(self, channel: ChannelRef, request: WebhookRequest) -> WebhookReply:
        events: list = []
        for entry in read_body(request, "instagram"):
            own_id = str(entry.get("id") or "")
            for item in list_of_dicts(entry.get("messaging"), "messaging"):
                event = self._messaging(item, own_id)
                if event is not None:
                    events.append(event)
                else:
                    log.info("instagram channel %s: messaging event %s ignored", channel.id, sorted(item))
            for change in list_of_dicts(entry.get("changes"), "changes"):
                if change.get("field") in COMMENT_FIELDS:
                    events.append(self._comment(change.get("value"), own_id, entry.get("time")))
                else:
                    log.info(
                        "instagram channel %s: webhook field %r ignored", channel.id, change.get("field")
                    )
        return WebhookReply(events=events, body="ok")

    def _messaging(self, item: dict, own_id: str):
        sender = str((item.get("sender") or {}).get("id") or "")
        recipient = str((item.get("recipient") or {}).get("id") or "")
        if not sender:
            raise MalformedPayload("a messaging event has no sender")
        at = from_timestamp(item.get("timestamp"), milliseconds=True)
        if isinstance(item.get("message"), dict):
            message = item["message"]
            mid = message.get("mid")
            if not isinstance(mid, str) or not mid:
                raise MalformedPayload("a message has no `mid`")
            if message.get("is_echo") or (own_id and sender == own_id):
                return OutboundEcho(external_contact_id=recipient, external_message_id=short_id(mid))
            if message.get("is_deleted") or message.get("is_unsupported"):
                return None  # history is kept as it was; an unsupported item has nothing to show
            event = _direct_message(sender, mid, message, at)
            return event if event.text or event.attachments else None
        if isinstance(item.get("message_edit"), dict):
            edit = item["message_edit"]
            if not edit.get("mid"):
                raise MalformedPayload("a message edit has no `mid`")
            return MessageEdited(
                sender, short_id(str(edit["mid"])), str(edit.get("text") or ""), edited_at=at
            )
        if isinstance(item.get("read"), dict) and item["read"].get("mid"):
            return StatusUpdate(short_id(str(item["read"]["mid"])), "read", at=at)
        return None  # reactions, postbacks, referrals, a read receipt by watermark only

    def _comment(self, value, own_id: str, time) -> InboundMessage | OutboundEcho:
        if not isinstance(value, dict) or not value.get("id"):
            raise MalformedPayload("a comment has no `id`")
        author = value.get("from") if isinstance(value.get("from"), dict) else {}
        author_id = str(author.get("id") or "")
        if not author_id:
            raise MalformedPayload("a comment has no author")
        comment_id = str(value["id"])
        if own_id and author_id == own_id:
            return OutboundEcho(external_contact_id=author_id, external_message_id=comment_id)
        media = value.get("media") if isinstance(value.get("media"), dict) else {}
        context = {"comment_id": comment_id, "media_id": str(media.get("id") or "")}
        return InboundMessage(
            external_contact_id=author_id,
            external_message_id=comment_id,
            text=str(value.get("text") or ""),
            contact_name=str(author.get("username") or ""),
            sent_at=from_timestamp(time, milliseconds=_looks_like_milliseconds(time)),
            reply_to_external_id=str(value["parent_id"]) if value.get("parent_id") else None,
            context=context,
        )

    # --- outbound ----------------------------------------------------------------------------

    def send(self, channel: ChannelRef, message: OutboundMessage) -> SendResult:
        headers = self.auth_headers(channel)
        comment_id = (message.context or {}).get("comment_id")
        if comment_id:
            return self._reply_to_comment(channel, headers, str(comment_id), message)
        url = f"{channel.api_url}/{self._account(channel)}/messages"
        recipient = {"id": message.contact_external_id}
        result = None
        if message.text.strip():
            result = self._post(url, headers, {"recipient": recipient, "message": {"text": message.text}})
        for attachment in message.attachments:
            kind, attachment_id = self._upload(channel, headers, attachment)
            attachment_body = {"type": kind, "payload": {"attachment_id": attachment_id}}
            sent = self._post(
                url, headers, {"recipient": recipient, "message": {"attachment": attachment_body}}
            )
            result = result or sent
        if result is None:
            raise PermanentError("The message is empty.")
        return result

    def _reply_to_comment(
        self, channel: ChannelRef, headers: dict, comment_id: str, message: OutboundMessage
    ) -> SendResult:
        if message.attachments:
            raise PermanentError("A reply to an Instagram comment can carry text only.")
        if not message.text.strip():
            raise PermanentError("The message is empty.")
        response = http(
            "POST", f"{channel.api_url}/{comment_id}/replies", headers=headers, data={"message": message.text}
        )
        data = _answer(response)
        if not data.get("id"):
            raise TemporaryError("Instagram took the comment reply but gave no id for it.")
        return SendResult(external_id=str(data["id"]), status="sent")

    def _post(self, url: str, headers: dict, payload: dict) -> SendResult:
        data = _answer(http("POST", url, headers=headers, json=payload))
        if not data.get("message_id"):
            raise TemporaryError("Instagram accepted the message but gave no id for it.")
        return SendResult(external_id=short_id(str(data["message_id"])), status="sent")

    def _upload(self, channel: ChannelRef, headers: dict, attachment: OutboundAttachment) -> tuple[str, str]:
        """Upload a file from our server (Attachment Upload API, through the linked Page)."""
        page = str(channel.credentials.get("page_id") or "")
        if not page:
            raise PermanentError(
                "Sending files to Instagram needs the linked Facebook Page id in the channel."
            )
        path = Path(attachment.path)
        if not path.is_file():
            raise PermanentError(f"The file {attachment.filename} is missing on the server.")
        kind = _attachment_kind(attachment.content_type)
        with path.open("rb") as fh:
            response = http(
                "POST",
                f"{channel.api_url}/{page}/message_attachments",
                headers=headers,
                data={
                    "platform": "instagram",
                    "message": json.dumps({"attachment": {"type": kind, "payload": {"is_reusable": True}}}),
                },
                files={"filedata": (attachment.filename, fh, attachment.content_type)},
            )
        attachment_id = _answer(response).get("attachment_id")
        if not attachment_id:
            raise TemporaryError("Instagram took the file but gave no attachment id.")
        return kind, str(attachment_id)

    def _account(self, channel: ChannelRef) -> str:
        return str(channel.credentials.get("ig_user_id") or channel.credentials.get("page_id") or "me")

    # --- media, health -------------------------------------------------------------------------

    def fetch_media(self, channel: ChannelRef, url: str) -> FetchedMedia:
        """The attachment's CDN link from the webhook; it needs no token and expires after a while."""
        response = http("GET", url)
        error = read_graph_error(response)
        if error is not None:
            raise delivery_error(error, response)
        content_type = response.headers.get("Content-Type", "application/octet-stream")
        return FetchedMedia(response.content, content_type.split(";")[0].strip())

    def check_health(self, channel: ChannelRef) -> Health:
        """The account as the token sees it: GET /{ig_user_id or page_id or me}."""
        try:
            info = graph_json(
                http(
                    "GET",
                    f"{channel.api_url}/{self._account(channel)}",
                    headers=self.auth_headers(channel),
                    params={"fields": "id,username" if channel.credentials.get("ig_user_id") else "id,name"},
                )
            )
        except (PermanentError, TemporaryError) as exc:
            return Health(ok=False, reason=exc.reason)
        return Health(ok=True, details={k: info[k] for k in ("id", "username", "name") if k in info})


def _direct_message(sender: str, mid: str, message: dict, at) -> InboundMessage:
    text = str(message.get("text") or "")
    kind = "text"
    attachments = []
    links = []
    for item in list_of_dicts(message.get("attachments"), "attachments"):
        kind_of = str(item.get("type") or "")
        payload = item.get("payload") if isinstance(item.get("payload"), dict) else {}
        url = str(payload.get("url") or "")
        if kind_of in ATTACHMENT_KINDS and url:
            kind = ATTACHMENT_KINDS[kind_of] if not attachments else kind
            attachments.append(
                InboundAttachment(
                    filename=_filename(url, kind_of, len(attachments) + 1),
                    content_type=ATTACHMENT_TYPES[kind_of],
                    url=url,
                )
            )
        elif kind_of in SHARE_TYPES and url:
            links.append(url)
    if links and not any(link in text for link in links):
        text = "\n".join([text, *links]).strip()
    reply_to = message.get("reply_to") if isinstance(message.get("reply_to"), dict) else {}
    context = {}
    if isinstance(reply_to.get("story"), dict) and reply_to["story"].get("url"):
        context["story_url"] = str(reply_to["story"]["url"])
    return InboundMessage(
        external_contact_id=sender,
        external_message_id=short_id(mid),
        text=text,
        kind=kind,
        attachments=tuple(attachments),
        sent_at=at,
        reply_to_external_id=short_id(str(reply_to["mid"])) if reply_to.get("mid") else None,
        context=context,
    )


def _filename(url: str, kind_of: str, n: int) -> str:
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return name[:255] if "." in name else f"{kind_of}-{n}"


def _attachment_kind(content_type: str) -> str:
    main = content_type.split("/", 1)[0].lower()
    return {"image": "image", "video": "video", "audio": "audio"}.get(main, "file")


def _looks_like_milliseconds(value) -> bool:
    try:
        return float(value) > 1e11
    except (TypeError, ValueError):
        return False


def _answer(response) -> dict:
    """graph_json, with "this person isn't available" read as the client having blocked the account."""
    error = read_graph_error(response)
    if error is not None and error.code == USER_UNAVAILABLE_CODE:
        raise BlockedError(f"{error.message} (code {error.code})")
    return graph_json(response)


adapter = InstagramAdapter()
