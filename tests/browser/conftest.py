"""Browser tests: the real app on a live server, driven by Playwright in Debian's Chromium.

One Chromium per session (pytest-playwright's `browser`), a new context per test. Each test
gets its own server on a free port over a fresh copy of the demo salon's database, so a
test that closes a dialog or changes a category leaves nothing behind for the next one.

The server is werkzeug's threaded server in a thread of this process rather than gunicorn
in a subprocess: starting one per test costs milliseconds (gunicorn's fork and import
would add a second or so to every test), the test reads the same database through the same
app to choose its data, and a server error's traceback lands in this test's output.
Production serving (gunicorn gthread) is what bench/ measures.

Marked `browser` (`pytest -m "not browser"` leaves them out). CHROMIUM_PATH points at another
Chromium; a failed test's screenshots go to OKNO_SCREENSHOT_DIR (default: the system temp dir).
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from jinja2 import BytecodeCache
from redis import Redis
from sqlalchemy import text
from werkzeug.serving import make_server

from app import create_app
from extensions import db
from tests.test_telegram_standin import TelegramStandIn

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
DEMO_PASSWORD = "okno-demo"
SCREENSHOT_DIR = Path(os.environ.get("OKNO_SCREENSHOT_DIR", Path(tempfile.gettempdir()) / "okno-browser"))


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.browser)


# --- Chromium -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium (there is no `playwright install` here), headless, as root on CI."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (make system-test)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def base_url():
    """Each test has its own server: see browser_context_args (and no --base-url here)."""
    return None


@pytest.fixture
def browser_context_args(browser_context_args, live_server):
    """Every context talks to this test's server, as a salon in Moscow would (Russian first)."""
    return {
        **browser_context_args,
        "base_url": live_server.url,
        "locale": "ru-RU",
        "timezone_id": "Europe/Moscow",
        "viewport": {"width": 1440, "height": 900},
    }


# --- the live server ------------------------------------------------------------------


@pytest.fixture(scope="session")
def uploads_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("uploads")


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory, migrated_db, redis_server, uploads_dir) -> Path:
    """The migrated database with the demo salon seeded once; each test serves a copy."""
    from services.demo import seed_demo

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    shutil.copy(migrated_db, path)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "REDIS_URL": redis_server.url,
            "UPLOAD_DIR": uploads_dir,
        }
    )
    with app.app_context():
        assert seed_demo(only_if_empty=False)
        # WAL mode: fold the log into the file, or the copies would miss the seed
        db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.session.remove()
        db.engine.dispose()
    return path


