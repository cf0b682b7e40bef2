from tests.factories import make_conversation, make_user


def test_healthz_reports_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_admin_sees_conversation_in_list(login_as):
    make_conversation(name="Ольга Петрова", messages=["Можно записаться?"])
    staff = login_as(make_user())
    html = staff.get("/").get_data(as_text=True)
    assert "Ольга Петрова" in html


def test_only_the_command_line_loads_migrations(app, monkeypatch, migrated_db):
    """`flask db upgrade` has Alembic; the queue worker, which runs all day, carries none of it."""
    from app import create_app

    uri = f"sqlite:///{migrated_db}"
    assert "migrate" in create_app({"SQLALCHEMY_DATABASE_URI": uri}).extensions
    monkeypatch.setattr("sys.argv", ["flask", "--app", "app", "okno-worker"])
    assert "migrate" not in create_app({"SQLALCHEMY_DATABASE_URI": uri}).extensions
