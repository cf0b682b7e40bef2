"""VK community messages: Callback API (v5.199) in, messages.send out.

Every callback is a POST {"type", "object", "group_id", "secret", "event_id", "v"}; it is
VK's only when `secret` is the channel's secret key and `group_id` its community. VK
wants the plain text `ok` back (for `confirmation`: the confirmation code, exactly) and
sends again whatever got another answer.

Ids: a contact is the conversation's peer_id (the user's id in a private chat, 2e9 + n
in a chat the community was added to); a message is str(id). In chats VK gives a
community bot id 0, so there a message is "c<peer_id>_<conversation_message_id>"
(conversation message ids count per conversation).

messages.send carries random_id = our message id: VK drops a second message with the
same random_id from the same community, so a send retried after a lost answer is not
doubled.
"""

import hmac
import json
import logging
import mimetypes
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
    OutboundEcho,
    OutboundMessage,
    PermanentError,
    SendResult,
    TemporaryError,
    WebhookReply,
    WebhookRequest,
)
from channels.http import download, filename_from_url, http, json_or_none, retry_after_header

log = logging.getLogger(__name__)

API_VERSION = "5.199"
CHAT_PEER_BASE = 2_000_000_000

# VK error codes (https://dev.vk.com/ru/reference/errors)
UNKNOWN_ERROR = 1
AUTH_FAILED = 5
TOO_MANY_REQUESTS = 6
FLOOD_CONTROL = 9
INTERNAL_ERROR = 10
USER_DENIED_MESSAGES = 901  # the user has not allowed (or has forbidden) messages from the community
USER_PRIVACY = 902  # the user's privacy settings forbid it
CHAT_BOT_FEATURE = 912  # keyboards need the community's bot features switched on
BLOCKED_CODES = (USER_DENIED_MESSAGES, USER_PRIVACY)
TEMPORARY_CODES = {UNKNOWN_ERROR: 5, TOO_MANY_REQUESTS: 1, FLOOD_CONTROL: 60, INTERNAL_ERROR: 10}

PHOTO_TYPES = ("image/jpeg", "image/png", "image/gif")
BUTTON_LABEL_MAX = 40
# the sender's name: looked up once per user (VK's message carries only the id)
NAME_LOOKUP_TIMEOUT = (2, 3)
NAME_CACHE_SECONDS = 3600
NAME_CACHE_MAX = 5000
# a first sync (no earlier one) reaches this far back; a sync never walks more than this
FIRST_SYNC_DAYS = 7
SYNC_MAX_CONVERSATIONS = 1000
SYNC_MAX_PAGES_PER_CONVERSATION = 5
PAGE = 200


def message_external_id(message: dict, peer_id: int | None = None) -> str | None:
    """Our key for a VK message: str(id), or "c<peer>_<conversation_message_id>" where id is 0."""
    if message.get("id"):
        return str(message["id"])
    peer = message.get("peer_id") or peer_id
    cmid = message.get("conversation_message_id")
    if peer and cmid:
        return f"c{peer}_{cmid}"
    return None


def _at(stamp) -> datetime | None:
    if isinstance(stamp, int | float) and stamp > 0:
        return datetime.fromtimestamp(stamp, UTC)
    return None


def _largest(sizes) -> dict:
    sized = [s for s in sizes or () if isinstance(s, dict) and s.get("url")]
    if not sized:
        return {}
    return max(sized, key=lambda s: (s.get("width") or 0) * (s.get("height") or 0))


class VkError(PermanentError):
    """VK refused for good; the code lets send retry 912 (no bot features) without the keyboard."""

    def __init__(self, reason: str, code):
        super().__init__(reason)
        self.code = code


