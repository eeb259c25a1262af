"""Email as a customer channel: what an incoming email says, and the email a reply becomes.

Reading keeps only what the customer wrote this time: the plain-text part (or the HTML part
turned into text), without the quoted history and the "On … wrote:" line
(`mail-parser-reply`). Mail nobody should answer is told apart by its headers: auto-replies
(`Auto-Submitted`, `X-Autoreply`, `Precedence: auto_reply/bulk/junk`), mailing lists
(`List-Id`), bounces (a delivery-status report, or mail from the mailer daemon), mail too
large to be a customer's note, and mail with no text at all.

Writing gives every message a plain-text and an HTML part, a subject per kind of message, the
threading headers that keep the customer's mail client on one thread, and `List-Unsubscribe`.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from typing import Literal

import html2text
from mailparser_reply import EmailReplyParser

#: Larger than any note a customer types; attachments-only mail is not read either.
MAX_EMAIL_BYTES = 2 * 1024 * 1024
#: What is kept of a long email's new text.
MAX_TEXT_CHARS = 8000

Unusable = Literal["auto_reply", "bounce", "mailing_list", "too_large", "no_text", "from_us"]

_AUTO_PRECEDENCE = frozenset({"auto_reply", "bulk", "junk", "list"})
_DAEMON = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|bounces?)(?:[+@]|$)", re.I)
_UNSUBSCRIBE = re.compile(r"^\s*(?:unsubscribe|stop|opt[\s-]?out)\b", re.I)
_URL = re.compile(r"https?://[^\s<>\"']+")
_REPLY_PREFIX = re.compile(r"^(?:(?:re|aw|sv|fw|fwd)\s*:\s*)+", re.I)


@dataclass(frozen=True)
class IncomingEmail:
    """One email, read: who sent it, its ids, and its new text (or why it is not answered)."""

    message_id: str  # the Message-ID header, or one made from the content when missing
    sender: str  # the From address, lower-cased
    sender_name: str | None
    subject: str
    text: str  # what the customer wrote this time
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    unusable: Unusable | None = None
    bounced: tuple[str, ...] = ()  # for a bounce: the addresses that could not be delivered to
    unsubscribe: bool = False  # "unsubscribe" as the subject or the first word

    @property
    def key(self) -> str:
        """The stored message's provider id: Message-IDs can be longer than the column."""
        return provider_id(self.message_id)


def provider_id(message_id: str) -> str:
    return "email:" + hashlib.sha256(message_id.strip().encode()).hexdigest()[:40]


def read_email(raw: bytes, *, own_address: str) -> IncomingEmail:
    """Read one email as delivered to the shop's mailbox."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    name, sender = parseaddr(str(message.get("From", "")))
    sender = sender.strip().lower()
    message_id = str(message.get("Message-ID", "")).strip()
    if not message_id:
        message_id = "<" + hashlib.sha256(raw).hexdigest()[:32] + "@no-message-id>"
    subject = " ".join(str(message.get("Subject", "")).split())
    in_reply_to = str(message.get("In-Reply-To", "")).strip() or None
    references = tuple(str(message.get("References", "")).split())
    read = IncomingEmail(
        message_id=message_id,
        sender=sender,
        sender_name=name.strip() or None,
        subject=subject,
        text="",
        in_reply_to=in_reply_to,
        references=references,
    )
    unusable = _unusable(message, sender, own_address, len(raw))
    if unusable is not None:
        bounced = _bounced(message) if unusable == "bounce" else ()
        return replace(read, unusable=unusable, bounced=bounced)
    text = new_text(_body(message))
    unsubscribe = bool(_UNSUBSCRIBE.match(subject) or _UNSUBSCRIBE.match(text))
    if not text and not unsubscribe:
        return replace(read, unusable="no_text")
    return replace(read, text=text or subject, unsubscribe=unsubscribe)


def _unusable(message: EmailMessage, sender: str, own: str, size: int) -> Unusable | None:
    if size > MAX_EMAIL_BYTES:
        return "too_large"
    content_type = message.get_content_type()
    report = str(message.get_param("report-type", "", header="content-type") or "").lower()
    if (content_type == "multipart/report" and report == "delivery-status") or _DAEMON.match(
        sender
    ):
        return "bounce"
    if not sender or sender == own.strip().lower():
        return "from_us"
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    if auto and auto != "no":
        return "auto_reply"
    if message.get("X-Autoreply") or message.get("X-Autorespond"):
        return "auto_reply"
    if str(message.get("Precedence", "")).strip().lower() in _AUTO_PRECEDENCE:
        return "auto_reply"
    if message.get("List-Id"):
        return "mailing_list"
    return None


def _bounced(message: EmailMessage) -> tuple[str, ...]:
    """The recipients a delivery-status report says failed (Final-Recipient), if it says."""
    found: list[str] = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else [part]
        for block in blocks:
            if not isinstance(block, EmailMessage):
                continue
            for header in ("Final-Recipient", "Original-Recipient"):
                value = str(block.get(header, ""))
                if ";" in value:
                    address = value.split(";", 1)[1].strip().lower()
                    if address and address not in found:
                        found.append(address)
    if not found:  # a daemon's plain-text bounce: the addresses it quotes
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        found = [a.lower() for _, a in getaddresses(re.findall(r"<([^<>\s]+@[^<>\s]+)>", text))]
    return tuple(found)


def _body(message: EmailMessage) -> str:
    plain = message.get_body(preferencelist=("plain",))
    if plain is not None:
        return str(plain.get_content())
    rich = message.get_body(preferencelist=("html",))
    if rich is not None:
        converter = html2text.HTML2Text()
        converter.ignore_images = True
        converter.ignore_emphasis = True
        converter.body_width = 0
        return converter.handle(str(rich.get_content()))
    return ""


def new_text(body: str) -> str:
    """What the customer wrote this time: no quoted history, no "On … wrote:" line."""
    body = body.replace("\r\n", "\n").replace("\x00", "").strip()
    if not body:
        return ""
    reply = EmailReplyParser(languages=["en", "es"]).parse_reply(body) or body
    lines = [line for line in reply.split("\n") if not line.lstrip().startswith(">")]
    return "\n".join(lines).strip()[:MAX_TEXT_CHARS]


# --- writing -------------------------------------------------------------------------------

#: The subject of each kind of message that does not answer one of the customer's emails.
SUBJECTS = {
    "confirmation": "Your hibachi party is booked",
    "7_day": "Time to choose your menu",
    "4_day": "Your menu is due soon",
    "menu_deadline": "We still need your menu",
    "day_before": "See you tomorrow",
    "on_the_way": "Your chef is on the way",
    "ten_minutes": "Your chef is almost there",
    "post_event": "How was your party?",
    "lead_follow_up": "Your hibachi quote",
}
DEFAULT_SUBJECT = "A message about your hibachi party"


@dataclass(frozen=True)
class Thread:
    """The customer's email this message answers, if any, for the threading headers."""

    message_id: str | None = None
    subject: str | None = None
    references: tuple[str, ...] = field(default_factory=tuple)


