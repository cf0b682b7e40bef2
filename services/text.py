"""Text normalisation for search: names, phones, previews."""

import re

import phonenumbers

_SPACES = re.compile(r"\s+")


def normalize_text(value: str) -> str:
    """Casefolded, ё -> е, single spaces: what search compares on both sides."""
    return _SPACES.sub(" ", (value or "").casefold().replace("ё", "е")).strip()


def normalize_phone(raw: str, region: str = "RU") -> str | None:
    """E.164 form of a phone written any way (+7 (916) 123-45-67, 89161234567), or None.

    Only numbers valid for their country pass (a "possible" length alone lets
    +7 000 000-00-00 through). A foreign number written without its "+" (as
    WhatsApp gives ids: 380671234567) is tried as international when it is no
    valid number of `region`.
    """
    raw = (raw or "").strip()
    if not raw:
        return None
    candidates = [raw]
    if not raw.startswith("+") and re.fullmatch(r"[\d\s()\-.]+", raw):
        candidates.append("+" + re.sub(r"\D", "", raw))
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


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
