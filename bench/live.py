"""Realtime benchmark: how fast a client's message reaches the administrators' open inboxes.

Starts the stack as `make run` does (every Procfile process: the gunicorn web line, the
okno-worker, the telegram poller) against a fresh SQLite database migrated and seeded with
the demo salon in a temporary directory, and a redis-server of its own on a free port; the
widget's per-visitor and per-address limits are raised so the load is not refused, and
TELEGRAM_API_URL points at a stand-in in this process, so nothing leaves the machine.

Then it opens the staff event streams (/stream, logged in as anna, olena and the owner
through the login form) and the widget visitors' streams (/widget/<uid>/stream), and:

1. paced: posts client messages at --rate per second for --duration seconds, spread over
   the visitors, each with a unique client id, and measures for every message and every
   staff stream the time from the POST being answered to its `message.created` event
   arriving (and from the POST being sent: what a client-to-admin trip costs);
2. full push: --push-threads posters as fast as they go for --push-seconds; messages
   stored per second are counted in the database;
3. the RSS of web (master + workers) + worker + poller + Redis, from /proc.

--mode widget (default) posts to POST /widget/<uid>/messages as the widget script does;
--mode telegram posts real-format Telegram Update objects to POST /webhooks/<uid> of a
Telegram channel made with `flask channels add telegram --offline`, with its secret header.

Errors: answers other than 2xx, network failures, streams that closed, messages stored
but never announced to a staff stream. Exits 1 when a target is missed or anything failed.

    .venv/bin/python bench/live.py                       # widget, 50 msg/s for 60 s, 20 + 100 streams
    .venv/bin/python bench/live.py --mode telegram
    .venv/bin/python bench/live.py --duration 10 --push-seconds 5   # a quick look
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import secrets
import selectors
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ROOT,
    children,
    command,
    cpu_seconds,
    free_port,
    login,
    procfile,
    rss_mb,
    stack_env,
    start_process,
    start_redis,
    start_web,
    stop,
    web_pids,
)

RESULTS_DIR = ROOT / "bench" / "results"
DEMO_PASSWORD = "okno-demo"
STAFF_LOGINS = ("anna@salon.test", "olena@salon.test", "owner@salon.test")
P99_TARGET_MS = 100.0
PUSH_TARGET_PER_S = 200.0
RSS_TARGET_MB = 300.0
STREAM_WAIT = 20.0  # seconds the server gets to answer every stream request
HIGH_LIMIT = "1000000"  # per-minute widget limits for the run: the load comes from few addresses
TEXTS = (
    "Здравствуйте! Можно записаться на маникюр в субботу?",
    "Добрый день, сколько стоит окрашивание на длинные волосы?",
    "Вы работаете завтра с утра?",
    "Спасибо, до встречи!",
    "Можно перенести запись на час позже?",
    "Доброго дня! Чи є вільний час на стрижку в п'ятницю?",
)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 10) - 1]


# --- the event streams: one thread reads them all ---------------------------------------------


class _Conn:
    """One SSE connection: reads the response head, then de-chunks the body and cuts it into events."""

    def __init__(self, sock: socket.socket, kind: str):
        self.sock, self.kind = sock, kind
        self.staff = kind == "staff"
        self.head: bytes | None = None  # the response head, once it arrived
        self.chunked = False
        self.raw = b""
        self.text = b""
        self.ended = False

    def feed(self, data: bytes) -> list[bytes]:
        if self.head is None:
            self.raw += data
            if b"\r\n\r\n" not in self.raw:
                return []
            self.head, _, data = self.raw.partition(b"\r\n\r\n")
            self.chunked = b"transfer-encoding: chunked" in self.head.lower()
            self.raw = b""
        if self.chunked:
            self.raw += data
            while True:
                line_end = self.raw.find(b"\r\n")
                if line_end < 0:
                    break
                size = int(self.raw[:line_end].split(b";")[0], 16)
                end = line_end + 2 + size
                if len(self.raw) < end + 2:
                    break
                if size == 0:
                    self.ended = True
                self.text += self.raw[line_end + 2 : end]
                self.raw = self.raw[end + 2 :]
        else:
            self.text += data
        blocks = self.text.split(b"\n\n")
        self.text = blocks.pop()
        return blocks

    @property
    def status(self) -> str:
        parts = (self.head or b"").split(b"\r\n", 1)[0].split()
        return parts[1].decode() if len(parts) > 1 else "?"


class Streams:
    """Every stream on one selector, read by one thread (light on the client's CPU), as browsers hold them.

    Requests are sent without waiting for the answer, so a server that can't take them all
    shows as streams left unanswered rather than a bench that hangs. For each
    `message.created` on a staff stream it keeps the arrival times by message id; on
    visitor streams it only counts them.
    """

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.selector = selectors.DefaultSelector()
        self.arrivals: dict[int, list[float]] = {}
        self.types: Counter = Counter()
        self.visitor_created = 0
        self.requested: Counter = Counter()
        self.opened: Counter = Counter()
        self.refused: Counter = Counter()
        self.closed = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="streams", daemon=True)
        self._thread.start()

    def open(self, path: str, headers: dict[str, str], kind: str) -> None:
        self.requested[kind] += 1
        try:
            sock = socket.create_connection((self.host, self.port), timeout=10)
            lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Accept: text/event-stream"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        except OSError as exc:
            self.refused[f"{kind}: {type(exc).__name__}"] += 1
            return
        sock.setblocking(False)
        with self._lock:
            self.selector.register(sock, selectors.EVENT_READ, _Conn(sock, kind))

    def wait_open(self, timeout: float) -> int:
        """Wait until every stream was answered (or `timeout` s); how many are still unanswered."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                waiting = (
                    sum(self.requested.values()) - sum(self.opened.values()) - sum(self.refused.values())
                )
            if waiting <= 0 or time.monotonic() > deadline:
                return waiting
            time.sleep(0.05)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.selector.get_map():
                time.sleep(0.05)
                continue
            for key, _mask in self.selector.select(timeout=0.2):
                conn: _Conn = key.data
                try:
                    data = conn.sock.recv(262144)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                now = time.perf_counter()
                with self._lock:
                    answered = conn.head is not None
                    blocks = conn.feed(data) if data else []
                    if not answered and conn.head is not None:
                        if conn.status == "200":
                            self.opened[conn.kind] += 1
                        else:
                            self.refused[f"{conn.kind}: HTTP {conn.status}"] += 1
                            conn.ended = True
                    self._handle(conn, blocks, now)
                    if not data or conn.ended:
                        if conn.head is None:
                            self.refused[f"{conn.kind}: closed unanswered"] += 1
                        elif conn.status == "200":
                            self.closed += 1
                        self.selector.unregister(conn.sock)
                        conn.sock.close()

    def _handle(self, conn: _Conn, blocks: list[bytes], now: float) -> None:
        for block in blocks:
            event, data = b"", b""
            for line in block.split(b"\n"):
                if line.startswith(b"event:"):
                    event = line[6:].strip()
                elif line.startswith(b"data:"):
                    data = line[5:]
            if not event:
                continue  # a heartbeat comment
            self.types[(conn.kind, event.decode())] += 1
            if event == b"message.created":
                if conn.staff:
                    self.arrivals.setdefault(json.loads(data)["message_id"], []).append(now)
                else:
                    self.visitor_created += 1

    def reached(self, message_ids: list[int]) -> int:
        with self._lock:
            return sum(len(self.arrivals.get(i, ())) for i in message_ids)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for key in list(self.selector.get_map().values()):
            key.data.sock.close()


