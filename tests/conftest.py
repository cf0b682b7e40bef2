"""Fixtures for infrastructure: a real Redis server, a migrated SQLite file per test."""

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from redis import Redis

from app import create_app
from extensions import db


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server of the tests' own, which a fault test may stop and start again."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = Redis(port=self.port)
        for _ in range(100):
            try:
                client.ping()
                return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(5)
            self.proc = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory, redis_server) -> Path:
    """One database migrated from empty by Alembic; each test gets a copy of the file."""
    from flask_migrate import upgrade

    path = tmp_path_factory.mktemp("db") / "template.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "REDIS_URL": redis_server.url})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


class IsolatedClient(FlaskClient):
    """Each request runs in an app context of its own, as in production.

    The test body keeps its own context (for factories and assertions); without this,
    requests would share its `g` and database session: the logged-in user, cached
    counts and stale objects would leak from the test into the request and back.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        # what the test reads next comes fresh from the database, as a new request would
        session = db.session
        if session.new or session.dirty or session.deleted:
            session.expire_all()
        else:
            session.rollback()
        return response


@pytest.fixture
def app(tmp_path, migrated_db, redis_server):
    path = tmp_path / "okno.db"
    shutil.copy(migrated_db, path)
    Redis.from_url(redis_server.url).flushdb()
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "REDIS_URL": redis_server.url,
            "UPLOAD_DIR": tmp_path / "uploads",
            "SERVER_NAME": None,
            # assertions are written against the English source strings; the shipped default
            # (Russian) and the catalogs are test_translations' to check
            "BABEL_DEFAULT_LOCALE": "en",
        }
    )
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')


class StaffClient:
    """A test client logged in as one user; posts carry the page's CSRF header like htmx does."""

    def __init__(self, app, user):
        self.http = app.test_client()
        self.user = user
        response = self.http.post(
            "/login",
            data={"email": user.email, "password": "secret-pass", "csrf_token": self._token("/login")},
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        self.csrf = self._token("/settings/" if user.role == "owner" else "/")

    def _token(self, path: str) -> str:
        html = self.http.get(path).get_data(as_text=True)
        match = CSRF_RE.search(html) or re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def get(self, *args, **kwargs):
        return self.http.get(*args, **kwargs)

    def post(self, url, data=None, htmx=True, **kwargs):
        headers = kwargs.pop("headers", {})
        headers.setdefault("X-CSRFToken", self.csrf)
        if htmx:
            headers.setdefault("HX-Request", "true")
        return self.http.post(url, data=data or {}, headers=headers, **kwargs)


@pytest.fixture
def login_as(app):
    def login(user) -> StaffClient:
        return StaffClient(app, user)

    return login
