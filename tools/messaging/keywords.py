"""Carrier keywords on SMS, WhatsApp and email (`channels.KEYWORD_CHANNELS`): the whole
message is one word that switches the channel off, back on, or asks for help. One list, read
by the reader, the turn and the policy."""

from __future__ import annotations

STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit"})
OPT_IN_WORDS = frozenset({"start", "unstop", "yes"})
HELP_WORDS = frozenset({"help", "info"})


def keyword(text: str) -> str | None:
    """A carrier keyword: the whole message is one of the opt-out, opt-in or help words."""
    word = text.strip().strip(".!").lower()
    return word if word in STOP_WORDS | OPT_IN_WORDS | HELP_WORDS else None