# --- a Telegram Bot API stand-in ------------------------------------------------------------------


class TelegramStandIn:
    """Answers the Bot API methods the adapter calls, the way Telegram does; counts them."""

    def __init__(self):
        self.calls: Counter = Counter()
        self._ids = itertools.count(1)
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):  # file downloads: nothing in this run sends media
                self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                method = self.path.rsplit("/", 1)[-1]
                stand_in.calls[method] += 1
                try:
                    payload = json.loads(body) if body.startswith(b"{") else {}
                except ValueError:
                    payload = {}
                self._answer(200, {"ok": True, "result": stand_in.result(method, payload)})

            def _answer(self, status: int, body: dict):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._stopping = threading.Event()
        threading.Thread(target=self.server.serve_forever, name="telegram-stand-in", daemon=True).start()

    def result(self, method: str, payload: dict):
        if method == "getMe":
            return {
                "id": 7000000001,
                "is_bot": True,
                "first_name": "Okno Bench",
                "username": "okno_bench_bot",
            }
        if method == "getWebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        if method == "getUpdates":
            # Telegram holds a long poll open while nothing comes: so does the stand-in
            self._stopping.wait(min(float(payload.get("timeout") or 0), 25))
            return []
        if method.startswith("send"):
            return {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": payload.get("chat_id"), "type": "private"},
                "text": payload.get("text", ""),
            }
        return True

    def close(self) -> None:
        self._stopping.set()
        self.server.shutdown()


