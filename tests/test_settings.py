"""Owner settings pages: who may open them, and what each form changes (or refuses)."""

import re

import pytest
from flask import g, request_started
from sqlalchemy import func, select

from extensions import db
from models import CustomField, CustomFieldValue, Salon, Tag, User
from services import settings
from services.errors import ActionError
from tests.factories import make_client, make_conversation, make_tag, make_user

PAGES = (
    "/settings/",
    "/settings/chat",
    "/settings/salon",
    "/settings/fields",
    "/settings/tags",
    "/settings/staff",
)


@pytest.fixture(autouse=True)
def fresh_g_per_request(app):
    """The app fixture keeps one app context open, so `g` (and Flask-Login's cached user in it)
    would outlive a request; a real server starts every request with an empty `g`."""

    def clear(sender, **extra):
        for name in list(g):
            g.pop(name)

    request_started.connect(clear, app)
    yield
    request_started.disconnect(clear, app)


@pytest.fixture
def owner(app):
    return make_user(role="owner", name="Ирина Владимировна")


@pytest.fixture
def staff(login_as, owner):
    return login_as(owner)


def page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


# ---- access ------------------------------------------------------------------------------------


def test_owner_opens_every_settings_page(staff):
    for url in PAGES:
        html = page(staff, url)
        assert 'name="csrf_token"' in html or url == "/settings/"
        assert "settings.css" in html


@pytest.mark.parametrize("role", ["admin", "master"])
def test_staff_who_are_not_owners_get_403_on_settings(login_as, owner, role):
    other = login_as(make_user(role=role))
    for url in PAGES:
        assert other.get(url).status_code == 403, url
    response = other.post("/settings/staff", data={"name": "X", "email": "x@salon.test", "role": "owner"})
    assert response.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(User).where(User.email == "x@salon.test")) == 0


def test_settings_forms_without_the_csrf_token_are_refused(staff):
    response = staff.post(
        "/settings/salon", data={"name": "Чужой", "timezone": "UTC"}, headers={"X-CSRFToken": ""}
    )
    assert response.status_code == 400
    assert db.session.get(Salon, 1) is None


# ---- chat access -----------------------------------------------------------------------------


def test_giving_masters_the_chat_lets_a_master_open_the_inbox_and_taking_it_back_closes_it(
    login_as, staff, owner
):
    master_user = make_user(role="master")
    assert staff.post("/settings/chat", data={"roles": ["admin", "master"]}, htmx=False).status_code == 303
    master = login_as(master_user)
    assert master.get("/").status_code == 200

    assert staff.post("/settings/chat", data={"roles": ["admin"]}, htmx=False).status_code == 303
    assert master.get("/").status_code == 403
    html = page(staff, "/settings/chat")
    assert re.search(r'value="admin"[^>]*checked', html)
    assert not re.search(r'value="master"[^>]*checked', html)


def test_the_owner_keeps_the_chat_when_every_role_is_unchecked(login_as, staff):
    admin = login_as(make_user(role="admin"))
    staff.post("/settings/chat", data={}, htmx=False)
    assert staff.get("/").status_code == 200
    assert admin.get("/").status_code == 403


def test_an_unknown_role_in_chat_access_is_refused(staff):
    response = staff.post("/settings/chat", data={"roles": ["admin", "boss"]}, htmx=False)
    assert response.status_code == 422
    assert "Unknown role." in response.get_data(as_text=True)


# ---- salon ---------------------------------------------------------------------------------------


