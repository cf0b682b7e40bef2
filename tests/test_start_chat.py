"""Write first: find a client, see which messenger contacts can be written to, and why not the others."""

import re

import pytest

from channels.base import Health
from services import channels
from tests.factories import make_channel, make_client, make_contact, make_conversation, make_user


@pytest.fixture
def admin(app, login_as):
    return login_as(make_user(role="admin"))


def options(page: str) -> dict[str, str]:
    """channel name -> "write:<href>" or the reason shown, for each contact listed."""
    found = {}
    for item in re.findall(r'<li class="settings-item" data-testid="start-chat-option".*?</li>', page, re.S):
        channel = re.search(r"</span>\s*<span>([^<]+)</span>", item).group(1)
        link = re.search(r'href="([^"]+)" data-testid="write"', item)
        reason = re.search(r'data-testid="cannot-write">([^<]+)<', item)
        found[channel] = f"write:{link.group(1)}" if link else reason.group(1)
    return found


@pytest.fixture
def maria(app):
    """A client with one contact per case: writable, never wrote, blocked, channel off, channel broken."""
    client = make_client("Мария Иванова", phones=["+7 916 123-45-67"])
    telegram = make_channel("telegram", name="Telegram")
    writable = make_conversation(contact=make_contact(telegram, name="Маша", client=client))
    make_contact(make_channel("whatsapp", name="WhatsApp"), name="Мария", client=client)  # no conversation
    blocked = make_contact(make_channel("viber", name="Viber"), name="Маша", client=client, blocked=True)
    make_conversation(contact=blocked)
    off = make_contact(make_channel("vk", name="VK", enabled=False), name="Мария", client=client)
    make_conversation(contact=off)
    instagram = make_channel("instagram", name="Instagram")
    make_conversation(contact=make_contact(instagram, name="maria.ivanova", client=client))
    channels.record_health(instagram.id, Health(ok=False, reason="Invalid OAuth access token"))
    return client, writable


def test_a_search_by_name_lists_the_clients_contacts_with_where_staff_can_write(admin, maria):
    client, writable = maria

    page = admin.get("/start-chat?q=мария").get_data(as_text=True)

    assert f'data-client-id="{client.id}"' in page
    assert options(page) == {
        "Telegram": f"write:/c/{writable.id}",
        "WhatsApp": "Never wrote to the salon&#39;s bot: a chat can&#39;t be started first.",
        "Viber": "Blocked the bot.",
        "VK": "The channel is off.",
        "Instagram": "The channel is broken: Invalid OAuth access token",
    }
    assert page.index(">Telegram<") < page.index(">WhatsApp<")  # the one to write to comes first


def test_a_search_by_phone_in_any_form_finds_the_client(admin, maria):
    client, _writable = maria
    page = admin.get("/start-chat?q=8 (916) 123-45-67").get_data(as_text=True)
    assert f'data-client-id="{client.id}"' in page


def test_a_search_typed_in_the_page_answers_with_the_results_only(admin, maria):
    response = admin.get("/start-chat?q=Иванова", headers={"HX-Request": "true"})
    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="start-chat-results"')
    assert "<html" not in fragment
    assert "Мария Иванова" in fragment


def test_a_search_that_finds_nobody_says_so(admin, maria):
    page = admin.get("/start-chat?q=Зинаида").get_data(as_text=True)
    assert "No client found by “Зинаида”." in page


def test_a_client_who_never_wrote_from_a_messenger_is_told_apart(admin):
    client = make_client("Ольга Петрова")
    page = admin.get(f"/clients/{client.id}/start-chat", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert 'data-testid="no-contacts"' in page
    assert 'data-testid="write"' not in page


def test_the_client_cards_start_chat_lists_that_clients_contacts(admin, maria):
    client, writable = maria
    other = make_client("Мария Сидорова")
    make_conversation(contact=make_contact(make_channel("telegram", name="Telegram 2"), client=other))

    response = admin.get(f"/clients/{client.id}/start-chat", headers={"HX-Request": "true"})

    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith(f'<section id="start-chat-client-{client.id}"')
    assert options(fragment)["Telegram"] == f"write:/c/{writable.id}"
    assert "Telegram 2" not in fragment


def test_the_client_start_chat_address_opened_directly_is_a_full_page(admin, maria):
    client, _writable = maria
    page = admin.get(f"/clients/{client.id}/start-chat").get_data(as_text=True)
    assert "<html" in page and f'id="start-chat-client-{client.id}"' in page


def test_an_unknown_client_is_404(admin):
    assert admin.get("/clients/9999/start-chat", headers={"HX-Request": "true"}).status_code == 404


def test_names_are_shown_as_text(admin):
    client = make_client("<script>alert(1)</script> Ира")
    make_conversation(
        contact=make_contact(make_channel("telegram", name="<b>TG</b>"), name="<i>x</i>", client=client)
    )
    page = admin.get("/start-chat?q=Ира").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "<b>TG</b>" not in page and "<i>x</i>" not in page


def test_staff_whose_role_may_not_chat_cant_start_one(app, login_as):
    master = login_as(make_user(role="master"))
    assert master.get("/start-chat?q=Мария").status_code == 403