# --- what the bench posts ---------------------------------------------------------------------


@dataclass
class Posted:
    key: str  # the external id the server stores it under
    sent: float
    answered: float
    status: int  # 0: no answer (network error)
    message_id: int | None = None


class WidgetTarget:
    """Visitors of the demo widget posting as widget.js does (Bearer token, client_id)."""

    kind = "widget"

    def __init__(self, uid: str, tokens: list[str]):
        self.uid, self.tokens = uid, tokens

    def post(self, conn: http.client.HTTPConnection, i: int, run: str) -> tuple[str, int, int | None]:
        token = self.tokens[i % len(self.tokens)]
        client_id = f"bench-{run}-{i:07d}"
        body = json.dumps({"text": f"{TEXTS[i % len(TEXTS)]} #{i}", "client_id": client_id})
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        conn.request("POST", f"/widget/{self.uid}/messages", body, headers)
        response = conn.getresponse()
        data = response.read()
        message_id = json.loads(data)["message"]["id"] if response.status == 201 else None
        return client_id, response.status, message_id


class TelegramTarget:
    """Telegram delivering Update objects to our webhook, as it does for a private chat with the bot."""

    kind = "telegram"
    FIRST_CHAT = 500_000_001

    def __init__(self, uid: str, secret: str, senders: int):
        self.uid, self.secret, self.senders = uid, secret, senders
        self._update_ids = itertools.count(800_000_001)

    def update(self, i: int) -> dict:
        person = i % self.senders
        chat_id = self.FIRST_CHAT + person
        user = {
            "id": chat_id,
            "is_bot": False,
            "first_name": "Клиент",
            "last_name": f"Бенч {person}",
            "username": f"bench_client_{person}",
            "language_code": "ru",
        }
        chat = {k: user[k] for k in ("id", "first_name", "last_name", "username")} | {"type": "private"}
        return {
            "update_id": next(self._update_ids),
            "message": {
                "message_id": i + 1,
                "from": user,
                "chat": chat,
                "date": int(time.time()),
                "text": f"{TEXTS[i % len(TEXTS)]} #{i}",
            },
        }

    def post(self, conn: http.client.HTTPConnection, i: int, run: str) -> tuple[str, int, int | None]:
        update = self.update(i)
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": self.secret}
        conn.request("POST", f"/webhooks/{self.uid}", json.dumps(update), headers)
        response = conn.getresponse()
        response.read()
        message = update["message"]
        return f"{message['chat']['id']}:{message['message_id']}", response.status, None