def test_the_first_salon_save_creates_the_salon_and_the_header_shows_its_name(staff):
    assert db.session.get(Salon, 1) is None
    response = staff.post(
        "/settings/salon", data={"name": "Салон «Лотос»", "timezone": "Europe/Kyiv"}, htmx=False
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/settings/salon")
    salon = db.session.get(Salon, 1)
    assert (salon.name, salon.timezone) == ("Салон «Лотос»", "Europe/Kyiv")
    html = page(staff, "/settings/salon")
    assert re.search(r'class="brand".*Салон «Лотос»', html, re.S)
    assert re.search(r'<option value="Europe/Kyiv" selected>', html)
    assert "Salon settings saved." in html


def test_common_time_zones_come_first_in_the_select(staff):
    html = page(staff, "/settings/salon")
    select_html = html[
        html.index('id="salon-timezone"') : html.index("</select>", html.index('id="salon-timezone"'))
    ]
    zones = re.findall(r'<option value="([^"]+)"', select_html)
    assert zones[:2] == ["Europe/Moscow", "Europe/Kyiv"]
    assert "America/New_York" in zones and len(zones) > 300


def test_an_unknown_time_zone_is_refused_next_to_the_field_keeping_the_typed_name(staff):
    response = staff.post("/settings/salon", data={"name": "Лотос", "timezone": "Mars/Olympus"}, htmx=False)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="salon-timezone-error"[^>]*>Choose a time zone from the list.<', html)
    assert 'value="Лотос"' in html
    assert db.session.get(Salon, 1) is None


def test_an_empty_salon_name_is_refused(staff):
    response = staff.post("/settings/salon", data={"name": "  ", "timezone": "UTC"}, htmx=False)
    assert response.status_code == 422
    assert "Enter the salon&#39;s name." in response.get_data(as_text=True)


# ---- client fields -----------------------------------------------------------------------------


def test_owner_adds_a_list_field_with_its_options(staff):
    response = staff.post(
        "/settings/fields",
        data={"name": "Тип волос", "kind": "select", "options": "Прямые\r\n\r\nКудрявые\r\nПрямые\r\n"},
        htmx=False,
    )
    assert response.status_code == 303
    field = db.session.scalars(select(CustomField)).one()
    assert (field.name, field.kind, field.option_list, field.active) == (
        "Тип волос",
        "select",
        ["Прямые", "Кудрявые"],
        True,
    )
    assert "Тип волос" in page(staff, "/settings/fields")


def test_a_list_field_without_options_is_refused_next_to_the_options(staff):
    response = staff.post(
        "/settings/fields", data={"name": "Тип кожи", "kind": "select", "options": ""}, htmx=False
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="add-options-error"' in html and "at least one option" in html
    assert 'value="Тип кожи"' in html
    assert db.session.scalar(select(func.count()).select_from(CustomField)) == 0


def test_a_second_field_with_the_same_name_is_refused(staff):
    settings.add_custom_field("Аллергии", "text")
    response = staff.post("/settings/fields", data={"name": " аллергии ", "kind": "text"}, htmx=False)
    assert response.status_code == 422
    assert "There is a field with this name already." in response.get_data(as_text=True)


def test_renaming_and_hiding_a_field_keeps_the_values_clients_have(staff):
    field = settings.add_custom_field("Любимый мастер", "text")
    client = make_client()
    db.session.add(CustomFieldValue(client_id=client.id, field_id=field.id, value="Светлана"))
    db.session.commit()

    assert staff.post(f"/settings/fields/{field.id}", data={"name": "Мастер"}, htmx=False).status_code == 303
    assert (
        staff.post(f"/settings/fields/{field.id}/active", data={"active": "0"}, htmx=False).status_code == 303
    )
    db.session.expire_all()
    assert (field.name, field.active) == ("Мастер", False)
    assert db.session.scalars(select(CustomFieldValue.value)).all() == ["Светлана"]
    html = page(staff, "/settings/fields")
    assert "Show on cards" in html

    staff.post(f"/settings/fields/{field.id}/active", data={"active": "1"}, htmx=False)
    db.session.expire_all()
    assert field.active is True


def test_renaming_a_field_to_nothing_is_refused_on_its_row(staff):
    field = settings.add_custom_field("Аллергии", "text")
    response = staff.post(f"/settings/fields/{field.id}", data={"name": ""}, htmx=False)
    assert response.status_code == 422
    assert f'id="field-{field.id}-name-error"' in response.get_data(as_text=True)


def test_an_unknown_field_is_404(staff):
    assert staff.post("/settings/fields/999/active", data={"active": "0"}, htmx=False).status_code == 404
    assert staff.post("/settings/fields/999", data={"name": "X"}, htmx=False).status_code == 404


# ---- tags --------------------------------------------------------------------------------------


def test_owner_adds_renames_and_recolours_a_tag(staff):
    assert (
        staff.post("/settings/tags", data={"name": "VIP", "color": "#D97706"}, htmx=False).status_code == 303
    )
    tag = db.session.scalars(select(Tag)).one()
    assert tag.color == "#d97706"
    response = staff.post(
        f"/settings/tags/{tag.id}", data={"name": "Постоянный", "color": "#16a34a"}, htmx=False
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert (tag.name, tag.color) == ("Постоянный", "#16a34a")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "color": "#000000"}, "Enter the tag&#39;s name."),
        ({"name": "Жалоба", "color": "red"}, "Choose a colour."),
        ({"name": "vip", "color": "#000000"}, "There is a tag with this name already."),
    ],
)
def test_a_bad_tag_is_refused_with_the_reason(staff, data, message):
    make_tag("VIP")
    response = staff.post("/settings/tags", data=data, htmx=False)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Tag)) == 1


