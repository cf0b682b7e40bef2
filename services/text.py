"""Text normalisation for search: names, phones, previews."""

import re

import phonenumbers

_SPACES = re.compile(r"\s+")


def normalize_text(value: str) -> str:
    """Casefolded, ё -> е, single spaces: what search compares on both sides."""
    return _SPACES.sub(" ", (value or "").casefold().replace("ё", "е")).strip()


def normalize_phone(raw: str, region: str = "RU") -> str | None:
    """E.164 form of a phone written any way (+7 (916) 123-45-67, 89161234567), or None."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """+79161234567 -> +7 916 123-45-67, for people to read."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_search_digits(query: str) -> str | None:
    """The digits to look for in stored E.164 digits, or None if the query is no phone.

    The last ten digits of a full number identify it whatever its written form
    (+7 (916) 123-45-67, 89161234567, 9161234567; +380 67 ..., 067 ...); a shorter
    fragment of at least 4 digits is matched as it is.
    """
    if not re.fullmatch(r"[\d\s()+\-.]+", query or ""):
        return None
    digits = re.sub(r"\D", "", query)
    if len(digits) < 4:
        return None
    return digits[-10:]


def preview(text: str, limit: int = 120) -> str:
    text = _SPACES.sub(" ", text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
