"""Logging in and out: wrong passwords, the failure limit, redirects, cookies, language."""

import re
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from redis import Redis

from extensions import db
from models import User
from tests.factories import PASSWORD, committed, make_user

TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
HTML_LANG_RE = re.compile(r'<html lang="([a-z]+)"')


def token(http, path="/login") -> str:
    match = TOKEN_RE.search(http.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def log_in(http, email, password=PASSWORD, next_url=None):
    url = "/login" if next_url is None else "/login?" + f"next={next_url}"
    return http.post(url, data={"email": email, "password": password, "csrf_token": token(http)})


def html_lang(response) -> str:
    match = HTML_LANG_RE.search(response.get_data(as_text=True))
    assert match, "no <html lang>"
    return match.group(1)


class Browser(FlaskClient):
    """Each request in a fresh thread, hence in an app context of its own, as in production.

    The `app` fixture keeps one app context open for the test body, and a request made
    from it would share its `g` (the cached locale, the logged-in user) and its database
    session with the test and with every other request.
    """

    def open(self, *args, **kwargs):
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(super().open, *args, **kwargs).result()


def new_browser(app) -> Browser:
    return Browser(app, app.response_class, use_cookies=True)


@pytest.fixture
def client(app):
    return new_browser(app)


def stored_user(user_id: int) -> User:
    """The user as committed (the test's own session may hold an older snapshot)."""
    return committed(User, user_id)


@pytest.fixture
def admin(app):
    return make_user(name="Анна", email="anna@salon.test")


# --- logging in ------------------------------------------------------------------------------------


def test_right_password_logs_in_and_opens_the_inbox(client, admin):
    response = log_in(client, "anna@salon.test")
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/"
    inbox = client.get("/")
    assert inbox.status_code == 200
    assert "Анна" in inbox.get_data(as_text=True)


def test_email_is_matched_whatever_its_case_and_spaces(client, admin):
    assert log_in(client, "  Anna@Salon.TEST ").status_code == 302


def test_wrong_password_shows_the_error_next_to_the_form(client, admin):
    response = log_in(client, "anna@salon.test", "wrong-pass")
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    form = html[html.index("<form") : html.index("</form>")]
    assert 'class="field-error"' in form
    # the e-mail stays filled in, the password does not come back
    assert 'value="anna@salon.test"' in form
    assert "wrong-pass" not in html
    assert client.get("/").status_code == 302  # still not logged in


def test_unknown_email_gets_the_same_answer_as_a_wrong_password(client, admin):
    wrong_password = log_in(client, "anna@salon.test", "wrong-pass")
    unknown = log_in(client, "nobody@salon.test", "wrong-pass")
    assert unknown.status_code == wrong_password.status_code == 401
    error = re.compile(r'class="field-error"[^>]*>([^<]+)<')
    assert error.search(unknown.get_data(as_text=True)).group(1) == error.search(
        wrong_password.get_data(as_text=True)
    ).group(1)


def test_deactivated_user_cannot_log_in(client):
    make_user(email="gone@salon.test", active=False)
    response = log_in(client, "gone@salon.test")
    assert response.status_code == 401
    assert client.get("/").status_code == 302


def test_user_deactivated_while_logged_in_loses_access(client, admin):
    assert log_in(client, "anna@salon.test").status_code == 302
    stored_user(admin.id).active = False
    db.session.commit()
    response = client.get("/")
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/login"


def test_login_without_csrf_token_is_refused(client, admin):
    response = client.post("/login", data={"email": "anna@salon.test", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_anonymous_page_request_is_sent_to_login_with_the_way_back(client):
    response = client.get("/?state=closed")
    assert response.status_code == 302
    location = urlsplit(response.location)
    assert location.path == "/login"
    assert "next=" in location.query


def test_anonymous_htmx_request_gets_401_not_a_redirect(client):
    response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 401


# --- the failure limit -----------------------------------------------------------------------------


def test_after_too_many_failures_even_the_right_password_is_refused(app, client, admin):
    limit = app.config["LOGIN_FAIL_LIMIT"]
    for _ in range(limit):
        assert log_in(client, "anna@salon.test", "wrong-pass").status_code == 401
    response = log_in(client, "anna@salon.test")
    assert response.status_code == 401
    assert 'class="field-error"' in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_the_limit_lifts_when_the_window_has_passed(app, client, admin, redis_server):
    app.config["LOGIN_FAIL_WINDOW"] = 1
    for _ in range(app.config["LOGIN_FAIL_LIMIT"]):
        log_in(client, "anna@salon.test", "wrong-pass")
    assert log_in(client, "anna@salon.test").status_code == 401
    # the counter lives in the real Redis, with the window as its lifetime
    keys = Redis.from_url(redis_server.url).keys("okno:login-fail:*")
    assert len(keys) == 1
    time.sleep(1.5)
    assert log_in(client, "anna@salon.test").status_code == 302


def test_changing_the_emails_case_does_not_get_round_the_limit(app, client, admin):
    for _ in range(app.config["LOGIN_FAIL_LIMIT"]):
        log_in(client, "anna@salon.test", "wrong-pass")
    assert log_in(client, "ANNA@salon.test").status_code == 401


def test_failures_for_one_email_do_not_lock_out_a_colleague(app, client, admin):
    make_user(email="olena@salon.test")
    for _ in range(app.config["LOGIN_FAIL_LIMIT"]):
        log_in(client, "anna@salon.test", "wrong-pass")
    assert log_in(client, "olena@salon.test").status_code == 302


def test_a_successful_login_resets_the_failure_count(app, client, admin):
    limit = app.config["LOGIN_FAIL_LIMIT"]
    for _ in range(limit - 1):
        log_in(client, "anna@salon.test", "wrong-pass")
    assert log_in(client, "anna@salon.test").status_code == 302
    client.post("/logout", data={"csrf_token": token(client, "/")})
    for _ in range(limit - 1):
        log_in(client, "anna@salon.test", "wrong-pass")
    assert log_in(client, "anna@salon.test").status_code == 302


# --- logging out -----------------------------------------------------------------------------------


def test_logout_ends_the_session(client, admin):
    log_in(client, "anna@salon.test")
    response = client.post("/logout", data={"csrf_token": token(client, "/")})
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/login"
    assert client.get("/").status_code == 302


def test_logout_by_get_is_not_allowed(client, admin):
    log_in(client, "anna@salon.test")
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200


# --- where login sends you -------------------------------------------------------------------------


def test_login_returns_to_the_page_asked_for(client, admin):
    response = log_in(client, "anna@salon.test", next_url="/%3Fstate%3Dclosed")
    assert response.location.endswith("/?state=closed")


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "//evil.com/%2F..",
        "https://evil.com/",
        "http:evil.com",
        "/%5Cevil.com",  # /\evil.com: browsers read the backslash as a slash
        "/%5C%5Cevil.com",
        "%2F%5Cevil.com",
        "/%09/evil.com",  # browsers drop the tab: //evil.com
        "/%0A/evil.com",
        "javascript:alert(1)",
    ],
)
def test_login_never_redirects_off_site(client, admin, target):
    response = log_in(client, "anna@salon.test", next_url=target)
    assert response.status_code == 302
    location = response.location
    browser_view = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
    parts = urlsplit(browser_view)
    assert parts.netloc in ("", "localhost"), location
    assert parts.scheme in ("", "http"), location
    assert browser_view.startswith("/") and not browser_view.startswith("//"), location


def test_logged_in_user_visiting_login_is_not_sent_off_site(client, admin):
    log_in(client, "anna@salon.test")
    response = client.get("/login?next=//evil.com")
    assert response.status_code == 302
    assert urlsplit(response.location).netloc in ("", "localhost")


# --- cookies ---------------------------------------------------------------------------------------


def test_session_and_remember_cookies_are_httponly_and_samesite_lax(client, admin):
    response = log_in(client, "anna@salon.test")
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    assert {"session", "remember_token"} <= cookies.keys()
    for name in ("session", "remember_token"):
        flags = [f.strip().lower() for f in cookies[name].split(";")]
        assert "httponly" in flags, cookies[name]
        assert "samesite=lax" in flags, cookies[name]


# --- language --------------------------------------------------------------------------------------


def test_language_preference_changes_the_page_language(client, admin):
    log_in(client, "anna@salon.test")
    response = client.post(
        "/preferences", data={"language": "en", "next": "/", "csrf_token": token(client, "/")}
    )
    assert response.status_code == 302
    assert stored_user(admin.id).language == "en"
    assert html_lang(client.get("/")) == "en"
    client.post("/preferences", data={"language": "uk", "next": "/", "csrf_token": token(client, "/")})
    assert html_lang(client.get("/")) == "uk"


def test_language_preference_follows_the_user_to_another_browser(app, admin):
    first = new_browser(app)
    log_in(first, "anna@salon.test")
    first.post("/preferences", data={"language": "uk", "csrf_token": token(first, "/")})
    second = new_browser(app)
    log_in(second, "anna@salon.test")
    assert html_lang(second.get("/")) == "uk"


def test_unknown_language_is_ignored(client, admin):
    log_in(client, "anna@salon.test")
    client.post("/preferences", data={"language": "de", "csrf_token": token(client, "/")})
    assert stored_user(admin.id).language is None
    assert html_lang(client.get("/")) in ("ru", "uk", "en")


def test_language_chosen_on_the_login_page_is_kept_before_logging_in(client):
    response = client.post("/language", data={"language": "en", "csrf_token": token(client)})
    assert response.status_code == 302
    assert html_lang(client.get("/login")) == "en"


def test_login_page_follows_the_browsers_language(client):
    response = client.get("/login", headers={"Accept-Language": "uk-UA,uk;q=0.9,en;q=0.5"})
    assert html_lang(response) == "uk"


def test_preferences_need_a_csrf_token(client, admin):
    log_in(client, "anna@salon.test")
    response = client.post("/preferences", data={"language": "en"})
    assert response.status_code == 400
    assert stored_user(admin.id).language is None


def test_sound_toggle_is_saved(client, admin):
    log_in(client, "anna@salon.test")
    client.post("/preferences", data={"sound_on": "0", "csrf_token": token(client, "/")})
    assert stored_user(admin.id).sound_on is False