class MemoryBytecodeCache(BytecodeCache):
    """Compiled templates shared by the tests' apps (each app would compile every template again)."""

    def __init__(self):
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        if bucket.key in self.store:
            bucket.bytecode_from_string(self.store[bucket.key])

    def dump_bytecode(self, bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


@pytest.fixture(scope="session")
def template_cache() -> MemoryBytecodeCache:
    return MemoryBytecodeCache()


class ErrorRecorder:
    """WSGI middleware noting every 5xx answer: a browser shows an error page, a test might not look."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.errors: list[str] = []

    def __call__(self, environ, start_response):
        def recording_start_response(status, headers, *args):
            if status.startswith("5"):
                self.errors.append(f"{status} {environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}")
            return start_response(status, headers, *args)

        return self.wsgi_app(environ, recording_start_response)


class LiveServer:
    """The app served over HTTP in a background thread; `stop()` returns when it is down."""

    def __init__(self, app):
        self.app = app
        self.recorder = ErrorRecorder(app.wsgi_app)
        app.wsgi_app = self.recorder
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="okno-live-server", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()  # waits for serve_forever to return
        self.server.server_close()
        self.thread.join(5)
        assert not self.thread.is_alive(), "the live server did not stop"

    @contextmanager
    def app_context(self):
        """For the test to read or arrange data in the served database (its own session)."""
        with self.app.app_context():
            yield


@pytest.fixture
def live_server(tmp_path, demo_db, redis_server, uploads_dir, template_cache):
    path = tmp_path / "okno.db"
    shutil.copy(demo_db, path)
    Redis.from_url(redis_server.url).flushdb()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "REDIS_URL": redis_server.url,
            "UPLOAD_DIR": uploads_dir,
            "SERVER_NAME": None,
            # a stream whose tab closed notices within a second, so the server stops promptly
            "SSE_HEARTBEAT": 1,
        }
    )
    app.jinja_env.bytecode_cache = template_cache  # keyed by the template's source: edits recompile
    server = LiveServer(app)
    server.start()
    yield server
    server.stop()
    with app.app_context():
        db.engine.dispose()
    assert not server.recorder.errors, f"the server answered with errors: {server.recorder.errors}"


@pytest.fixture
def worker(live_server, tmp_path):
    """The RQ worker as production runs it (`flask --app app okno-worker`), on the same database and Redis.

    A process of its own, not a thread: RQ installs signal handlers, which only the main
    thread may do, and the deliveries then cross a process boundary as they do in production.
    """
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": live_server.app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": live_server.app.config["REDIS_URL"],
        "UPLOAD_DIR": str(live_server.app.config["UPLOAD_DIR"]),
        # a platform stand-in the test set up before the worker (e.g. telegram_api) is where it sends
        **{k: v for k, v in live_server.app.config.items() if k.endswith("_API_URL")},
    }
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "okno-worker"],
            cwd=Path(__file__).resolve().parents[2],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    yield proc
    died = proc.poll()
    if died is None:
        proc.send_signal(signal.SIGTERM)  # a warm stop, as honcho or systemd would ask
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    assert died is None, f"the worker died (exit {died}):\n{log_path.read_text()[-3000:]}"


@pytest.fixture
def telegram_api(live_server, httpserver):
    """The Telegram Bot API stand-in (tests/test_telegram_standin.py) for the live server.

    The worker takes TELEGRAM_API_URL from the app's config when it starts: a test that sends
    through it must have this fixture set up first (request it, or make `worker` depend on it).
    """
    stand_in = TelegramStandIn(httpserver.url_for("/").rstrip("/"))
    httpserver.expect_request(re.compile(r"^/bot[^/]+/\w+$")).respond_with_handler(stand_in.handle_method)
    httpserver.expect_request(re.compile(r"^/file/bot[^/]+/.+$")).respond_with_handler(stand_in.handle_file)
    live_server.app.config["TELEGRAM_API_URL"] = stand_in.url
    return stand_in


# --- staff in the browser -------------------------------------------------------------


def log_in(page, email: str, password: str = DEMO_PASSWORD) -> None:
    """Through the login form, as a person would; returns once the next page has loaded."""
    page.goto("/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    with page.expect_navigation():
        page.locator("#password").press("Enter")
    assert "/login" not in page.url, f"login as {email} failed"


# --- screenshots of failed tests --------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test leaves a screenshot of each open page (named in the report)."""
    report = yield
    if report.when == "call" and report.failed:
        shots = _screenshot_open_pages(item)
        if shots:
            report.sections.append(("browser screenshots", "\n".join(shots)))
    return report


def _screenshot_open_pages(item) -> list[str]:
    browser = item.funcargs.get("browser")
    if browser is None:
        return []
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", item.nodeid).strip("-")[-150:]
    lines = []
    pages = [page for context in browser.contexts for page in context.pages]
    for n, page in enumerate(pages, 1):
        path = SCREENSHOT_DIR / f"{stem}-{n}.png"
        try:
            page.screenshot(path=str(path), full_page=True)
        except Exception as exc:  # a crashed page must not hide the test's own failure
            lines.append(f"{page.url}: no screenshot ({exc})")
            continue
        lines.append(f"{page.url}: {path}")
    return lines
