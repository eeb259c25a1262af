"""Phone numbers in E.164, the only form the product stores."""

from __future__ import annotations

import phonenumbers

from knowledge.errors import InvalidInput


def to_e164(raw: str, region: str = "US") -> str:
    """'+1 (916) 555-0101', '916-555-0101', 'whatsapp:+19165550101' → '+19165550101'."""
    text = raw.strip().removeprefix("whatsapp:")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(f"'{raw}' is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(f"'{raw}' is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
