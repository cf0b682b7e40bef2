"""/start deep links: the client card's t.me link carries a signed token; the writer who opens it is
linked to that client, and nobody can forge, alter or reuse an old one."""

import copy
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from extensions import db
from models import Contact, Conversation, Message, RolePermission
from services import deeplinks
from tests.factories import make_client, make_user
from tests.test_telegram_standin import make_telegram, payload, post_update

START_PARAMETER = re.compile(r"[A-Za-z0-9_-]{1,64}")


def start_with(token: str) -> dict:
    update = copy.deepcopy(payload("start"))
    update["message"]["text"] = f"/start {token}"
    update["message"]["entities"] = [{"offset": 0, "length": 6, "type": "bot_command"}]
    return update


def the_contact(channel) -> Contact:
    db.session.rollback()
    return db.session.scalars(select(Contact).where(Contact.channel_id == channel.id)).one()


@pytest.fixture
def channel(app):
    return make_telegram()


@pytest.fixture
def maria(app):
    return make_client("Мария Иванова")


def test_a_token_fits_telegrams_start_parameter_and_names_the_client(app):
    for client_id in (1, 42, 2_147_483_647):
        token = deeplinks.make_token(client_id)
        assert START_PARAMETER.fullmatch(token), token
        assert deeplinks.read_token(token) == client_id


def test_an_altered_or_foreign_token_names_nobody(app, maria):
    token = deeplinks.make_token(maria.id)
    client36, issued36, signature = token.split("-", 2)

    assert deeplinks.read_token(f"{int(client36, 36) + 1:x}-{issued36}-{signature}") is None
    # the signature's first character carries six full bits (its last one may be padding)
    altered = signature.replace(signature[0], "A" if signature[0] != "A" else "B", 1)
    assert deeplinks.read_token(f"{client36}-{issued36}-{altered}") is None
    assert deeplinks.read_token("hello") is None
    assert deeplinks.read_token("") is None
    app.config["SECRET_KEY"] = "another installation"
    assert deeplinks.read_token(token) is None


def test_an_old_token_has_expired(app, maria):
    issued = time.time() - deeplinks.MAX_AGE - 60
    assert deeplinks.read_token(deeplinks.make_token(maria.id, now=issued)) is None
    assert deeplinks.read_token(deeplinks.make_token(maria.id, now=issued + 120)) == maria.id


def test_the_client_card_gets_the_link_with_a_copy_button(app, channel, maria, login_as):
    staff = login_as(make_user())

    response = staff.get(f"/clients/{maria.id}/telegram-link", headers={"HX-Request": "true"})

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    url = re.search(r'data-copy-link="([^"]+)"', html).group(1)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "t.me", "/okno_salon_bot")
    assert deeplinks.read_token(parse_qs(parts.query)["start"][0]) == maria.id
    assert 'id="telegram-link-' in html and "<html" not in html


def test_the_link_opened_as_a_page_renders_the_whole_page(app, channel, maria, login_as):
    response = login_as(make_user()).get(f"/clients/{maria.id}/telegram-link")

    assert response.status_code == 200
    assert "<html" in response.get_data(as_text=True)
    assert "t.me/okno_salon_bot?start=" in response.get_data(as_text=True)


def test_without_a_known_bot_username_the_card_says_what_to_do(app, maria, login_as):
    make_telegram(username="")
    staff = login_as(make_user(language="en"))

    html = staff.get(f"/clients/{maria.id}/telegram-link", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )

    assert "t.me" not in html
    assert "press Check" in html


def test_without_a_telegram_bot_the_card_says_so(app, maria, login_as):
    staff = login_as(make_user(language="en"))

    html = staff.get(f"/clients/{maria.id}/telegram-link", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )

    assert "No Telegram bot is connected." in html


def test_an_unknown_client_is_404(app, channel, login_as):
    response = login_as(make_user()).get("/clients/987654/telegram-link", headers={"HX-Request": "true"})
    assert response.status_code == 404


def test_staff_who_may_not_chat_get_no_link(app, channel, maria, login_as):
    db.session.merge(RolePermission(role="master", may_chat=False))
    db.session.commit()
    master = login_as(make_user(role="master"))

    response = master.get(f"/clients/{maria.id}/telegram-link", headers={"HX-Request": "true"})

    assert response.status_code == 403


def test_opening_the_link_links_the_writer_to_the_client(client, channel, maria):
    response = post_update(client, channel, start_with(deeplinks.make_token(maria.id)))

    assert response.status_code == 200
    contact = the_contact(channel)
    assert contact.client_id == maria.id
    conversation = db.session.scalars(select(Conversation).where(Conversation.contact_id == contact.id)).one()
    event = db.session.scalars(
        select(Message).where(Message.conversation_id == conversation.id, Message.event == "linked_by_link")
    ).one()
    assert event.data == {"client": "Мария Иванова"}


def test_the_bot_greets_a_writer_who_came_by_the_link(client, channel, maria):
    post_update(client, channel, start_with(deeplinks.make_token(maria.id)))

    contact = the_contact(channel)
    conversation = db.session.scalars(select(Conversation).where(Conversation.contact_id == contact.id)).one()
    assert conversation.with_bot is True
    greetings = db.session.scalars(
        select(Message).where(Message.conversation_id == conversation.id, Message.direction == "out")
    ).all()
    assert len(greetings) == 1


@pytest.mark.parametrize("token", ["not-a-token", "1-2-AAAAAAAAAAAAAAAAAAAAAAAAAAA"])
def test_an_invalid_token_is_ignored_and_the_message_kept(client, channel, maria, token):
    response = post_update(client, channel, start_with(token))

    assert response.status_code == 200
    contact = the_contact(channel)
    assert contact.client_id is None
    assert db.session.scalars(select(Message.text).where(Message.direction == "in")).all() == [
        f"/start {token}"
    ]


def test_a_writer_staff_linked_to_someone_else_stays_linked(client, channel, maria):
    post_update(client, channel, payload("text"))
    olga = make_client("Ольга Петрова")
    contact = the_contact(channel)
    contact.client_id = olga.id
    db.session.commit()

    post_update(client, channel, start_with(deeplinks.make_token(maria.id)))

    assert the_contact(channel).client_id == olga.id


def test_a_link_opened_again_by_the_same_writer_changes_nothing(client, channel, maria):
    token = deeplinks.make_token(maria.id)
    post_update(client, channel, start_with(token))
    again = start_with(token)
    again["update_id"] += 1
    again["message"]["message_id"] += 1000

    post_update(client, channel, again)

    contact = the_contact(channel)
    assert contact.client_id == maria.id
    assert len(db.session.scalars(select(Message).where(Message.event == "linked_by_link")).all()) == 1
