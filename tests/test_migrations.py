"""Migrations: they build the schema the models describe, step up and down with data, keep FTS working."""

import itertools
import os
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from app import create_app
from extensions import _include_object, db
from services.text import normalize_text
from tests.conftest import free_port
from tests.factories import make_conversation, make_message

FTS_TRIGGERS = {"messages_fts_ai", "messages_fts_au"}


class PostgresServer:
    """A throwaway PostgreSQL server of the tests' own (Debian's `postgresql` package, which
    `make test` installs), on a spare port; run as the `postgres` user when the tests run as root."""

    def __init__(self):
        binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
        if not binaries and not shutil.which("postgres"):
            raise RuntimeError("PostgreSQL server not installed: apt-get install postgresql (make test does)")
        self.bindir = binaries[-1].parent if binaries else Path(shutil.which("postgres")).parent
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="okno-pg-"))
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres")

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bindir / args[0]), *args[1:]],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
        )

    def start(self) -> None:
        data = str(self.dir / "data")
        self._run("initdb", "-D", data, "-U", "okno", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", data, "-o", options, "-l", str(self.dir / "log"), "-w", "start")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def new_database(self) -> str:
        name = f"okno_{next(self._seq)}"
        admin = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        admin.dispose()
        return self.url(name)

    _seq = itertools.count(1)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://okno@127.0.0.1:{self.port}/{database}"


@pytest.fixture(scope="module")
def postgres():
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


def _app_on(url: str, redis_url: str):
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": redis_url})


@pytest.fixture
def sqlite_app(tmp_path, redis_server):
    """An app on a SQLite file that no migration has touched yet."""
    app = _app_on(f"sqlite:///{tmp_path / 'empty.db'}", redis_server.url)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_app(request, tmp_path, redis_server):
    """An app on an empty database: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        url = request.getfixturevalue("postgres").new_database()
    app = _app_on(url, redis_server.url)
    yield app
    with app.app_context():
        db.engine.dispose()


def on_sqlite(app) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")


def schema(app) -> dict[str, set[str]]:
    """Names in the database by kind: table, trigger (SQLite only)."""
    with app.app_context(), db.engine.connect() as conn:
        found = {"table": set(sa.inspect(conn).get_table_names()), "trigger": set()}
        if on_sqlite(app):
            triggers = conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
            found["trigger"] = set(triggers.scalars())
    return found


def fts_objects(app) -> tuple[set[str], set[str]]:
    """(tables, triggers) the full-text index needs: none on PostgreSQL, which searches without it."""
    return ({"messages_fts"}, FTS_TRIGGERS) if on_sqlite(app) else (set(), set())


def model_tables() -> set[str]:
    return set(db.metadata.tables)


def revisions(app) -> list[str]:
    """Every revision id from the first to head, in order."""
    script = ScriptDirectory(str(Path(app.root_path) / "migrations"))
    return [rev.revision for rev in reversed(list(script.walk_revisions("base", "heads")))]


def fts_hits(conn, word: str) -> list[int]:
    query = '"' + normalize_text(word).replace('"', '""') + '"*'
    return list(
        conn.execute(
            sa.text("SELECT rowid FROM messages_fts WHERE messages_fts MATCH :q"), {"q": query}
        ).scalars()
    )


# --- (1) from empty, down to base, up again ------------------------------------------------------


def test_flask_db_upgrade_builds_every_table_and_the_fts_index(empty_app):
    result = empty_app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    found = schema(empty_app)
    fts_tables, fts_triggers = fts_objects(empty_app)
    assert model_tables() | fts_tables | {"alembic_version"} <= found["table"]
    assert fts_triggers <= found["trigger"]


def test_downgrade_to_base_removes_everything_and_upgrade_builds_it_again(empty_app):
    runner = empty_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0

    result = runner.invoke(args=["db", "downgrade", "base"])
    assert result.exit_code == 0, result.output
    found = schema(empty_app)
    fts_tables, fts_triggers = fts_objects(empty_app)
    assert found["table"] & (model_tables() | fts_tables) == set()
    assert found["trigger"] == set()

    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    found = schema(empty_app)
    assert model_tables() | fts_tables <= found["table"]
    assert fts_triggers <= found["trigger"]


def test_fresh_database_lets_admins_chat_and_not_masters(empty_app):
    with empty_app.app_context():
        upgrade()
        rows = dict(db.session.execute(sa.text("SELECT role, may_chat FROM role_permissions")).all())
    assert {role: bool(may) for role, may in rows.items()} == {"admin": True, "master": False}


# --- (2) the models and the migrations agree -----------------------------------------------------


def test_models_match_the_migrations(empty_app):
    with empty_app.app_context():
        upgrade()
        opts = dict(empty_app.extensions["migrate"].configure_args)
        assert opts["include_object"] is _include_object
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts=opts)
            differences = compare_metadata(context, db.metadata)
    assert differences == [], "run `flask db migrate`: models and migrations differ"


def test_only_the_fts_tables_are_left_out_of_the_comparison(sqlite_app):
    # were the filter to hide more than the full-text tables, the test above would prove little
    with sqlite_app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
    removed = {diff[1].name for diff in differences if diff[0] == "remove_table"}
    assert removed and all(name.startswith("messages_fts") for name in removed)
    assert len(differences) == len(removed)


# --- (3) one step at a time, with data -----------------------------------------------------------

# A client writing on Telegram, as rows; columns a revision doesn't have yet are left out, and
# NOT NULL columns without a default get a placeholder of their type.
SAMPLE_ROWS = [
    ("channels", {"id": 1, "kind": "telegram", "name": "Telegram", "uid": "tg-1"}),
    ("clients", {"id": 1, "name": "Мария Иванова", "name_norm": "мария иванова"}),
    ("contacts", {"id": 1, "channel_id": 1, "external_id": "42", "display_name": "Маша", "client_id": 1}),
    ("conversations", {"id": 1, "channel_id": 1, "contact_id": 1, "state": "open"}),
    (
        "messages",
        {"id": 1, "conversation_id": 1, "channel_id": 1, "direction": "in", "text": "Можно ещё на пятницу?"},
    ),
]


def _placeholder(column: sa.Column):
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return ""
    if kind is bool:
        return False
    if kind is int:
        return 0
    if kind is datetime:
        return datetime(2026, 1, 1, 12, 0)
    if kind is dict:
        return {}
    return ""


def insert_sample_rows(conn, done: set[str]) -> None:
    """Insert each sample row whose table exists now and which isn't there yet."""
    meta = sa.MetaData()
    meta.reflect(bind=conn)
    for table_name, values in SAMPLE_ROWS:
        if table_name in done or table_name not in meta.tables:
            continue
        table = meta.tables[table_name]
        row = {k: v for k, v in values.items() if k in table.c}
        for column in table.c:
            if column.name not in row and not column.nullable and column.server_default is None:
                row[column.name] = _placeholder(column)
        conn.execute(table.insert().values(**row))
        done.add(table_name)


def assert_sample_rows_kept(conn, done: set[str]) -> None:
    for table_name, values in SAMPLE_ROWS:
        if table_name not in done:
            continue
        table = sa.Table(table_name, sa.MetaData(), autoload_with=conn)
        kept = conn.execute(sa.select(table).where(table.c.id == values["id"])).mappings().one_or_none()
        assert kept is not None, f"the {table_name} row was lost"
        for key, value in values.items():
            if key in table.c:
                assert kept[key] == value, f"{table_name}.{key} changed"


def test_upgrading_one_revision_at_a_time_keeps_the_data(empty_app):
    done: set[str] = set()
    with empty_app.app_context():
        for revision in revisions(empty_app):
            upgrade(revision=revision)
            with db.engine.begin() as conn:
                assert_sample_rows_kept(conn, done)
                insert_sample_rows(conn, done)
            found = schema(empty_app)
            if "messages" in found["table"]:
                # a batch migration that rebuilds `messages` drops its triggers: it must recreate them
                assert fts_objects(empty_app)[1] <= found["trigger"], f"FTS triggers missing after {revision}"
        with db.engine.connect() as conn:
            assert_sample_rows_kept(conn, done)
            if on_sqlite(empty_app):
                assert fts_hits(conn, "еще") == [1]
    assert {"clients", "conversations", "messages"} <= done


def test_downgrading_one_step_and_upgrading_again_works_with_data_present(empty_app):
    steps = revisions(empty_app)
    done: set[str] = set()
    with empty_app.app_context():
        upgrade()
        with db.engine.begin() as conn:
            insert_sample_rows(conn, done)

        downgrade(revision="-1")
        after_down = schema(empty_app)
        upgrade()

        with db.engine.connect() as conn:
            if len(steps) > 1:
                # head-1 has the tables too: the rows live through head's downgrade and upgrade
                assert_sample_rows_kept(conn, done)
                if on_sqlite(empty_app):
                    assert fts_hits(conn, "еще") == [1]
            else:
                # the only revision is the initial schema: its downgrade leaves nothing behind
                assert after_down["table"] & (model_tables() | fts_objects(empty_app)[0]) == set()
                assert conn.execute(sa.text("SELECT count(*) FROM clients")).scalar() == 0
    assert model_tables() <= schema(empty_app)["table"]


# --- (4) full-text search over message text ------------------------------------------------------


def test_message_saved_through_the_orm_is_found_by_a_cyrillic_word(app):
    conversation = make_conversation()
    message = make_message(conversation, "Здравствуйте, можно записаться на маникюр?")
    with db.engine.connect() as conn:
        assert fts_hits(conn, "маникюр") == [message.id]
        assert fts_hits(conn, "МАНИКЮР") == [message.id]
        assert fts_hits(conn, "запис") == [message.id]  # words are prefix-matched
        assert fts_hits(conn, "педикюр") == []


def test_yo_is_folded_so_eshche_finds_eshchyo(app):
    conversation = make_conversation()
    message = make_message(conversation, "А можно ещё раз? Всё понятно")
    other = make_message(conversation, "Ещё вопрос")
    with db.engine.connect() as conn:
        assert sorted(fts_hits(conn, "еще")) == [message.id, other.id]
        assert sorted(fts_hits(conn, "ещё")) == [message.id, other.id]
        assert fts_hits(conn, "все") == [message.id]


def test_editing_a_message_text_reindexes_it(app):
    conversation = make_conversation()
    message = make_message(conversation, "Запишите меня ещё на среду")
    message.text = "Лучше на пятницу"
    db.session.commit()
    with db.engine.connect() as conn:
        assert fts_hits(conn, "еще") == []
        assert fts_hits(conn, "среду") == []
        assert fts_hits(conn, "пятницу") == [message.id]


def test_fts_index_follows_many_inserts_and_edits(app):
    conversation = make_conversation()
    messages = [make_message(conversation, f"сообщение номер {n} ёлка") for n in range(20)]
    for message in messages[::2]:
        message.text = "исправлено"
    db.session.commit()
    with db.engine.connect() as conn:
        assert sorted(fts_hits(conn, "елка")) == [m.id for m in messages[1::2]]
        assert sorted(fts_hits(conn, "исправлено")) == [m.id for m in messages[::2]]


def test_message_created_at_survives_as_aware_utc(app):
    conversation = make_conversation()
    at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    message = make_message(conversation, "утро", at=at)
    db.session.expire_all()
    assert message.created_at == at
    assert message.created_at.tzinfo is not None
