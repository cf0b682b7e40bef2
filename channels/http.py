"""HTTP for adapters: one pooled session, timeouts, network failures as TemporaryError."""

from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

import requests
from flask_babel import gettext as _

from channels.base import FetchedMedia, PermanentError, TemporaryError

TIMEOUT = (5, 20)  # connect, read (seconds)
# the largest client file kept (the platforms' own limits are lower)
MEDIA_FETCH_MAX = 60 * 1024 * 1024

_session = requests.Session()
_session.headers["User-Agent"] = "Okno/1.0"


def http(method: str, url: str, **kwargs) -> requests.Response:
    """Send one request; a timeout or a refused connection is a temporary error."""
    kwargs.setdefault("timeout", TIMEOUT)
    try:
        return _session.request(method, url, **kwargs)
    except requests.Timeout as exc:
        raise TemporaryError("The platform did not answer in time.") from exc
    except requests.RequestException as exc:
        raise TemporaryError(f"Network error: {exc.__class__.__name__}") from exc


def json_or_none(response: requests.Response):
    try:
        return response.json()
    except ValueError:
        return None


def retry_after_header(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def filename_from_url(url: str, fallback: str) -> str:
    return unquote(PurePosixPath(urlsplit(url).path).name) or fallback


def download(url: str, platform: str, **kwargs) -> FetchedMedia:
    """A client's file from a platform's plain link (Viber, VK); `platform` names it in errors."""
    response = http("GET", url, stream=True, **kwargs)
    with response:
        if response.status_code == 429 or response.status_code >= 500:
            raise TemporaryError(
                _(
                    "%(platform)s is not available (HTTP %(code)s).",
                    platform=platform,
                    code=response.status_code,
                ),
                retry_after_header(response),
            )
        if response.status_code != 200:
            raise PermanentError(_("The file is no longer available on %(platform)s.", platform=platform))
        content = bytearray()
        try:
            for chunk in response.iter_content(64 * 1024):
                content += chunk
                if len(content) > MEDIA_FETCH_MAX:
                    raise PermanentError(_("The file is too large to keep."))
        except requests.RequestException as exc:
            raise TemporaryError(f"Network error: {exc.__class__.__name__}") from exc
    content_type = (response.headers.get("Content-Type") or "application/octet-stream").split(";")[0]
    return FetchedMedia(bytes(content), content_type.strip(), filename_from_url(url, ""))
