"""Phone numbers as people write them: national formats, a 00 prefix, spaces and
dashes, Persian (۰-۹) or Arabic-Indic (٠-٩) digits. The country comes from the
contact's locale, else the merchant's default region."""

from __future__ import annotations

import phonenumbers

# Digits people type on Persian and Arabic keyboards, to ASCII.
_TO_ASCII = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
# Bidi marks and the like that a copy from a chat or a spreadsheet brings along.
_INVISIBLE = dict.fromkeys(map(ord, "\u200e\u200f\u200c\u200d\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                                    "\ufeff\u00a0"), None)
# A language alone says where our customers of that language are.
LANGUAGE_REGION = {"fa": "IR", "ar": "SA"}
MOBILE = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


class PhoneError(ValueError):
    """The number can't be used for SMS; the message says why, without the number."""


def region_for(locale: str, default_region: str = "") -> str | None:
    """The locale's region subtag (fa-IR -> IR, ar-AE -> AE), else the merchant's
    default region, else the language's usual country (fa -> IR, ar -> SA)."""
    parts = (locale or "").replace("_", "-").split("-")
    for part in parts[1:]:
        if len(part) == 2 and part.isalpha():
            return part.upper()
    if default_region:
        return default_region.upper()
    return LANGUAGE_REGION.get(parts[0].lower())


def to_e164(raw: str, locale: str = "", default_region: str = "") -> str:
    """The E.164 form of a mobile number written any usual way; PhoneError otherwise."""
    text = raw.translate(_INVISIBLE).translate(_TO_ASCII).strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    region = region_for(locale, default_region)
    if not text.startswith("+") and region is None:
        raise PhoneError("no country: write the number as +<country><number>, or give the contact a locale "
                         "with a region (e.g. fa-IR) or the merchant a default region")
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneError("not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        where = phonenumbers.region_code_for_number(parsed) or region or "any country"
        raise PhoneError(f"not a valid number for {where}")
    if phonenumbers.number_type(parsed) not in MOBILE:
        raise PhoneError("not a mobile number: SMS can only reach mobile phones")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def search_forms(raw: str, default_region: str = "") -> list[str]:
    """The E.164 numbers a phone typed into a search may be, read as UpsertContact
    reads one: international as written, a national number in the merchant's
    default region, or (with none) in each country our languages point to (a
    national number valid in two of them finds both). PhoneError when none."""
    regions = [default_region.upper()] if default_region else sorted(set(LANGUAGE_REGION.values()))
    found: list[str] = []
    why = "not a phone number"
    for region in regions:
        try:
            e164 = to_e164(raw, "", region)
        except PhoneError as exc:
            why = str(exc)
            continue
        if e164 not in found:
            found.append(e164)
    if not found:
        raise PhoneError(why)
    return found


def calling_code(e164: str) -> str:
    """"98" for +98…, "" when the number can't be read."""
    try:
        return str(phonenumbers.parse(e164, None).country_code)
    except phonenumbers.NumberParseException:
        return ""
