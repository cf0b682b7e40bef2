"""Okno: the chat inbox of a beauty-salon CRM. `app` is what gunicorn serves."""

import sys

from flask import Flask, has_request_context, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import event

from config import INSTANCE_DIR, Config
from extensions import babel, csrf, db, init_migrations, login_manager


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config.from_object(Config)
    if config:
        app.config.update(config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        # one writer at a time: a few connections serve every request of a process, and each
        # keeps up to 2 MB of SQLite's page cache (the default 5 + 10 left a 25 MB peak per worker)
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "pool_size": 4,
            "max_overflow": 4,
            **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
        }
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)

    import models  # noqa: F401  (registers every table on the metadata)

    db.init_app(app)
    if _may_migrate():
        init_migrations(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to open this page.")
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)

    with app.app_context():
        _tune_sqlite(db.engine)

    from blueprints import register_blueprints

    register_blueprints(app)

    from cli import register_cli

    register_cli(app)

    from web import init_web

    init_web(app)
    return app


def _may_migrate() -> bool:
    """Migrations run from the command line (`flask db ...`) and the tests. A process that
    serves (gunicorn) or works the queue (`flask okno-worker`) never migrates, and Alembic
    with Mako would cost it about 11 MB all day."""
    return "gunicorn" not in sys.modules and "okno-worker" not in sys.argv


def select_locale() -> str:
    from flask import current_app

    langs = current_app.config["LANGUAGES"]
    if not has_request_context():  # a job or a CLI command: no user, no cookie
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.language in langs:
        return current_user.language
    chosen = request.cookies.get("lang")
    if chosen in langs:
        return chosen
    return request.accept_languages.best_match(langs) or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    from services.salon import get_salon

    return get_salon().timezone


def _tune_sqlite(engine) -> None:
    """WAL, a busy timeout, and transactions we begin ourselves (see services.db.begin_write)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # the driver must not BEGIN on its own
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn):
        immediate = conn.get_execution_options().get("sqlite_immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_app: Flask | None = None


def __getattr__(name: str):
    """`app` for gunicorn and `flask --app app`, built on first use, not at import."""
    global _app
    if name == "app":
        if _app is None:
            _app = create_app()
        return _app
    raise AttributeError(name)