@dataclass
class Phase:
    name: str
    posted: list[Posted] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    started: float = 0.0
    ended: float = 0.0
    stored: int = 0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per process group
    machine_busy: float = 0.0  # the whole machine's CPU use over the phase, 0..1
    latencies: list[float] = field(default_factory=list)  # POST answered -> staff stream, ms
    trips: list[float] = field(default_factory=list)  # POST sent -> staff stream, ms
    first: list[float] = field(default_factory=list)  # answered -> the first staff stream, ms
    missing: int = 0  # stored, never announced to any staff stream
    visitor_expected: int = 0  # widget mode: each post is announced to its visitor's own stream too
    visitor_events: int = 0
    visitor_baseline: int = 0  # visitor message.created events before the phase
    short: int = 0  # (message, staff stream) pairs that never arrived

    @property
    def seconds(self) -> float:
        return max(self.ended - self.started, 1e-9)

    @property
    def visitor_missing(self) -> int:
        return max(self.visitor_expected - self.visitor_events, 0)

    @property
    def ok(self) -> list[Posted]:
        return [p for p in self.posted if 200 <= p.status < 300]


def run_posters(
    target,
    phase: Phase,
    threads: int,
    host: str,
    port: int,
    count: int | None,
    rate: float | None,
    seconds: float,
    first_index: int,
) -> None:
    """Post from `threads` threads: `count` messages at `rate` per second, or as many as fit in `seconds`."""
    counter = itertools.count()
    lock = threading.Lock()
    phase.started = time.perf_counter()
    deadline = phase.started + seconds

    def work() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        mine: list[Posted] = []
        errors: Counter = Counter()
        while True:
            n = next(counter)
            if count is not None and n >= count:
                break
            if rate:
                due = phase.started + n / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            elif time.perf_counter() >= deadline:
                break
            sent = time.perf_counter()
            try:
                key, status, message_id = target.post(conn, first_index + n, phase.name.split()[0])
            except (OSError, http.client.HTTPException) as exc:
                errors[type(exc).__name__] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                mine.append(Posted("", sent, time.perf_counter(), 0))
                continue
            mine.append(Posted(key, sent, time.perf_counter(), status, message_id))
            if not 200 <= status < 300:
                errors[f"HTTP {status}"] += 1
        conn.close()
        with lock:
            phase.posted.extend(mine)
            phase.errors.update(errors)

    workers = [threading.Thread(target=work, name=f"poster-{t}") for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    phase.ended = max((p.answered for p in phase.posted), default=time.perf_counter())


# --- the stack --------------------------------------------------------------------------------


@dataclass
class Memory:
    rss: dict[str, float]
    after_paced: dict[str, float]
    peak: dict[str, float]
    pss: dict[str, float]
    processes: dict[str, int]


def flask_cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "flask"), "--app", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def db_query(db_path: Path, sql: str, *params):
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def stored_count(db_path: Path, channel_id: int) -> int:
    return db_query(
        db_path, "SELECT count(*) FROM messages WHERE channel_id = ? AND direction = 'in'", channel_id
    )[0][0]


@dataclass
class Stack:
    tmp: Path
    db_path: Path
    env: dict[str, str]
    base: str
    port: int
    redis: subprocess.Popen
    web: subprocess.Popen
    others: dict[str, subprocess.Popen]

    def pids(self) -> dict[str, list[int]]:
        found = {"web": web_pids(self.web.pid)}
        for name, proc in self.others.items():
            found[name] = [proc.pid, *children(proc.pid)]
        found["redis"] = [self.redis.pid]
        return found

    def all_pids(self) -> list[int]:
        return [pid for pids in self.pids().values() for pid in pids]

    def rss(self, key: str = "VmRSS", source: str = "status") -> dict[str, float]:
        """A memory figure summed per Procfile process (with its children) and Redis, in MB."""
        return {name: sum(rss_mb(pid, key, source) for pid in pids) for name, pids in self.pids().items()}

    def stop(self) -> None:
        for proc in (self.web, *self.others.values(), self.redis):
            stop(proc)