def test_an_unused_tag_can_be_removed_but_one_in_use_stays(staff):
    unused, used = make_tag("Акция"), make_tag("VIP")
    conversation = make_conversation()
    conversation.tags.append(used)
    db.session.commit()

    html = page(staff, "/settings/tags")
    assert f'/settings/tags/{unused.id}/delete"' in html
    assert f'/settings/tags/{used.id}/delete"' not in html

    assert staff.post(f"/settings/tags/{unused.id}/delete", htmx=False).status_code == 303
    response = staff.post(f"/settings/tags/{used.id}/delete", htmx=False)
    assert response.status_code == 422
    assert "This tag is in use" in response.get_data(as_text=True)
    assert db.session.scalars(select(Tag.name)).all() == ["VIP"]


# ---- staff ---------------------------------------------------------------------------------------


def test_owner_adds_an_account_that_can_log_in(staff, login_as):
    response = staff.post(
        "/settings/staff",
        data={"name": "Мария Админ", "email": "Maria@Salon.test", "role": "admin", "password": "secret-pass"},
        htmx=False,
    )
    assert response.status_code == 303
    user = db.session.scalars(select(User).where(User.email == "maria@salon.test")).one()
    assert (user.name, user.role, user.active) == ("Мария Админ", "admin", True)
    assert login_as(user).get("/").status_code == 200


def test_a_short_password_is_refused_next_to_it_keeping_the_rest_of_the_form(staff):
    response = staff.post(
        "/settings/staff",
        data={"name": "Мария", "email": "maria@salon.test", "role": "master", "password": "short"},
        htmx=False,
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="add-password-error"[^>]*>The password needs at least 8 characters.<', html)
    assert 'value="maria@salon.test"' in html
    assert re.search(r'<option value="master" selected>', html)
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_an_e_mail_already_taken_is_refused(staff, owner):
    response = staff.post(
        "/settings/staff",
        data={"name": "Двойник", "email": owner.email.upper(), "role": "admin", "password": "secret-pass"},
        htmx=False,
    )
    assert response.status_code == 422
    assert 'id="add-email-error"' in response.get_data(as_text=True)


def test_changing_a_role_changes_what_the_account_may_open(staff, login_as):
    user = make_user(role="admin")
    assert (
        staff.post(f"/settings/staff/{user.id}/role", data={"role": "owner"}, htmx=False).status_code == 303
    )
    assert login_as(user).get("/settings/").status_code == 200


def test_the_owner_cannot_change_their_own_role(staff, owner):
    response = staff.post(f"/settings/staff/{owner.id}/role", data={"role": "admin"}, htmx=False)
    assert response.status_code == 422
    assert "your own role" in response.get_data(as_text=True)
    db.session.expire_all()
    assert owner.role == "owner"


def test_a_deactivated_account_cannot_log_in_until_reactivated(staff, app):
    user = make_user(role="admin")
    assert (
        staff.post(f"/settings/staff/{user.id}/active", data={"active": "0"}, htmx=False).status_code == 303
    )
    db.session.expire_all()
    assert user.active is False
    assert "deactivated" in page(staff, "/settings/staff")

    http = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', http.get("/login").get_data(as_text=True)).group(
        1
    )
    refused = http.post("/login", data={"email": user.email, "password": "secret-pass", "csrf_token": token})
    assert refused.status_code == 401

    staff.post(f"/settings/staff/{user.id}/active", data={"active": "1"}, htmx=False)
    accepted = http.post("/login", data={"email": user.email, "password": "secret-pass", "csrf_token": token})
    assert accepted.status_code == 302


def test_the_owner_cannot_deactivate_their_own_account(staff, owner):
    response = staff.post(f"/settings/staff/{owner.id}/active", data={"active": "0"}, htmx=False)
    assert response.status_code == 422
    assert "your own account" in response.get_data(as_text=True)
    db.session.expire_all()
    assert owner.active is True


def test_the_last_active_owner_is_neither_deactivated_nor_demoted(owner):
    admin = make_user(role="admin")
    with pytest.raises(ActionError, match="at least one active owner"):
        settings.set_staff_active(owner.id, False, admin)
    with pytest.raises(ActionError, match="at least one owner"):
        settings.set_staff_role(owner.id, "admin", admin)
    db.session.expire_all()
    assert (owner.role, owner.active) == ("owner", True)


def test_an_unknown_account_is_404(staff):
    assert staff.post("/settings/staff/999/active", data={"active": "0"}, htmx=False).status_code == 404
    assert staff.post("/settings/staff/999/role", data={"role": "admin"}, htmx=False).status_code == 404
