"""A role without chat access lands on a page that says so, not on a 403."""

from tests.factories import make_user


def test_a_master_lands_on_a_page_that_explains_the_chat_is_not_theirs(app, client):
    make_user(role="master", email="m@salon.test")
    login_page = client.get("/login").get_data(as_text=True)
    token = login_page.split('name="csrf_token" value="')[1].split('"')[0]

    response = client.post(
        "/login", data={"email": "m@salon.test", "password": "secret-pass", "csrf_token": token}
    )

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/welcome")
    page = client.get("/welcome")
    assert page.status_code == 200
    assert "no access to the salon’s chats" in page.get_data(as_text=True)
    assert client.get("/").status_code == 403


def test_an_administrator_is_sent_from_the_welcome_page_to_the_inbox(login_as):
    staff = login_as(make_user(role="admin"))
    response = staff.get("/welcome")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/")