def start_stack(tmp: Path, telegram_url: str, web_line: str) -> Stack:
    redis, redis_url = start_redis(tmp)
    port = free_port()
    db_path = tmp / "okno.db"
    env = stack_env(
        db_path,
        redis_url,
        OKNO_INSTANCE=str(tmp),
        UPLOAD_DIR=str(tmp / "uploads"),
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        WIDGET_POSTS_PER_MINUTE=HIGH_LIMIT,
        WIDGET_SESSIONS_PER_MINUTE=HIGH_LIMIT,
        TELEGRAM_API_URL=telegram_url,
        PORT=str(port),
    )
    try:
        flask_cli(env, "db", "upgrade")
        flask_cli(env, "seed-demo")
        web, base = start_web(db_path, redis_url, tmp / "web.log", env=env, port=port, line=web_line)
        others = {
            name: start_process(command(line, port), env, tmp / f"{name}.log")
            for name, line in procfile().items()
            if name != "web"
        }
    except BaseException:
        stop(redis)
        raise
    return Stack(tmp, db_path, env, base, port, redis, web, others)


def add_telegram_channel(stack: Stack) -> tuple[int, str, str]:
    """A Telegram channel made the operator's way (`flask channels add ... --offline`)."""
    secret = secrets.token_urlsafe(24)
    out = flask_cli(
        stack.env,
        "channels",
        "add",
        "telegram",
        "--name",
        "Bench bot",
        "--token",
        "7000000001:AAH" + "bench_token_for_a_stand_in_0000000",
        "--secret",
        secret,
        "--offline",
    )
    uid = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("uid:"))
    channel_id = db_query(stack.db_path, "SELECT id FROM channels WHERE uid = ?", uid)[0][0]
    return channel_id, uid, secret


def open_visitors(base: str, uid: str, n: int) -> list[str]:
    """n widget visitors (POST /widget/<uid>/session, as the widget's first screen does): their tokens."""
    import requests

    http = requests.Session()
    tokens = []
    for j in range(n):
        response = http.post(f"{base}/widget/{uid}/session", json={"name": f"Гость {j}", "phone": ""})
        if response.status_code != 201:
            raise SystemExit(f"widget session refused: {response.status_code} {response.text[:200]}")
        tokens.append(response.json()["token"])
    return tokens


# --- measuring --------------------------------------------------------------------------------


def settle(streams: Streams, phase: Phase, staff: int, db_path: Path, channel_id: int, wait: float) -> None:
    """Wait until every stored message reached every staff stream (or `wait` s pass with no progress);
    then account for what arrived."""
    if any(p.message_id is None for p in phase.ok):
        ids = dict(
            db_query(
                db_path,
                "SELECT external_id, id FROM messages WHERE channel_id = ? AND direction = 'in'",
                channel_id,
            )
        )
        for p in phase.ok:
            p.message_id = ids.get(p.key)
    ids = [p.message_id for p in phase.ok if p.message_id is not None]
    expected = len(ids) * staff
    last, changed = -1, time.monotonic()
    while True:
        got = streams.reached(ids)
        if got >= expected:
            break
        if got != last:
            last, changed = got, time.monotonic()
        elif time.monotonic() - changed > wait:
            break
        time.sleep(0.1)
    with streams._lock:
        for p in phase.ok:
            times = streams.arrivals.get(p.message_id or -1, [])
            if not times:
                phase.missing += 1
                continue
            phase.short += max(staff - len(times), 0)
            phase.latencies += [max(t - p.answered, 0.0) * 1000 for t in times]
            phase.trips += [(t - p.sent) * 1000 for t in times]
            phase.first.append(max(min(times) - p.answered, 0.0) * 1000)
    phase.missing += sum(1 for p in phase.ok if p.message_id is None)
    deadline = time.monotonic() + 2
    while streams.visitor_created - phase.visitor_baseline < phase.visitor_expected:
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    phase.visitor_events = streams.visitor_created - phase.visitor_baseline


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / tick, sum(fields) / tick


