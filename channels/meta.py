"""What WhatsApp Cloud API and Instagram messaging share: Meta's webhooks and Graph API errors.

Meta signs every webhook POST with X-Hub-Signature-256 ("sha256=" + HMAC-SHA256 of the raw
body, keyed with the app secret) and verifies the callback URL with a GET handshake that
echoes hub.challenge. The Graph API answers errors as {"error": {"message", "type",
"code", "error_subcode", "error_data", "fbtrace_id"}}, whatever the product.
"""

import hashlib
import hmac
import json
from datetime import UTC, datetime

import requests
from flask_babel import gettext as _

from channels.base import (
    Adapter,
    BadSignature,
    ChannelRef,
    MalformedPayload,
    PermanentError,
    TemporaryError,
    WebhookReply,
    WebhookRequest,
)
from channels.http import json_or_none, retry_after_header

SIGNATURE_HEADER = "x-hub-signature-256"

# Graph API error codes that mean "too many calls, later will do": app, user and page
# throttling, WhatsApp account and throughput limits, too many messages to one user
RATE_LIMIT_CODES = {4, 17, 32, 613, 80007, 130429, 131056}
# an unknown / temporary failure on Meta's side: trying again is the documented advice
TRANSIENT_CODES = {1, 2, 131000, 131016}
TOKEN_INVALID = 190
# WhatsApp: the client last wrote more than 24 hours ago (free text needs an open window)
WHATSAPP_WINDOW_CLOSED = 131047
# Instagram: "This message is sent outside of allowed window"
INSTAGRAM_WINDOW_CLOSED_SUBCODE = 2534022
# wait this long when Meta throttles without saying for how long
DEFAULT_RETRY_AFTER = 60.0


def window_closed_reason() -> str:
    return _(
        "The 24-hour reply window has closed: the client last wrote more than 24 hours ago. "
        "Send an approved template, or wait until the client writes again."
    )


class GraphError(Exception):
    """One Graph API error body, read."""

    def __init__(self, status: int, code: int | None, subcode: int | None, message: str, transient: bool):
        super().__init__(message)
        self.status = status
        self.code = code
        self.subcode = subcode
        self.message = message
        self.transient = transient


def read_graph_error(response: requests.Response) -> GraphError | None:
    """The error a Graph API response carries, or None for a success."""
    data = json_or_none(response)
    error = data.get("error") if isinstance(data, dict) else None
    if response.status_code < 400 and not error:
        return None
    if not isinstance(error, dict):
        text = (response.text or "").strip()[:200] or response.reason or ""
        return GraphError(
            response.status_code, None, None, f"HTTP {response.status_code} {text}".strip(), False
        )
    message = str(error.get("message") or error.get("title") or "").strip()
    details = (
        (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else None
    )
    if details and details not in message:
        message = f"{message}: {details}" if message else str(details)
    return GraphError(
        response.status_code,
        _int(error.get("code")),
        _int(error.get("error_subcode")),
        message or f"HTTP {response.status_code}",
        bool(error.get("is_transient")),
    )


def graph_json(response: requests.Response) -> dict:
    """The JSON body of a successful Graph API call; TemporaryError / PermanentError otherwise.

    Rate limits (HTTP 429, codes 4, 17, 32, 613, 80007, 130429, 131056), 5xx and errors Meta
    marks transient are worth another try; an invalid token (190), the closed 24-hour window
    (131047) and every other refusal are not.
    """
    error = read_graph_error(response)
    if error is None:
        data = json_or_none(response)
        if not isinstance(data, dict):
            raise TemporaryError(f"Unreadable answer from Meta (HTTP {response.status_code}).")
        return data
    raise delivery_error(error, response)


def delivery_error(error: GraphError, response: requests.Response | None = None) -> Exception:
    label = f"{error.message} (code {error.code})" if error.code is not None else error.message
    if error.status == 429 or error.code in RATE_LIMIT_CODES:
        retry_after = retry_after_header(response) if response is not None else None
        return TemporaryError(
            _("Meta rate limit: %(reason)s", reason=label), retry_after=retry_after or DEFAULT_RETRY_AFTER
        )
    if error.status >= 500 or error.transient or error.code in TRANSIENT_CODES:
        return TemporaryError(label)
    if error.code == TOKEN_INVALID:
        return PermanentError(_("The access token is invalid or expired: %(reason)s", reason=label))
    if error.code == WHATSAPP_WINDOW_CLOSED or error.subcode == INSTAGRAM_WINDOW_CLOSED_SUBCODE:
        return PermanentError(window_closed_reason())
    return PermanentError(label)


class MetaAdapter(Adapter):
    """Signature check and handshake of Meta webhooks; subclasses parse and send."""

    reply_window_hours = 24

    def verify(self, channel: ChannelRef, request: WebhookRequest) -> None:
        secret = str(channel.credentials.get("app_secret") or "")
        if not secret:
            raise BadSignature("the channel has no app secret to check signatures with")
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not given:
            raise BadSignature("X-Hub-Signature-256 is missing")
        expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
            raise BadSignature("X-Hub-Signature-256 does not match the body")

    def handshake(self, channel: ChannelRef, request: WebhookRequest) -> WebhookReply:
        """Meta's GET verification: echo hub.challenge when the verify token matches."""
        expected = str(channel.credentials.get("verify_token") or "")
        given = str(request.args.get("hub.verify_token") or "")
        challenge = str(request.args.get("hub.challenge") or "")
        if (
            request.args.get("hub.mode") == "subscribe"
            and expected
            and hmac.compare_digest(given.encode(), expected.encode())
            and challenge
        ):
            return WebhookReply(body=challenge, status=200, content_type="text/plain")
        return WebhookReply(body="Verification failed", status=403, content_type="text/plain")

    def auth_headers(self, channel: ChannelRef) -> dict:
        token = str(channel.credentials.get("access_token") or "")
        if not token:
            raise PermanentError(_("The channel has no access token."))
        return {"Authorization": f"Bearer {token}"}


def read_body(request: WebhookRequest, expected_object: str) -> list[dict]:
    """The `entry` list of a webhook body for `expected_object`; MalformedPayload when unreadable.

    A body for another object (a page webhook sent to an Instagram URL, say) is well-formed
    but not ours: no entries, so it is answered 200 and ignored.
    """
    try:
        payload = json.loads(request.body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedPayload("the body is not JSON") from exc
    if not isinstance(payload, dict):
        raise MalformedPayload("the body is not a JSON object")
    if not isinstance(payload.get("object"), str):
        raise MalformedPayload("the body has no `object`")
    entries = payload.get("entry")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise MalformedPayload("`entry` is not a list of objects")
    if payload["object"] != expected_object:
        return []
    return entries


def list_of_dicts(value, name: str) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise MalformedPayload(f"`{name}` is not a list of objects")
    return value


def from_timestamp(value, milliseconds: bool = False) -> datetime | None:
    """Meta's Unix times (seconds on WhatsApp, milliseconds on Instagram) as aware UTC."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if milliseconds:
        number /= 1000
    try:
        return datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
