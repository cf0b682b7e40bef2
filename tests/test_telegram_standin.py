"""A local stand-in for the Telegram Bot API (pytest-httpserver), shared by the Telegram tests.

It serves `/bot<token>/<method>` and `/file/bot<token>/<path>`, records every call (the token
in the path, the JSON body or the multipart form and files) and answers as api.telegram.org
does: `{"ok": true, "result": ...}`, or an answer queued with `answer(method, status, body)`,
e.g. `answer("sendMessage", 403, BLOCKED)`. Point the app at it with `telegram_api.url`
(the `telegram_api` fixture sets TELEGRAM_API_URL itself).
"""

import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from werkzeug import Request, Response

from services.channels import encrypt_credentials
from tests.factories import make_channel

PAYLOADS = Path(__file__).parent / "payloads" / "telegram"
TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = "s3cr3t-Token_from-setWebhook"
CHAT = "111222333"
BOT = {"id": 7000000001, "is_bot": True, "first_name": "Okno Salon", "username": "okno_salon_bot"}

# error bodies exactly as the Bot API sends them
BLOCKED = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
FLOOD = {
    "ok": False,
    "error_code": 429,
    "description": "Too Many Requests: retry after 35",
    "parameters": {"retry_after": 35},
}
CHAT_NOT_FOUND = {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
UNAUTHORIZED = {"ok": False, "error_code": 401, "description": "Unauthorized"}
WEBHOOK_ACTIVE = {
    "ok": False,
    "error_code": 409,
    "description": "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first",
}
BAD_GATEWAY = (
    "<html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway</h1></center></body></html>"
)


def payload(name: str) -> dict:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def make_telegram(credentials: dict | None = None, **settings):
    return make_channel(
        "telegram",
        credentials=encrypt_credentials(credentials or {"token": TOKEN, "secret": SECRET}),
        settings={"username": "okno_salon_bot", **settings},
    )


def post_update(client, channel, update, secret: str | None = SECRET):
    """Post as Telegram does: the JSON Update, the secret in X-Telegram-Bot-Api-Secret-Token."""
    body = update if isinstance(update, bytes | str) else json.dumps(update, ensure_ascii=False)
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return client.post(
        f"/webhooks/{channel.uid}", data=body, headers=headers, content_type="application/json"
    )


@dataclass
class Call:
    token: str
    method: str
    json: dict | None
    form: dict
    files: dict  # field -> (filename, content, content type)


@dataclass
class TelegramStandIn:
    url: str
    calls: list[Call] = field(default_factory=list)
    answers: dict[str, list[tuple[int, object]]] = field(default_factory=dict)
    updates: list[dict] = field(default_factory=list)  # what getUpdates hands out (offset honoured)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # file_id -> (file_path, content)
    webhook: dict = field(default_factory=lambda: {"url": "", "pending_update_count": 0})
    _ids: itertools.count = field(default_factory=lambda: itertools.count(5001))

    def answer(self, method: str, status: int, body) -> None:
        """The next call of `method` gets this answer (a dict as JSON, a str as HTML)."""
        self.answers.setdefault(method, []).append((status, body))

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    # the server side --------------------------------------------------------------------------

    def handle_method(self, request: Request) -> Response:
        token, method = re.fullmatch(r"/bot([^/]+)/(\w+)", request.path).groups()
        files = {k: (f.filename, f.read(), f.mimetype) for k, f in request.files.items()}
        body = request.get_json(silent=True) if request.is_json else None
        self.calls.append(Call(token, method, body, request.form.to_dict(), files))
        if token != TOKEN:
            return _json(401, UNAUTHORIZED)
        queued = self.answers.get(method)
        if queued:
            status, answer = queued.pop(0)
            return (
                _json(status, answer)
                if isinstance(answer, dict)
                else Response(answer, status, mimetype="text/html")
            )
        return _json(200, {"ok": True, "result": self._result(method, body or request.form.to_dict())})

    def handle_file(self, request: Request) -> Response:
        token, path = re.fullmatch(r"/file/bot([^/]+)/(.+)", request.path).groups()
        stored = {file_path: content for file_path, content in self.files.values()}
        if token != TOKEN or path not in stored:
            return _json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        return Response(stored[path], 200, mimetype="application/octet-stream")

    def _result(self, method: str, fields: dict):
        if method in ("sendMessage", "sendPhoto", "sendDocument"):
            chat = {"id": int(fields["chat_id"]), "first_name": "Мария", "type": "private"}
            return {"message_id": next(self._ids), "from": BOT, "chat": chat, "date": 1764150000}
        if method == "getMe":
            return {**BOT, "can_join_groups": True, "can_read_all_group_messages": False}
        if method == "getWebhookInfo":
            return {"has_custom_certificate": False, **self.webhook}
        if method == "setWebhook":
            self.webhook = {"url": fields["url"], "pending_update_count": 0}
            return True
        if method == "deleteWebhook":
            self.webhook = {"url": "", "pending_update_count": 0}
            return True
        if method == "getUpdates":
            offset = fields.get("offset")
            return [u for u in self.updates if offset is None or u["update_id"] >= offset]
        if method == "getFile":
            path, content = self.files[fields["file_id"]]
            return {
                "file_id": fields["file_id"],
                "file_unique_id": "AgADx",
                "file_size": len(content),
                "file_path": path,
            }
        raise AssertionError(f"the stand-in does not serve {method}")


def _json(status: int, body: dict) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status, mimetype="application/json")


@pytest.fixture
def telegram_api(app, httpserver) -> TelegramStandIn:
    """The stand-in, with TELEGRAM_API_URL pointing at it for this test."""
    stand_in = TelegramStandIn(httpserver.url_for("/").rstrip("/"))
    httpserver.expect_request(re.compile(r"^/bot[^/]+/\w+$")).respond_with_handler(stand_in.handle_method)
    httpserver.expect_request(re.compile(r"^/file/bot[^/]+/.+$")).respond_with_handler(stand_in.handle_file)
    app.config["TELEGRAM_API_URL"] = stand_in.url
    return stand_in