def own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def measured(stack: Stack, phase: Phase, run) -> None:
    groups = stack.pids()
    client, (busy, total) = own_cpu(), machine_cpu()
    before = {name: cpu_seconds(pids) for name, pids in groups.items()}
    run()
    phase.client_cpu = own_cpu() - client
    phase.cpu = {name: cpu_seconds(pids) - before[name] for name, pids in groups.items()}
    phase.server_cpu = sum(phase.cpu.values())
    busy_after, total_after = machine_cpu()
    phase.machine_busy = (busy_after - busy) / max(total_after - total, 1e-9)


def row(phase: Phase) -> str:
    ok = len(phase.ok)
    errors = sum(phase.errors.values()) + phase.missing + phase.visitor_missing
    return (
        f"{phase.name:<26} {len(phase.posted):>6} {ok:>6} {phase.stored:>6} "
        f"{phase.stored / phase.seconds:>7.1f} "
        f"{pct(phase.latencies, 50):>7.1f} {pct(phase.latencies, 99):>7.1f} {pct(phase.first, 99):>7.1f} "
        f"{pct(phase.trips, 99):>7.1f} {max(phase.latencies, default=float('nan')):>7.1f} {errors:>6}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=("widget", "telegram"), default="widget")
    parser.add_argument("--duration", type=float, default=60, help="seconds of paced posting")
    parser.add_argument("--rate", type=float, default=50, help="messages per second while paced")
    parser.add_argument("--staff-streams", type=int, default=20)
    parser.add_argument("--visitor-streams", type=int, default=100, help="also the number of senders")
    parser.add_argument("--posters", type=int, default=8, help="posting threads while paced")
    parser.add_argument("--push-threads", type=int, default=16)
    parser.add_argument("--push-seconds", type=float, default=20)
    parser.add_argument("--web", help="a web command line to try instead of the Procfile's (same $PORT)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (database, logs)")
    args = parser.parse_args(argv)
    senders = max(args.visitor_streams, 1)
    web_line = args.web or procfile().get("web", "")
    # a plain SIGTERM would skip the `finally` that stops the stack
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="okno-live-"))
    stand_in = TelegramStandIn()
    stack = streams = None
    phases: list[Phase] = []
    try:
        print(
            f"starting the stack in {tmp}: web `{web_line}`, " + ", ".join(procfile().keys() - {"web"}),
            flush=True,
        )
        stack = start_stack(tmp, stand_in.url, web_line)
        host, port = "127.0.0.1", stack.port
        widget_uid = db_query(
            stack.db_path, "SELECT uid FROM channels WHERE kind = 'widget' AND enabled ORDER BY id LIMIT 1"
        )[0][0]
        visitors = open_visitors(stack.base, widget_uid, senders)
        if args.mode == "telegram":
            channel_id, uid, secret = add_telegram_channel(stack)
            target = TelegramTarget(uid, secret, senders)
        else:
            channel_id = db_query(stack.db_path, "SELECT id FROM channels WHERE uid = ?", widget_uid)[0][0]
            target = WidgetTarget(widget_uid, visitors)

        logins = [login(stack.base, email, DEMO_PASSWORD) for email in STAFF_LOGINS]
        streams = Streams(host, port)
        for s in range(args.staff_streams):
            cookies = "; ".join(f"{c.name}={c.value}" for c in logins[s % len(logins)].cookies)
            streams.open("/stream", {"Cookie": cookies}, "staff")
        for token in visitors[: args.visitor_streams]:
            streams.open(f"/widget/{widget_uid}/stream?token={token}", {}, "visitor")
        unanswered = streams.wait_open(STREAM_WAIT)
        staff = streams.opened["staff"]
        pids = ", ".join(f"{name} {' '.join(map(str, p))}" for name, p in stack.pids().items())
        print(f"pids: {pids}", flush=True)
        print(
            f"streams open: {staff}/{args.staff_streams} staff, "
            f"{streams.opened['visitor']}/{args.visitor_streams} visitor"
            + (f"; refused {dict(streams.refused)}" if streams.refused else ""),
            flush=True,
        )
        # widget posts are announced on the posting visitor's own stream too (their other tabs)
        visitor_side = args.mode == "widget" and streams.opened["visitor"] == senders
        if unanswered:
            print(
                f"{unanswered} stream(s) not answered within {STREAM_WAIT:.0f} s: every web thread is held "
                f"by an open stream (web: {web_line}), so further requests would only queue. Stopping.",
                flush=True,
            )
            return 1
        load_before = os.getloadavg()[0]

        count = int(args.rate * args.duration)
        paced = Phase(f"paced {args.rate:g}/s x {args.duration:g} s")
        before = stored_count(stack.db_path, channel_id)
        paced.visitor_baseline = streams.visitor_created
        measured(
            stack,
            paced,
            lambda: run_posters(target, paced, args.posters, host, port, count, args.rate, args.duration, 0),
        )
        paced.stored = stored_count(stack.db_path, channel_id) - before
        paced.visitor_expected = len(paced.ok) if visitor_side else 0
        settle(streams, paced, staff, stack.db_path, channel_id, wait=5)
        phases.append(paced)
        print(f"  {row(paced)}", flush=True)
        rss_paced = stack.rss()

        push = Phase(f"push {args.push_threads} thr x {args.push_seconds:g} s")
        before = stored_count(stack.db_path, channel_id)
        push.visitor_baseline = streams.visitor_created
        measured(
            stack,
            push,
            lambda: run_posters(
                target, push, args.push_threads, host, port, None, None, args.push_seconds, count
            ),
        )
        push.stored = stored_count(stack.db_path, channel_id) - before
        push.visitor_expected = len(push.ok) if visitor_side else 0
        settle(streams, push, staff, stack.db_path, channel_id, wait=5)
        phases.append(push)
        print(f"  {row(push)}", flush=True)
        load_after = os.getloadavg()[0]
        memory = Memory(
            rss=stack.rss(),
            after_paced=rss_paced,
            peak=stack.rss("VmHWM"),
            pss=stack.rss("Pss", "smaps_rollup"),
            processes={name: len(pids) for name, pids in stack.pids().items()},
        )
    finally:
        if streams is not None:
            streams.close()
        if stack is not None:
            stack.stop()
        stand_in.close()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    ok = report(args, phases, streams, staff, memory, stand_in, load_before, load_after, web_line)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS_DIR / f"live-{args.mode}-{stamp}.json").write_text(
        json.dumps(
            {
                "args": vars(args),
                "web": web_line,
                "phases": [
                    {
                        "name": p.name,
                        "posted": len(p.posted),
                        "ok": len(p.ok),
                        "stored": p.stored,
                        "stored_per_s": p.stored / p.seconds,
                        "p50_ms": pct(p.latencies, 50),
                        "p99_ms": pct(p.latencies, 99),
                        "first_p99_ms": pct(p.first, 99),
                        "trip_p50_ms": pct(p.trips, 50),
                        "trip_p99_ms": pct(p.trips, 99),
                        "errors": dict(p.errors),
                        "missing": p.missing,
                        "short": p.short,
                        "client_cpu_s": p.client_cpu,
                        "server_cpu_s": p.server_cpu,
                        "cpu_s": p.cpu,
                        "machine_busy": p.machine_busy,
                    }
                    for p in phases
                ],
                "rss_mb": memory.rss,
                "peak_mb": memory.peak,
                "pss_mb": memory.pss,
                "load": [load_before, load_after],
            },
            indent=2,
        )
    )
    print("targets met" if ok else "targets MISSED")
    return 0 if ok else 1


