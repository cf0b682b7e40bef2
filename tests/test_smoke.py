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
