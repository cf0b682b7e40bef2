"""What every channel adapter speaks: plain event objects in, plain messages out, two errors.

Adapters translate between a platform and these objects; they never touch the database.
The services decide what an inbound event means, the jobs decide when to send again.
"""

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class InboundAttachment:
    """A file the client sent: where the platform keeps it, or where we stored it already."""

    filename: str
    content_type: str
    size: int = 0
    url: str = ""  # the platform's link, fetched later by a job
    storage_path: str = ""  # relative to UPLOAD_DIR, when the file is already ours (widget uploads)


@dataclass(frozen=True)
class InboundMessage:
    """One message a client wrote, as a webhook or a resync delivered it."""

    external_contact_id: str
    external_message_id: str
    text: str = ""
    contact_name: str = ""
    kind: str = "text"
    attachments: tuple[InboundAttachment, ...] = ()
    sent_at: datetime | None = None
    reply_to_external_id: str | None = None
    phone: str | None = None
    email: str | None = None
    avatar_url: str | None = None
    # a name / phone a website visitor typed: shown as unverified, never linked automatically
    given_by_visitor: bool = False
    # platform-specific facts kept on the message (location, shared contact, Instagram comment ids)
    context: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ChannelRef:
    """A channel as an adapter needs to know it: ids, settings, decrypted credentials, URLs."""

    id: int
    kind: str
    uid: str
    settings: dict = field(default_factory=dict)
    credentials: dict = field(default_factory=dict)
    # the platform's API base URL (configurable so tests and staging talk to a stand-in)
    api_url: str = ""
    # where the platform should post updates: PUBLIC_URL + /webhooks/<uid>
    webhook_url: str = ""


@dataclass(frozen=True)
class OutboundAttachment:
    filename: str
    content_type: str
    path: str  # absolute path of the stored file
    # our Attachment row: platforms that fetch media by URL (Viber) get a signed link to it
    attachment_id: int | None = None


@dataclass(frozen=True)
class OutboundMessage:
    """A staff reply to deliver."""

    message_id: int
    conversation_id: int
    contact_id: int
    contact_external_id: str
    text: str
    kind: str = "text"
    attachments: tuple[OutboundAttachment, ...] = ()
    reply_to_external_id: str | None = None
    author_name: str = ""
    # kind "template" (WhatsApp outside the 24-hour window): {"name", "language", "params"}
    template: dict | None = None
    # the salon bot's reply buttons (Telegram keyboard, Viber keyboard), in order
    buttons: tuple[str, ...] = ()
    # platform-specific routing the inbound side recorded on the message it answers
    # (e.g. an Instagram comment id, so the reply goes back as a comment reply)
    context: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    """What the platform answered: its id for the message and how far it got."""

    external_id: str | None = None
    status: str = "sent"  # "sent", or "delivered" when the platform confirms at once


class DeliveryError(Exception):
    """The platform did not take the message; `reason` is what staff see next to it."""

    def __init__(self, reason: str = ""):
        super().__init__(reason)
        self.reason = reason


class TemporaryError(DeliveryError):
    """Try again later: rate limit (429 with retry_after), a 5xx, a timeout, a network error."""

    def __init__(self, reason: str = "", retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    """Sending again will not help: the token was revoked, the request is invalid, ..."""


class BlockedError(PermanentError):
    """The client blocked the bot (or unsubscribed): the contact is marked blocked."""


# --- inbound events besides InboundMessage ----------------------------------------------------


@dataclass(frozen=True)
class MessageEdited:
    """The client edited a message: the new text replaces it, the old one becomes a revision."""

    external_contact_id: str
    external_message_id: str
    text: str
    edited_at: datetime | None = None


@dataclass(frozen=True)
class StatusUpdate:
    """The platform reports how far one of our messages got: delivered, read or failed."""

    external_message_id: str
    status: str  # "sent", "delivered", "read", "failed"
    error: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class ContactBlocked:
    """The client blocked (blocked=True) or unblocked the bot / unsubscribed / resubscribed."""

    external_contact_id: str
    blocked: bool
    contact_name: str = ""


@dataclass(frozen=True)
class OutboundEcho:
    """A copy of a message the salon sent (VK message_reply, Instagram is_echo): not a client message."""

    external_contact_id: str
    external_message_id: str


@dataclass(frozen=True)
class ConversationStarted:
    """The client opened the bot for the first time (Viber conversation_started); no message yet."""

    external_contact_id: str
    contact_name: str = ""
    avatar_url: str | None = None
    payload: str = ""


@dataclass(frozen=True)
class ChannelSettings:
    """Facts the platform keeps about the channel itself (WhatsApp's approved templates), merged into
    Channel.settings: a resync may bring them."""

    settings: dict


InboundEvent = (
    InboundMessage
    | MessageEdited
    | StatusUpdate
    | ContactBlocked
    | OutboundEcho
    | ConversationStarted
    | ChannelSettings
)


@dataclass(frozen=True)
class WebhookRequest:
    """What an adapter sees of an incoming HTTP request: nothing Flask-specific."""

    method: str
    headers: dict  # lower-cased names
    args: dict
    body: bytes


@dataclass
class WebhookReply:
    """The events a webhook carried and the exact answer the platform expects."""

    events: list = field(default_factory=list)
    body: str = "ok"
    status: int = 200
    content_type: str = "text/plain"


class BadSignature(Exception):
    """The request is not from the platform: missing or wrong signature / secret (403)."""


class MalformedPayload(ValueError):
    """The body can't be read as the platform's format (400); the message says why."""


@dataclass(frozen=True)
class Health:
    ok: bool
    reason: str = ""
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FetchedMedia:
    content: bytes
    content_type: str
    filename: str = ""


class Adapter:
    """One platform. Subclasses set `kind` and implement what the platform supports."""

    kind: str = ""
    supports_reply_to: bool = False
    # WhatsApp and Instagram: free text only within 24 hours of the client's last message
    reply_window_hours: int | None = None

    def send(self, channel: ChannelRef, message: OutboundMessage) -> SendResult:
        """Deliver one message; raise TemporaryError or PermanentError when the platform refuses."""
        raise NotImplementedError

    def verify(self, channel: ChannelRef, request: WebhookRequest) -> None:
        """Raise BadSignature unless the request carries the platform's proof of origin."""
        raise BadSignature("this channel takes no webhooks")

    def handshake(self, channel: ChannelRef, request: WebhookRequest) -> WebhookReply:
        """Answer a GET verification handshake (Meta's hub.challenge); others have none."""
        return WebhookReply(body="Method not allowed", status=405)

    def parse(self, channel: ChannelRef, request: WebhookRequest) -> WebhookReply:
        """Read a verified webhook into events; MalformedPayload when it can't be read."""
        raise MalformedPayload("this channel takes no webhooks")

    def check_health(self, channel: ChannelRef) -> Health:
        """Ask the platform whether the credentials and the webhook work."""
        return Health(ok=True)

    def register_webhook(self, channel: ChannelRef) -> None:
        """Tell the platform where to post updates (Telegram setWebhook, Viber set_webhook)."""

    def fetch_media(self, channel: ChannelRef, url: str) -> FetchedMedia:
        """Download a file the client sent, from the reference the inbound event carried."""
        raise PermanentError("this channel has no media to fetch")

    def resync(self, channel: ChannelRef, since: datetime | None) -> list:
        """Events the platform still holds since the last sync (the inbound path dedupes)."""
        return []