def report(args, phases, streams, staff, memory, stand_in, load_before, load_after, web) -> bool:
    paced, push = phases
    print()
    print(f"Okno live benchmark, mode {args.mode}: {os.cpu_count()} CPUs, web `{web}`")
    print(
        f"streams: {staff} staff ({len(STAFF_LOGINS)} logins), {streams.opened['visitor']} visitor; "
        f"closed during the run {streams.closed}; refused {sum(streams.refused.values())}"
    )
    print()
    print(
        f"{'phase':<26} {'posted':>6} {'2xx':>6} {'stored':>6} {'st/s':>7} {'p50':>7} {'p99':>7} "
        f"{'1st p99':>7} {'trip99':>7} {'max':>7} {'errors':>6}"
    )
    print("-" * 108)
    for phase in phases:
        print(row(phase))
    print("-" * 108)
    print(
        "p50/p99/max: ms from the POST being answered to its message.created at a staff stream, over every\n"
        "(message, stream) pair; 1st p99: to the first staff stream; trip99: from the POST being sent."
    )
    for phase in phases:
        events = sum(len(streams.arrivals.get(p.message_id or -1, ())) for p in phase.ok)
        print(
            f"{phase.name}: {events} staff events of {len(phase.ok) * staff} expected, missing "
            f"{phase.missing} messages / {phase.short} deliveries; "
            + (
                f"visitor streams: {phase.visitor_events} message.created of {phase.visitor_expected} "
                "posts (the poster's own stream); "
                if phase.visitor_expected
                else ""
            )
            + f"errors {dict(phase.errors) or 'none'}; "
            f"POST p50 {pct([(p.answered - p.sent) * 1000 for p in phase.posted], 50):.1f} ms, "
            f"p99 {pct([(p.answered - p.sent) * 1000 for p in phase.posted], 99):.1f} ms; "
            f"server CPU {phase.server_cpu * 1000 / max(phase.stored, 1):.1f} ms per message ("
            + ", ".join(f"{k} {v * 1000 / max(phase.stored, 1):.1f}" for k, v in phase.cpu.items())
            + "), "
            f"{phase.server_cpu / phase.seconds * 100:.0f}% of one core; this client "
            f"{phase.client_cpu / phase.seconds * 100:.0f}% of one core; the machine's CPUs "
            f"{phase.machine_busy * 100:.0f}% busy"
        )
    kinds = Counter()
    for (kind, event), n in streams.types.items():
        kinds[f"{kind} {event}"] += n
    print("events received: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    if args.mode == "telegram":
        print(
            "telegram stand-in calls: "
            + (", ".join(f"{k} {n}" for k, n in sorted(stand_in.calls.items())) or "none")
        )
    total = sum(memory.rss.values())
    print(
        "VmRSS MB after the push: "
        + ", ".join(f"{k} {v:.0f} ({memory.processes[k]} proc)" for k, v in memory.rss.items())
        + f" = {total:.0f}; after the paced phase {sum(memory.after_paced.values()):.0f}, "
        f"peaks summed {sum(memory.peak.values()):.0f}; PSS (shared pages counted once) "
        f"{sum(memory.pss.values()):.0f}: " + ", ".join(f"{k} {v:.0f}" for k, v in memory.pss.items())
    )
    print(
        f"machine: load average {load_before:.2f} before, {load_after:.2f} after "
        "(other work on the box inflates the times; CPU per message holds)"
    )
    errors = (
        sum(sum(p.errors.values()) + p.missing + p.short + p.visitor_missing for p in phases)
        + streams.closed
        + sum(streams.refused.values())
    )
    checks = [
        (
            f"p99 <= {P99_TARGET_MS:.0f} ms at {args.rate:g} msg/s",
            f"{pct(paced.latencies, 99):.1f} ms",
            pct(paced.latencies, 99) <= P99_TARGET_MS,
        ),
        (
            f">= {PUSH_TARGET_PER_S:.0f} messages stored/s at full push",
            f"{push.stored / push.seconds:.0f}/s",
            push.stored / push.seconds >= PUSH_TARGET_PER_S,
        ),
        ("zero errors", str(errors), errors == 0),
        (f"stack RSS < {RSS_TARGET_MB:.0f} MB (sum of VmRSS)", f"{total:.0f} MB", total < RSS_TARGET_MB),
    ]
    print()
    for label, value, met in checks:
        print(f"  {label:<40} {value:>10}  {'ok' if met else 'MISSED'}")
    return all(met for _l, _v, met in checks)


if __name__ == "__main__":
    sys.exit(main())