def subject_for(kind: str | None, business: str, thread: Thread) -> str:
    if thread.subject:
        return "Re: " + _REPLY_PREFIX.sub("", thread.subject)
    return f"{business}: {SUBJECTS.get(kind or '', DEFAULT_SUBJECT)}"


def compose(
    *,
    body: str,
    to: str,
    sender: str,
    business: str,
    kind: str | None,
    message_id: int,
    thread: Thread,
    sent_at: datetime,
    journey: bool,
) -> EmailMessage:
    """The email for one outbound message: text and HTML, threaded, with an unsubscribe."""
    email = EmailMessage()
    email["From"] = Address(display_name=business, addr_spec=sender)
    email["To"] = to
    email["Subject"] = subject_for(kind, business, thread)
    email["Date"] = format_datetime(sent_at)
    domain = sender.rsplit("@", 1)[-1] or "localhost"
    email["Message-ID"] = make_msgid(idstring=f"hibachi.{message_id}", domain=domain)
    if thread.message_id:
        email["In-Reply-To"] = thread.message_id
        email["References"] = " ".join([*thread.references, thread.message_id][-10:])
    email["List-Unsubscribe"] = f"<mailto:{sender}?subject=unsubscribe>"
    email["Auto-Submitted"] = "auto-generated" if journey else "auto-replied"
    footer = (
        f"You're getting this because you booked a party with {business}. "
        "Reply UNSUBSCRIBE to stop these emails."
    )
    email.set_content(f"{body}\n\n--\n{footer}\n")
    email.add_alternative(_html(body, business, footer, journey), subtype="html")
    return email


def _html(body: str, business: str, footer: str, journey: bool) -> str:
    paragraphs = "".join(
        f'<p style="margin:0 0 12px">{_linked(p).replace(chr(10), "<br>")}</p>'
        for p in body.split("\n\n")
        if p.strip()
    )
    header = (
        f'<div style="font-size:20px;font-weight:600;margin-bottom:16px">{html.escape(business)}'
        "</div>"
        if journey
        else ""
    )
    return (
        '<!doctype html><html><body style="font-family:Arial,Helvetica,sans-serif;'
        'font-size:15px;line-height:1.5;color:#222">'
        f'<div style="max-width:560px;margin:0 auto;padding:16px">{header}{paragraphs}'
        f'<p style="margin-top:24px;font-size:12px;color:#666">{html.escape(footer)}</p>'
        "</div></body></html>"
    )


def _linked(text: str) -> str:
    """Escaped text with its web addresses as links."""
    out, last = [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?)")
        out.append(html.escape(text[last : match.start()]))
        out.append(f'<a href="{html.escape(url, quote=True)}">{html.escape(url)}</a>')
        last = match.start() + len(url)
    out.append(html.escape(text[last:]))
    return "".join(out)
