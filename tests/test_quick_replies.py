"""Quick replies: filling variables for the composer, the picker, and the management page."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date as babel_date
from sqlalchemy import select

from extensions import db
from models import RolePermission, Salon, Template
from models.base import utcnow
from services.templates import fill_template
from tests.factories import make_client, make_conversation, make_user, make_visit

SALON_ZONE = "Asia/Vladivostok"  # UTC+10: a visit at 20:30 UTC is at 06:30 the next day there


@pytest.fixture
def salon(app):
    salon = Salon(id=1, name="Бархат", timezone=SALON_ZONE)
    db.session.add(salon)
    db.session.commit()
    return salon


@pytest.fixture
def admin(app):
    return make_user(role="admin", name="Анна Смирнова", language="ru")


def make_template(title="Напоминание", text="{client.first_name}, ждём вас {visit.date} в {visit.time}"):
    template = Template(title=title, text=text)
    db.session.add(template)
    db.session.commit()
    return template


def visit_at_evening_utc(client, days=10, **kw):
    """A planned visit at 20:30 UTC, `days` ahead: the next morning in the salon's zone."""
    day = (utcnow() + timedelta(days=days)).date()
    visit = make_visit(client, **kw)
    visit.starts_at = datetime(day.year, day.month, day.day, 20, 30, tzinfo=UTC)
    db.session.commit()
    return visit


def expected_date(starts_at: datetime, locale: str) -> str:
    local = starts_at.astimezone(ZoneInfo(SALON_ZONE))
    this_year = utcnow().astimezone(ZoneInfo(SALON_ZONE)).year
    return babel_date(local.date(), "d MMMM" if local.year == this_year else "d MMMM y", locale=locale)


