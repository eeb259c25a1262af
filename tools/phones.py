"""Phone numbers in E.164, the only form the product stores."""

from __future__ import annotations

import re
from dataclasses import dataclass

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


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NAME_CUE = re.compile(
    r"(?i:\b(?:i'?m|i am|my name is|my name's|this is|it'?s|name:?))\s+"
    r"([A-Za-z][A-Za-z'-]+(?:\s+[A-Z][A-Za-z'-]+)?)"
)
_WORDS = re.compile(r"[A-Za-z][A-Za-z'-]*")
_NOT_NAMES = frozenset(
    {
        "my",
        "number",
        "phone",
        "email",
        "is",
        "at",
        "or",
        "and",
        "call",
        "text",
        "me",
        "you",
        "can",
        "reach",
        "the",
        "on",
        "cell",
        "mobile",
        "please",
        "pls",
        "thanks",
        "hi",
        "hey",
        "sure",
        "ok",
        "no",
        "yes",
        "here",
        "its",
        "it's",
    }
)


@dataclass(frozen=True)
class Contact:
    """How to reach someone who wrote without a known number: a phone, an email, a name."""

    phone: str | None
    email: str | None
    name: str | None

    def __bool__(self) -> bool:
        return bool(self.phone or self.email)

    def describe(self) -> str:
        ways = " or ".join(w for w in (self.phone, self.email) if w)
        return f"{self.name} at {ways}" if self.name else ways


def without_contact(text: str, region: str = "US") -> str:
    """The text with its phone numbers and email addresses taken out (what else it says)."""
    for m in reversed(list(phonenumbers.PhoneNumberMatcher(text, region))):
        text = text[: m.start] + " " + text[m.end :]
    return _EMAIL.sub(" ", text)


def find_contact(text: str, region: str = "US") -> Contact:
    """The phone number, email address and name a message gives ("Jane, 916-555-0101")."""
    phone = next(
        (
            phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
            for m in phonenumbers.PhoneNumberMatcher(text, region)
        ),
        None,
    )
    email_match = _EMAIL.search(text)
    email = email_match.group(0) if email_match else None
    cued = _NAME_CUE.search(text)
    if cued:
        name: str | None = cued.group(1).strip()
    else:
        rest = _EMAIL.sub(" ", text)
        words = [w for w in _WORDS.findall(rest) if w.lower() not in _NOT_NAMES]
        name = " ".join(words) if 0 < len(words) <= 3 else None
    return Contact(phone, email, name.title() if name else None)
