from tests.factories import make_conversation, make_message, make_user


def test_counts_report_unanswered_conversations_all_mine_and_unassigned(login_as):
    anna = make_user(name="Anna")
    other = make_user(name="Olena")
    make_conversation(name="Unassigned", messages=["Можно записаться?"])
    make_conversation(name="Anna's", assignee_id=anna.id, messages=["Есть окошко завтра?"])
    make_conversation(name="Olena's", assignee_id=other.id, messages=["Сколько стоит стрижка?"])
    answered = make_conversation(name="Answered", messages=["Здравствуйте"])
    make_message(answered, "Добрый день! Да, есть время", direction="out", author=anna)
    make_conversation(name="Closed", state="closed", messages=["Спасибо"])
    make_conversation(name="Spam", is_spam=True, messages=["Продвижение в топ"])

    response = login_as(anna).get("/counts")

    assert response.status_code == 200
    assert response.get_json() == {"unanswered": 3, "mine": 1, "unassigned": 1}


def test_counts_for_htmx_are_the_header_badge(login_as):
    for n in range(120):
        make_conversation(name=f"Client {n}", messages=["Здравствуйте"])

    response = login_as(make_user()).get("/counts", headers={"HX-Request": "true"})

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="header-badge"' in html
    assert "99+" in html


def test_counts_are_refused_to_a_role_without_chat(login_as):
    response = login_as(make_user(role="master")).get("/counts")

    assert response.status_code == 403


def test_counts_need_a_login(client):
    response = client.get("/counts", headers={"HX-Request": "true"})

    assert response.status_code == 401