def fill(staff, conversation, template):
    response = staff.get(f"/c/{conversation.id}/quick-replies/{template.id}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


# ---- filling -------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["ru", "en"])
def test_picked_template_is_filled_from_the_client_visit_salon_and_staff(login_as, salon, language):
    staff = make_user(role="admin", name="Анна Смирнова", language=language)
    client = make_client(name="Мария Иванова")
    visit = visit_at_evening_utc(client, service="Окрашивание")
    make_visit(client, days=20, service="Маникюр")  # a later visit is not "the next" one
    conversation = make_conversation(client=client)
    template = make_template(
        text="{client.first_name} ({client.name}), ждём вас {visit.date} в {visit.time}: "
        "{visit.service}. «{salon.name}», {staff.first_name}"
    )

    body = fill(login_as(staff), conversation, template)

    assert body == {
        "text": f"Мария (Мария Иванова), ждём вас {expected_date(visit.starts_at, language)} в 06:30: "
        "Окрашивание. «Бархат», Анна",
        "missing": [],
    }


def test_month_is_written_in_the_readers_language(login_as, salon):
    client = make_client()
    visit = visit_at_evening_utc(client)
    conversation = make_conversation(client=client)
    template = make_template(text="{visit.date}")

    ru = fill(login_as(make_user(language="ru")), conversation, template)["text"]
    en = fill(login_as(make_user(language="en")), conversation, template)["text"]

    local = visit.starts_at.astimezone(ZoneInfo(SALON_ZONE))
    assert ru != en
    assert str(local.day) in ru and str(local.day) in en


def test_unknown_writer_keeps_client_and_visit_variables_visible_and_listed(login_as, admin, salon):
    conversation = make_conversation(name="+7 916 000-00-00")  # no client linked
    template = make_template(
        text="Здравствуйте, {client.first_name}! Ваша запись {visit.date} в {visit.time}. "
        "{client.first_name}, это {staff.first_name} из «{salon.name}»."
    )

    body = fill(login_as(admin), conversation, template)

    assert body["text"] == (
        "Здравствуйте, {client.first_name}! Ваша запись {visit.date} в {visit.time}. "
        "{client.first_name}, это Анна из «Бархат»."
    )
    assert body["missing"] == ["{client.first_name}", "{visit.date}", "{visit.time}"]


def test_client_without_a_planned_visit_keeps_visit_variables_visible(login_as, admin, salon):
    client = make_client(name="Ольга Петрова")
    make_visit(client, days=-3, status="arrived", service="Стрижка")  # past
    make_visit(client, days=5, status="cancelled", service="Маникюр")  # not planned any more
    conversation = make_conversation(client=client)
    template = make_template(text="{client.first_name}, ваш визит: {visit.service} {visit.date}")

    body = fill(login_as(admin), conversation, template)

    assert body == {
        "text": "Ольга, ваш визит: {visit.service} {visit.date}",
        "missing": ["{visit.service}", "{visit.date}"],
    }


def test_unknown_placeholders_are_left_untouched(app, admin, salon):
    conversation = make_conversation(client=make_client(name="Мария Иванова"))
    template = make_template(text="Промокод {PROMO}, {client.phone}, {}, {{client.first_name}}")

    filled = fill_template(template.id, conversation.id, admin)

    assert filled.text == "Промокод {PROMO}, {client.phone}, {}, {Мария}"
    assert filled.missing == []


def test_braces_in_a_client_name_are_inserted_as_written(login_as, admin, salon):
    client = make_client(name="{salon.name} {visit.date} <b>%s</b>")
    conversation = make_conversation(client=client)
    template = make_template(text="Здравствуйте, {client.first_name}! Полностью: {client.name}.")

    body = fill(login_as(admin), conversation, template)

    assert body == {
        "text": "Здравствуйте, {salon.name}! Полностью: {salon.name} {visit.date} <b>%s</b>.",
        "missing": [],
    }


def test_filling_sends_nothing_to_the_client(login_as, admin, salon):
    conversation = make_conversation(client=make_client())
    template = make_template()

    fill(login_as(admin), conversation, template)

    db.session.refresh(conversation)
    assert conversation.last_message_direction is None
    assert conversation.unread_count == 0


# ---- the picker ----------------------------------------------------------------------------------


def test_picker_finds_templates_by_title_or_text_ignoring_case_in_cyrillic(login_as, admin):
    booking = make_template(title="Запись на стрижку", text="Записали вас.")
    address = make_template(title="Адрес", text="Мы на Пятницкой, 12. ЕЩЁ есть парковка.")
    conversation = make_conversation()
    staff = login_as(admin)

    by_title = staff.get(f"/c/{conversation.id}/quick-replies?q=запись").get_data(as_text=True)
    by_text = staff.get(f"/c/{conversation.id}/quick-replies?q=пятницкой").get_data(as_text=True)
    by_yo = staff.get(f"/c/{conversation.id}/quick-replies?q=еще есть").get_data(as_text=True)
    nothing = staff.get(f"/c/{conversation.id}/quick-replies?q=маникюр").get_data(as_text=True)

    assert f'id="quick-reply-{booking.id}"' in by_title and f'id="quick-reply-{address.id}"' not in by_title
    assert f'id="quick-reply-{address.id}"' in by_text and f'id="quick-reply-{booking.id}"' not in by_text
    assert f'id="quick-reply-{address.id}"' in by_yo
    assert 'data-testid="quick-replies-empty"' in nothing


def test_picker_buttons_fetch_the_filled_text_for_their_dialog(login_as, admin):
    template = make_template()
    conversation = make_conversation()

    html = login_as(admin).get(f"/c/{conversation.id}/quick-replies").get_data(as_text=True)

    assert f'hx-get="/c/{conversation.id}/quick-replies/{template.id}"' in html


def test_picker_shows_template_text_escaped(login_as, admin):
    make_template(title="<script>alert(1)</script>", text="<img src=x onerror=alert(1)>")
    conversation = make_conversation()

    html = login_as(admin).get(f"/c/{conversation.id}/quick-replies").get_data(as_text=True)

    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_picker_and_fill_answer_404_for_unknown_ids(login_as, admin):
    template = make_template()
    conversation = make_conversation()
    staff = login_as(admin)

    assert staff.get("/c/999999/quick-replies").status_code == 404
    assert staff.get(f"/c/999999/quick-replies/{template.id}").status_code == 404
    assert staff.get(f"/c/{conversation.id}/quick-replies/999999").status_code == 404


def test_picker_needs_chat_access(app, client, login_as):
    template = make_template()
    conversation = make_conversation()
    master = login_as(make_user(role="master"))  # masters may not chat by default

    assert master.get(f"/c/{conversation.id}/quick-replies").status_code == 403
    assert master.get(f"/c/{conversation.id}/quick-replies/{template.id}").status_code == 403
    anonymous = client.get(f"/c/{conversation.id}/quick-replies", headers={"HX-Request": "true"})
    assert anonymous.status_code == 401


# ---- the management page -------------------------------------------------------------------------


def titles() -> list[str]:
    return sorted(db.session.scalars(select(Template.title)))


def test_admin_adds_a_template_and_sees_it_in_the_list(login_as, admin):
    staff = login_as(admin)

    response = staff.post(
        "/templates", {"title": "  Приветствие ", "text": "Здравствуйте, {client.first_name}!"}, htmx=False
    )

    assert response.status_code == 303
    assert titles() == ["Приветствие"]
    html = staff.get("/templates").get_data(as_text=True)
    notice = html.split('class="settings-notice success"', 1)[1].split("</p>", 1)[0]
    assert "Приветствие" in notice
    assert '<span class="qr-var">{client.first_name}</span>' in html


def test_admin_edits_a_template(login_as, admin):
    template = make_template(title="Адрес", text="Мы на Пятницкой.")
    staff = login_as(admin)

    assert template.title in staff.get(f"/templates/{template.id}").get_data(as_text=True)
    response = staff.post(
        f"/templates/{template.id}",
        {"title": "Адрес и парковка", "text": "Мы на Пятницкой, 12.\r\nПарковка во дворе."},
        htmx=False,
    )

    assert response.status_code == 303
    db.session.refresh(template)
    assert (template.title, template.text) == ("Адрес и парковка", "Мы на Пятницкой, 12.\nПарковка во дворе.")


def test_admin_deletes_a_template_after_confirming(login_as, admin):
    keep = make_template(title="Приветствие", text="Здравствуйте!")
    drop = make_template(title="Старая акция", text="Скидка 10%")
    drop_id = drop.id
    staff = login_as(admin)

    page = staff.get("/templates").get_data(as_text=True)
    assert f'data-testid="confirm-delete-template-{drop_id}"' in page  # the confirmation step is there
    response = staff.post(f"/templates/{drop_id}/delete", htmx=False)

    assert response.status_code == 303
    assert titles() == [keep.title]
    assert staff.post(f"/templates/{drop_id}/delete", htmx=False).status_code == 404


def test_owner_manages_templates_too(login_as):
    staff = login_as(make_user(role="owner"))

    assert staff.get("/templates").status_code == 200
    assert staff.post("/templates", {"title": "Спасибо", "text": "Спасибо!"}, htmx=False).status_code == 303
    assert titles() == ["Спасибо"]


@pytest.mark.parametrize("may_chat", [False, True])
def test_master_may_not_manage_templates(login_as, may_chat):
    db.session.get(RolePermission, "master").may_chat = may_chat
    db.session.commit()
    template = make_template()
    staff = login_as(make_user(role="master"))

    assert staff.get("/templates").status_code == 403
    assert staff.post("/templates", {"title": "X", "text": "Y"}, htmx=False).status_code == 403
    assert staff.post(f"/templates/{template.id}", {"title": "X", "text": "Y"}, htmx=False).status_code == 403
    assert staff.post(f"/templates/{template.id}/delete", htmx=False).status_code == 403
    assert titles() == [template.title]
    assert "/templates" not in staff.get("/").get_data(as_text=True)


def test_admin_without_chat_access_may_not_manage_templates(login_as, admin):
    db.session.get(RolePermission, "admin").may_chat = False
    db.session.commit()

    assert login_as(admin).get("/templates").status_code == 403


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get("/templates")

    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"title": " ", "text": "Текст"}, "title", "Enter a title"),
        ({"title": "Т" * 121, "text": "Текст"}, "title", "At most 120 characters"),
        ({"title": "Привет", "text": "  "}, "text", "Enter the text"),
        ({"title": "Привет", "text": "Здравствуйте, {client.firstname}!"}, "text", "{client.firstname}"),
        ({"title": "приветствие", "text": "Другой текст"}, "title", "already"),
    ],
)
def test_refused_template_shows_the_error_next_to_the_field(login_as, admin, form, field, message):
    make_template(title="Приветствие", text="Здравствуйте!")
    admin.language = "en"
    db.session.commit()

    response = login_as(admin).post("/templates", form, htmx=False)

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = f'id="add-{field}-error">'
    assert error in html and message in html.split(error, 1)[1].split("</p>", 1)[0]
    assert 'aria-invalid="true" aria-describedby="add-' + field + '-error"' in html
    assert form["text"].strip() in html  # what was typed comes back
    assert titles() == ["Приветствие"]


