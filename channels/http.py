"""HTTP for adapters: one pooled session, timeouts, network failures as TemporaryError."""

import requests

from channels.base import TemporaryError

TIMEOUT = (5, 20)  # connect, read (seconds)

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
