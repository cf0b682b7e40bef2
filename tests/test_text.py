"""Search normalisation: names, phones in any written form, list previews."""

import pytest

from services.text import format_phone, normalize_phone, normalize_text, phone_search_digits, preview


def test_normalize_text_casefolds_cyrillic_and_latin():
    assert normalize_text("МАРИЯ Ivanova") == "мария ivanova"


def test_normalize_text_folds_yo_to_ye_in_both_cases():
    assert normalize_text("Пётр ЁЛКИН") == "петр елкин"


def test_normalize_text_collapses_and_trims_whitespace():
    assert normalize_text("  Анна\t\tМария \n Ольга\u00a0 ") == "анна мария ольга"


def test_normalize_text_of_nothing_is_empty():
    assert normalize_text(None) == ""
    assert normalize_text("   ") == ""


@pytest.mark.parametrize(
    "written",
    ["+7 (916) 123-45-67", "89161234567", "8 (916) 123-45-67", "9161234567", "79161234567", "+79161234567"],
)
def test_russian_number_in_any_written_form_becomes_e164(written):
    assert normalize_phone(written, "RU") == "+79161234567"


@pytest.mark.parametrize("written", ["+380 67 123 45 67", "+380671234567", "380671234567"])
def test_ukrainian_number_becomes_e164_with_russian_default_region(written):
    assert normalize_phone(written, "RU") == "+380671234567"


def test_ukrainian_local_form_needs_the_ukrainian_region():
    assert normalize_phone("067 123 45 67", "UA") == "+380671234567"
    # under RU it is no valid number, and must not turn into a made-up +7 one
    assert normalize_phone("067 123 45 67", "RU") is None


@pytest.mark.parametrize(
    "garbage",
    ["", "   ", None, "hello", "@maria_k", "123", "12345", "+7 916", "+7 000 000-00-00", "1111111111", "+"],
)
def test_garbage_is_no_phone(garbage):
    assert normalize_phone(garbage) is None


def test_format_phone_is_readable_and_keeps_unparseable_text():
    assert format_phone("+79161234567") == "+7 916 123-45-67"
    assert format_phone("not a phone") == "not a phone"


STORED_RU = "79161234567"  # the digits column of +79161234567
STORED_UA = "380671234567"


@pytest.mark.parametrize(
    "query",
    ["+7 (916) 123-45-67", "89161234567", "8 916 123 45 67", "9161234567", "+79161234567", "916-123-45-67"],
)
def test_any_written_form_of_a_russian_number_is_found_in_its_stored_digits(query):
    digits = phone_search_digits(query)
    assert digits and digits in STORED_RU


@pytest.mark.parametrize("query", ["+380 67 123 45 67", "380671234567", "067 123 45 67", "(067) 123-45-67"])
def test_any_written_form_of_a_ukrainian_number_is_found_in_its_stored_digits(query):
    digits = phone_search_digits(query)
    assert digits and digits in STORED_UA


@pytest.mark.parametrize("query, expected", [("45-67", "4567"), ("123-45", "12345"), ("1234 567", "1234567")])
def test_short_fragment_is_searched_as_written(query, expected):
    assert phone_search_digits(query) == expected
    assert expected in STORED_RU


def test_fragment_of_a_different_number_is_not_found():
    assert phone_search_digits("555-66") not in STORED_RU


@pytest.mark.parametrize("query", ["Мария", "916abc", "ещё 123", "", "   ", "12", "+7 9", None])
def test_text_or_too_short_query_is_no_phone_search(query):
    assert phone_search_digits(query) is None


def test_preview_keeps_short_text_on_one_line():
    assert preview("Здравствуйте!\nМожно   записаться?") == "Здравствуйте! Можно записаться?"


def test_preview_cuts_long_text_with_an_ellipsis_within_the_limit():
    cut = preview("слово " * 100, limit=20)
    assert len(cut) == 20
    assert cut.endswith("…")
    assert cut.startswith("слово слово")


def test_preview_of_text_exactly_at_the_limit_is_not_cut():
    assert preview("a" * 20, limit=20) == "a" * 20


def test_preview_of_nothing_is_empty():
    assert preview(None) == ""