def test_refused_edit_keeps_the_template_and_shows_the_error(login_as, admin):
    template = make_template(title="Адрес", text="Мы на Пятницкой.")

    response = login_as(admin).post(f"/templates/{template.id}", {"title": "", "text": "Новое"}, htmx=False)

    assert response.status_code == 422
    assert 'id="edit-title-error"' in response.get_data(as_text=True)
    db.session.refresh(template)
    assert (template.title, template.text) == ("Адрес", "Мы на Пятницкой.")


def test_form_without_csrf_token_is_refused(login_as, admin):
    template = make_template(title="Адрес", text="Мы на Пятницкой.")
    staff = login_as(admin)

    added = staff.http.post("/templates", data={"title": "Приветствие", "text": "Здравствуйте!"})
    deleted = staff.http.post(f"/templates/{template.id}/delete")

    assert (added.status_code, deleted.status_code) == (400, 400)
    assert titles() == ["Адрес"]


def test_management_page_search_finds_cyrillic_in_any_case(login_as, admin):
    make_template(title="Запись на стрижку", text="Записали вас.")
    make_template(title="Адрес", text="Мы на Пятницкой.")
    staff = login_as(admin)

    html = staff.get("/templates?q=ЗАПИСЬ").get_data(as_text=True)
    fragment = staff.get("/templates?q=пятниц", headers={"HX-Request": "true"}).get_data(as_text=True)

    assert "Запись на стрижку" in html and "Мы на Пятницкой." not in html
    assert fragment.lstrip().startswith('<div id="template-list"') and "Адрес" in fragment
    assert "Запись на стрижку" not in fragment


def test_unknown_template_edit_page_is_404(login_as, admin):
    assert login_as(admin).get("/templates/999999").status_code == 404


def test_admins_see_the_quick_replies_link_in_the_header(login_as, admin):
    assert 'href="/templates"' in login_as(admin).get("/").get_data(as_text=True)
