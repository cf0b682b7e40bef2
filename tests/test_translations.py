"""The Russian, Ukrainian and English catalogs translate every message the code holds, and pages speak them.

The catalog check extracts the messages from the tree as it is now (the same babel.cfg mapping and
keywords as `pybabel extract`), so a string added without a translation fails here, with its name.
Pages read the compiled catalogs (.mo), which `make test` and `make run` build from the .po files.
"""

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask_babel import force_locale, ngettext

from config import Config
from tests.factories import make_user

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("ru", "uk", "en")
# what `pybabel extract --ignore-dirs` leaves out (see translations/README.md); hidden directories too
IGNORED_DIRS = {".venv", "node_modules", "bench", "tests"}
KEYWORDS = {
    **DEFAULT_KEYWORDS,
    "_l": None,
    "lazy_gettext": None,
    "lazy_ngettext": (1, 2),
    "lazy_pgettext": ((1, "c"), 2),
}
# %(name)s / %(n)d and {client.first_name}: what code fills in, so a translation must keep each one
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
BRACED = re.compile(r"\{[A-Za-z_][\w.]*\}")


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text)) | set(BRACED.findall(text))


def lone_percent(text: str) -> bool:
    """A % that is neither a placeholder nor %%: Jinja's gettext %-formats every string and fails on it."""
    return "%" in PLACEHOLDER.sub("", text).replace("%%", "")


def extracted_messages() -> dict[tuple[str | None, str], tuple[str, ...]]:
    """(context, msgid) -> every msgid form (singular, plural) the code holds now, with where it is."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)

    def keep(dirpath: str) -> bool:
        name = Path(dirpath).name
        return not name.startswith(".") and name not in IGNORED_DIRS

    found: dict[tuple[str | None, str], tuple[str, ...]] = {}
    for _filename, _lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS, directory_filter=keep
    ):
        forms = (message,) if isinstance(message, str) else tuple(message)
        if forms[0]:
            found[(context, forms[0])] = forms
    return found


@pytest.fixture(scope="module")
def messages():
    found = extracted_messages()
    assert len(found) > 300, "extraction found almost nothing: is babel.cfg still there?"
    return found


def catalog_problems(language: str, messages) -> list[str]:
    with (ROOT / "translations" / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=language)
    problems = []
    for (context, msgid), forms in sorted(messages.items(), key=lambda item: item[0][1]):
        entry = catalog.get(msgid, context=context)
        if entry is None:
            problems.append(f"missing: {msgid!r}")
            continue
        strings = (entry.string,) if isinstance(entry.string, str) else tuple(entry.string)
        if entry.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        if not all(s and s.strip() for s in strings):
            problems.append(f"empty: {msgid!r}")
            continue
        if len(forms) > 1 and not isinstance(entry.id, tuple):
            problems.append(f"not a plural entry (run pybabel update): {msgid!r}")
            continue
        for i, text in enumerate(strings):
            # English forms mirror the msgids; a Russian or Ukrainian form stands for many numbers
            # (21 takes the singular form), so it keeps every placeholder of the plural msgid
            wanted = placeholders(forms[i] if len(strings) == len(forms) else forms[-1])
            if placeholders(text) != wanted:
                got = sorted(placeholders(text))
                problems.append(f"placeholders differ: {msgid!r} has {sorted(wanted)}, {text!r} has {got}")
            if lone_percent(text) and not lone_percent(forms[-1]):
                problems.append(f"a lone % in {text!r} (for {msgid!r}): write %% or rephrase")
    return problems


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_translates_every_message_in_the_code(language, messages):
    problems = catalog_problems(language, messages)
    assert not problems, (
        f"translations/{language}/LC_MESSAGES/messages.po is incomplete ({len(problems)}); run pybabel "
        "extract + update (see translations/README.md) and translate:\n" + "\n".join(problems)
    )


@pytest.mark.parametrize("language", ("ru", "uk"))
def test_catalog_has_three_plural_forms_for_every_counted_message(language):
    with (ROOT / "translations" / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=language)
    assert catalog.num_plurals == 3
    short = [m.id for m in catalog if isinstance(m.id, tuple) and len([s for s in m.string if s]) != 3]
    assert not short


# ---- pages in each language (compiled catalogs: `make translations`) ------------------------------


@pytest.fixture
def shipped_default(app):
    """The default language the app ships with (the other tests' app reads English by default)."""
    assert Config.BABEL_DEFAULT_LOCALE == "ru"
    app.config["BABEL_DEFAULT_LOCALE"] = Config.BABEL_DEFAULT_LOCALE


def test_login_page_is_in_russian_by_default(shipped_default, client):
    html = client.get("/login").get_data(as_text=True)

    assert '<html lang="ru">' in html
    assert "Войти" in html and "Пароль" in html and "Эл. почта" in html
    assert "Log in" not in html


@pytest.mark.parametrize(
    ("language", "present", "absent"),
    [("uk", ("Увійти", "Пароль", "Ел. пошта"), "Войти"), ("en", ("Log in", "Password", "E-mail"), "Войти")],
)
def test_login_page_speaks_the_language_chosen_in_the_cookie(client, language, present, absent):
    client.set_cookie("lang", language)

    html = client.get("/login").get_data(as_text=True)

    assert f'<html lang="{language}">' in html
    assert all(word in html for word in present), present
    assert absent not in html


def test_wrong_password_is_refused_in_the_readers_language(client):
    client.set_cookie("lang", "uk")
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    form = {"email": "nobody@salon.test", "password": "wrong-pass", "csrf_token": token}
    response = client.post("/login", data=form)

    assert "Неправильний e-mail або пароль." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (None, ("Чаты", "Без ответа", "С админом", "Выйти")),
        ("uk", ("Чати", "Без відповіді", "З адміном", "Вийти")),
        ("en", ("Chats", "Unanswered", "With admin", "Log out")),
    ],
)
def test_inbox_speaks_the_users_language(shipped_default, login_as, language, words):
    staff = login_as(make_user(role="admin", language=language))

    html = staff.get("/").get_data(as_text=True)

    assert f'<html lang="{language or "ru"}">' in html
    missing = [w for w in words if w not in html]
    assert not missing, f"not on the page: {missing}"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("ru", ["1 сообщение", "3 сообщения", "5 сообщений", "21 сообщение", "12 сообщений"]),
        ("uk", ["1 повідомлення", "3 повідомлення", "5 повідомлень", "21 повідомлення", "12 повідомлень"]),
        ("en", ["1 message", "3 messages", "5 messages", "21 messages", "12 messages"]),
    ],
)
def test_counted_messages_take_the_languages_plural_forms(app, language, expected):
    with app.test_request_context(), force_locale(language):
        said = [ngettext("%(num)d message", "%(num)d messages", n) for n in (1, 3, 5, 21, 12)]

    assert said == expected