class VkAdapter(Adapter):
    kind = "vk"
    supports_reply_to = True

    def __init__(self):
        self._names: dict[tuple[str, int], tuple[float, str, str | None]] = {}
        self._names_lock = threading.Lock()

    # --- the API ------------------------------------------------------------------------------

    def _call(self, channel: ChannelRef, method: str, params: dict, **kwargs):
        """One API method, token and version in the POST body; VK's {"error"} as our errors."""
        token = channel.credentials.get("access_token")
        if not token:
            raise PermanentError(_("The channel has no VK access token."))
        data = {**params, "access_token": token, "v": API_VERSION}
        response = http("POST", f"{channel.api_url}/{method}", data=data, **kwargs)
        if response.status_code == 429 or response.status_code >= 500:
            raise TemporaryError(
                _("VK is not available (HTTP %(code)s).", code=response.status_code),
                retry_after_header(response),
            )
        body = json_or_none(response)
        if not isinstance(body, dict):
            raise PermanentError(_("VK answered HTTP %(code)s.", code=response.status_code))
        if isinstance(body.get("error"), dict):
            raise self._error(body["error"])
        if "response" not in body:
            raise PermanentError(_("VK answered without a response."))
        return body["response"]

    @staticmethod
    def _error(error: dict) -> DeliveryError:
        code = error.get("error_code")
        message = str(error.get("error_msg") or code)
        if code in BLOCKED_CODES:
            return BlockedError("")  # staff see the standard "Bot blocked by the user"
        if code in TEMPORARY_CODES:
            return TemporaryError(_("VK asks to wait: %(reason)s", reason=message), TEMPORARY_CODES[code])
        if code == AUTH_FAILED:
            return VkError(_("VK refused the access token: %(reason)s", reason=message), code)
        return VkError(_("VK refused: %(reason)s", reason=message), code)

    # --- outbound -----------------------------------------------------------------------------

    def send(self, channel: ChannelRef, message: OutboundMessage) -> SendResult:
        """messages.send with random_id = our message id; files uploaded first, then attached."""
        try:
            peer_id = int(message.contact_external_id)
        except ValueError as exc:
            raise PermanentError(_("This is not a VK conversation.")) from exc
        params: dict = {"peer_id": peer_id, "random_id": message.message_id, "message": message.text or ""}
        attachments = [self._upload(channel, peer_id, item) for item in message.attachments]
        if attachments:
            params["attachment"] = ",".join(attachments)
        if not params["message"] and not attachments:
            raise PermanentError(_("The message is empty."))
        reply_to = message.reply_to_external_id
        if reply_to and reply_to.startswith("c"):
            # a chat message is known by its conversation_message_id: quote it with `forward`
            peer, _sep, cmid = reply_to[1:].partition("_")
            if peer == str(peer_id) and cmid.isdigit():
                params["forward"] = json.dumps(
                    {"peer_id": peer_id, "conversation_message_ids": [int(cmid)], "is_reply": True}
                )
        elif reply_to and reply_to.isdigit():
            params["reply_to"] = int(reply_to)
        if message.buttons:
            params["keyboard"] = self._keyboard(message.buttons)
        try:
            answer = self._call(channel, "messages.send", params)
        except VkError as exc:
            if exc.code != CHAT_BOT_FEATURE or "keyboard" not in params:
                raise
            # the community has no bot features: the text still goes, without the buttons
            params.pop("keyboard")
            answer = self._call(channel, "messages.send", params)
        external_id = str(answer) if isinstance(answer, int) and answer > 0 else None
        return SendResult(external_id=external_id)

    @staticmethod
    def _keyboard(buttons) -> str:
        rows = [
            [{"action": {"type": "text", "label": label[:BUTTON_LABEL_MAX]}, "color": "secondary"}]
            for label in buttons
        ]
        return json.dumps({"one_time": False, "inline": False, "buttons": rows}, ensure_ascii=False)

    def _upload(self, channel: ChannelRef, peer_id: int, item: OutboundAttachment) -> str:
        """Upload one file to VK for this conversation; the attachment string messages.send takes."""
        if item.content_type in PHOTO_TYPES:
            server = self._call(channel, "photos.getMessagesUploadServer", {"peer_id": peer_id})
            uploaded = self._post_file(server, "photo", item)
            if not uploaded.get("photo") or uploaded.get("photo") == "[]":
                raise PermanentError(_("VK did not take the photo."))
            saved = self._call(
                channel,
                "photos.saveMessagesPhoto",
                {"photo": uploaded["photo"], "server": uploaded.get("server"), "hash": uploaded.get("hash")},
            )
            photo = saved[0] if isinstance(saved, list) and saved else {}
            if not photo.get("id"):
                raise PermanentError(_("VK did not save the photo."))
            key = f"_{photo['access_key']}" if photo.get("access_key") else ""
            return f"photo{photo['owner_id']}_{photo['id']}{key}"
        server = self._call(channel, "docs.getMessagesUploadServer", {"type": "doc", "peer_id": peer_id})
        uploaded = self._post_file(server, "file", item)
        if not uploaded.get("file"):
            raise PermanentError(
                _("VK did not take the file: %(reason)s", reason=uploaded.get("error") or "?")
            )
        saved = self._call(channel, "docs.save", {"file": uploaded["file"], "title": item.filename})
        doc = saved.get("doc") if isinstance(saved, dict) else None
        if not isinstance(doc, dict) or not doc.get("id"):
            raise PermanentError(_("VK did not save the file."))
        return f"doc{doc['owner_id']}_{doc['id']}"

    @staticmethod
    def _post_file(server, field: str, item: OutboundAttachment) -> dict:
        url = server.get("upload_url") if isinstance(server, dict) else None
        if not url:
            raise PermanentError(_("VK gave no upload address."))
        path = Path(item.path)
        try:
            with path.open("rb") as fh:
                response = http("POST", url, files={field: (item.filename, fh, item.content_type)})
        except OSError as exc:
            raise PermanentError(_("The file to send is missing.")) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TemporaryError(_("VK is not available (HTTP %(code)s).", code=response.status_code))
        body = json_or_none(response)
        if not isinstance(body, dict):
            raise PermanentError(_("VK answered HTTP %(code)s.", code=response.status_code))
        return body

    # --- inbound ------------------------------------------------------------------------------

    @staticmethod
    def _load(request: WebhookRequest) -> dict:
        try:
            data = json.loads(request.body)
        except ValueError as exc:
            raise MalformedPayload("The body is not JSON.") from exc
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise MalformedPayload("The callback has no type field.")
        return data

    def verify(self, channel: ChannelRef, request: WebhookRequest) -> None:
        """The callback names our community and carries our secret key."""
        data = self._load(request)
        secret = str(channel.credentials.get("secret") or "")
        if not secret:
            raise BadSignature("The channel has no VK secret key: set one in the community and here.")
        given = data.get("secret")
        if not isinstance(given, str) or not given:
            raise BadSignature("The callback carries no secret.")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            raise BadSignature("The callback's secret is wrong.")
        if str(data.get("group_id")) != str(channel.credentials.get("group_id") or "").strip():
            raise BadSignature("The callback is for another community.")

    def parse(self, channel: ChannelRef, request: WebhookRequest) -> WebhookReply:
        data = self._load(request)
        kind = data["type"]
        if kind == "confirmation":
            code = str(channel.credentials.get("confirmation") or "")
            if not code:
                log.warning("vk channel %s: confirmation asked, but no code is set", channel.id)
            return WebhookReply(body=code)
        obj = data.get("object")
        if kind in ("message_new", "message_edit", "message_reply", "message_allow", "message_deny"):
            if not isinstance(obj, dict):
                raise MalformedPayload(f"A {kind} callback without an object.")
        if kind == "message_new":
            # v5.103+ wraps the message with client_info; older versions send it bare
            message = obj.get("message") if isinstance(obj.get("message"), dict) else obj
            return WebhookReply(events=[self._inbound(channel, message, lookup_name=True)])
        if kind == "message_edit":
            peer_id, external_id = self._ids(obj)
            edited = MessageEdited(
                external_contact_id=str(peer_id),
                external_message_id=external_id,
                text=str(obj.get("text") or ""),
                edited_at=_at(obj.get("update_time")) or _at(obj.get("date")),
            )
            return WebhookReply(events=[edited])
        if kind == "message_reply":
            peer_id, external_id = self._ids(obj)
            return WebhookReply(events=[OutboundEcho(str(peer_id), external_id)])
        if kind in ("message_allow", "message_deny"):
            if not obj.get("user_id"):
                raise MalformedPayload(f"A {kind} callback without user_id.")
            return WebhookReply(events=[ContactBlocked(str(obj["user_id"]), blocked=kind == "message_deny")])
        log.info("vk channel %s: callback %r ignored", channel.id, kind)
        return WebhookReply()

    @staticmethod
    def _ids(message: dict) -> tuple[int, str]:
        peer_id = message.get("peer_id") or message.get("from_id")
        external_id = message_external_id(message)
        if not isinstance(peer_id, int) or not external_id:
            raise MalformedPayload("A message without peer_id and id (or conversation_message_id).")
        return peer_id, external_id

    def _inbound(
        self, channel: ChannelRef, message: dict, lookup_name: bool = False, profiles: dict | None = None
    ) -> InboundMessage:
        peer_id, external_id = self._ids(message)
        kind, text, attachments, context = self._content(message)
        quoted = message.get("reply_message")
        reply_to = message_external_id(quoted, peer_id) if isinstance(quoted, dict) else None
        forwarded = [m for m in message.get("fwd_messages") or () if isinstance(m, dict)]
        if forwarded:
            context["forwarded"] = [
                {"from_id": m.get("from_id"), "text": m.get("text") or ""} for m in forwarded
            ]
            # a forward from this same conversation is a quote; one from elsewhere links to nothing here
            if forwarded[0].get("peer_id") in (None, peer_id):
                reply_to = reply_to or message_external_id(forwarded[0], peer_id)
            if not text:
                text = "\n".join(f"» {m.get('text')}" for m in forwarded if m.get("text"))
        # a private conversation is named after the user; a chat's members don't name the chat
        name, avatar = "", None
        if 0 < peer_id < CHAT_PEER_BASE:
            if profiles is not None and peer_id in profiles:
                name, avatar = profiles[peer_id]
            elif lookup_name:
                name, avatar = self._profile(channel, peer_id)
        return InboundMessage(
            external_contact_id=str(peer_id),
            external_message_id=external_id,
            text=text,
            contact_name=name,
            kind=kind,
            attachments=attachments,
            sent_at=_at(message.get("date")),
            reply_to_external_id=reply_to,
            avatar_url=avatar,
            context=context,
        )

    @staticmethod
    def _content(message: dict) -> tuple[str, str, tuple[InboundAttachment, ...], dict]:
        """(kind, text, attachments, context) of one VK message; the first attachment sets the kind."""
        text = str(message.get("text") or "")
        kinds: list[str] = []
        files: list[InboundAttachment] = []
        context: dict = {}
        for item in message.get("attachments") or ():
            if not isinstance(item, dict) or not isinstance(item.get(item.get("type") or ""), dict):
                continue
            kind, body = item["type"], item[item["type"]]
            if kind == "photo":
                best = _largest(body.get("sizes"))
                if best:
                    name = f"photo{body.get('owner_id')}_{body.get('id')}.jpg"
                    files.append(InboundAttachment(name, "image/jpeg", url=best["url"]))
                    kinds.append("image")
            elif kind == "doc" and body.get("url"):
                title = str(body.get("title") or "file")
                ext = str(body.get("ext") or "")
                name = title if not ext or title.lower().endswith(f".{ext.lower()}") else f"{title}.{ext}"
                content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
                files.append(
                    InboundAttachment(name, content_type, int(body.get("size") or 0), url=body["url"])
                )
                kinds.append("image" if content_type.startswith("image/") else "file")
            elif kind == "audio_message":
                url = body.get("link_ogg") or body.get("link_mp3")
                if url:
                    ogg = url == body.get("link_ogg")
                    name = f"voice{body.get('id')}.{'ogg' if ogg else 'mp3'}"
                    files.append(InboundAttachment(name, "audio/ogg" if ogg else "audio/mpeg", url=url))
                    kinds.append("voice")
                    if body.get("duration"):
                        context["duration"] = body["duration"]
                    if body.get("transcript"):
                        context["transcript"] = body["transcript"]
            elif kind == "video":
                # a community can't download VK videos: staff get the link to watch it
                link = f"https://vk.com/video{body.get('owner_id')}_{body.get('id')}"
                context.setdefault("videos", []).append({"url": link, "title": body.get("title") or ""})
                kinds.append("video")
            elif kind == "sticker":
                best = _largest(body.get("images") or body.get("images_with_background"))
                context["sticker_id"] = body.get("sticker_id")
                if best:
                    name = f"sticker{body.get('sticker_id')}.png"
                    files.append(InboundAttachment(name, "image/png", url=best["url"]))
                kinds.append("sticker")
            elif kind == "graffiti" and body.get("url"):
                name = filename_from_url(body["url"], "graffiti.png")
                files.append(InboundAttachment(name, "image/png", url=body["url"]))
                kinds.append("image")
            elif kind == "link" and body.get("url"):
                context.setdefault("links", []).append(body["url"])
        geo = message.get("geo")
        if isinstance(geo, dict) and isinstance(geo.get("coordinates"), dict):
            place = {"lat": geo["coordinates"].get("latitude"), "lon": geo["coordinates"].get("longitude")}
            title = (geo.get("place") or {}).get("title") if isinstance(geo.get("place"), dict) else None
            if title:
                place["address"] = title
            context["location"] = place
            kinds.insert(0, "location")
            text = text or title or f"{place['lat']}, {place['lon']}"
        if "videos" in context and not text:
            text = "\n".join(v["url"] for v in context["videos"])
        return (kinds[0] if kinds else "text"), text, tuple(files), context

    def _profile(self, channel: ChannelRef, user_id: int) -> tuple[str, str | None]:
        """The user's name and photo (users.get), cached: a failure just leaves the name empty.

        VK's message carries only the sender's id; one short call per user per hour keeps
        the list from filling with nameless rows, and never fails the webhook.
        """
        key = (channel.uid, user_id)
        now = time.monotonic()
        with self._names_lock:
            cached = self._names.get(key)
        if cached and cached[0] > now:
            return cached[1], cached[2]
        try:
            users = self._call(
                channel,
                "users.get",
                {"user_ids": user_id, "fields": "photo_100"},
                timeout=NAME_LOOKUP_TIMEOUT,
            )
        except DeliveryError as exc:
            log.info("vk channel %s: no name for user %s (%s)", channel.id, user_id, exc.reason)
            return "", None
        profile = users[0] if isinstance(users, list) and users and isinstance(users[0], dict) else {}
        name, avatar = self._name_of(profile)
        with self._names_lock:
            if len(self._names) >= NAME_CACHE_MAX:
                self._names.clear()
            self._names[key] = (now + NAME_CACHE_SECONDS, name, avatar)
        return name, avatar

    @staticmethod
    def _name_of(profile: dict) -> tuple[str, str | None]:
        name = " ".join(str(profile.get(k) or "") for k in ("first_name", "last_name")).strip()
        return name, profile.get("photo_100") or None

    # --- operations ---------------------------------------------------------------------------

    def check_health(self, channel: ChannelRef) -> Health:
        """groups.getById: the token is the community's; groups.getCallbackServers: our server works."""
        group_id = str(channel.credentials.get("group_id") or "").strip()
        try:
            answer = self._call(channel, "groups.getById", {})
        except DeliveryError as exc:
            return Health(ok=False, reason=exc.reason)
        groups = answer.get("groups") if isinstance(answer, dict) else answer  # a list before 5.194
        group = groups[0] if isinstance(groups, list) and groups and isinstance(groups[0], dict) else {}
        details = {"vk_group_name": group.get("name") or "", "vk_screen_name": group.get("screen_name") or ""}
        if str(group.get("id")) != group_id:
            return Health(
                ok=False,
                reason=_(
                    "The access token belongs to another VK community (%(found)s, not %(expected)s).",
                    found=group.get("id"),
                    expected=group_id,
                ),
                details=details,
            )
        if not channel.uid:  # credentials tried before the channel is saved: no server can point at it yet
            return Health(ok=True, details=details)
        try:
            servers = self._call(channel, "groups.getCallbackServers", {"group_id": group_id})
        except TemporaryError as exc:
            return Health(ok=False, reason=exc.reason, details=details)
        except PermanentError:
            # a token without the "manage" right can't see the servers: the messages still work
            return Health(ok=True, details=details)
        ours = [s for s in (servers or {}).get("items") or () if s.get("url") == channel.webhook_url]
        if not ours:
            return Health(
                ok=False,
                reason=_(
                    "No Callback API server of the VK community points at %(url)s.", url=channel.webhook_url
                ),
                details=details,
            )
        status = ours[0].get("status")
        if status == "failed":
            return Health(ok=False, reason=_("VK could not deliver to the webhook."), details=details)
        if status != "ok":
            return Health(
                ok=False, reason=_("The VK Callback API server is not confirmed yet."), details=details
            )
        return Health(ok=True, details=details)

    def resync(self, channel: ChannelRef, since: datetime | None) -> list:
        """Client messages of the conversations updated since the last sync, oldest first.

        messages.getConversations (newest first) down to the last sync, then each one's
        messages.getHistory down to the same time. What VK says about writing to each one
        (can_write) brings blocks and unblocks that were missed.
        """
        since = since or datetime.now(UTC) - timedelta(days=FIRST_SYNC_DAYS)
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        floor = since.timestamp()
        events: list = []
        offset = 0
        while offset < SYNC_MAX_CONVERSATIONS:
            page = self._call(
                channel,
                "messages.getConversations",
                {"offset": offset, "count": PAGE, "filter": "all", "extended": 1, "fields": "photo_100"},
            )
            items = page.get("items") or []
            profiles = self._profiles(page)
            reached = False
            for item in items:
                last = item.get("last_message") or {}
                if (last.get("date") or 0) < floor:
                    reached = True
                    break
                conversation = item.get("conversation") or {}
                peer_id = (conversation.get("peer") or {}).get("id")
                if not isinstance(peer_id, int):
                    continue
                events.extend(self._history(channel, peer_id, floor, profiles))
                can_write = conversation.get("can_write") or {}
                if can_write.get("allowed"):
                    events.append(ContactBlocked(str(peer_id), blocked=False))
                elif can_write.get("reason") in BLOCKED_CODES:
                    events.append(ContactBlocked(str(peer_id), blocked=True))
            offset += PAGE
            if reached or len(items) < PAGE or offset >= (page.get("count") or 0):
                break
        return events

    def _history(self, channel: ChannelRef, peer_id: int, floor: float, profiles: dict) -> list:
        found: list[InboundMessage] = []
        for number in range(SYNC_MAX_PAGES_PER_CONVERSATION):
            page = self._call(
                channel,
                "messages.getHistory",
                {
                    "peer_id": peer_id,
                    "offset": number * PAGE,
                    "count": PAGE,
                    "extended": 1,
                    "fields": "photo_100",
                },
            )
            items = page.get("items") or []
            profiles = {**profiles, **self._profiles(page)}
            older = False
            for message in items:  # newest first
                if (message.get("date") or 0) < floor:
                    older = True
                    break
                if message.get("out") or not message_external_id(message, peer_id):
                    continue
                found.append(self._inbound(channel, {"peer_id": peer_id, **message}, profiles=profiles))
            if older or len(items) < PAGE:
                break
        found.reverse()
        return found

    def _profiles(self, page: dict) -> dict:
        return {
            p["id"]: self._name_of(p) for p in page.get("profiles") or () if isinstance(p, dict) and "id" in p
        }

    def fetch_media(self, channel: ChannelRef, url: str) -> FetchedMedia:
        """A file the client sent: VK's links (photo sizes, doc url, link_ogg) are plain GETs."""
        return download(url, "VK")


adapter = VkAdapter()
