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


@dataclass(frozen=True)
class ChannelRef:
    """The channel a message goes out through, as an adapter needs to know it."""

    id: int
    kind: str
    uid: str
    settings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OutboundAttachment:
    filename: str
    content_type: str
    path: str  # absolute path of the stored file


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
    """Sending again will not help: the client blocked the bot, the token was revoked, ..."""


class Adapter:
    """One platform. Subclasses set `kind` and implement what the platform supports."""

    kind: str = ""
    supports_reply_to: bool = False

    def send(self, channel: ChannelRef, message: OutboundMessage) -> SendResult:
        """Deliver one message; raise TemporaryError or PermanentError when the platform refuses."""
        raise NotImplementedError
