"""How a message sounds: frustrated, anxious, formal, casual or neutral.

Each tone collects points from words, emoji, punctuation and capitals; the first tone (in the
order frustrated, anxious, formal, casual) that reaches its threshold wins, else neutral. A
frustrated or anxious customer needs care more than a casual one needs matching, hence the order.
"""

from __future__ import annotations

import re

from agent.understanding.intents import Cue
from agent.understanding.schema import Tone

_STRONG_FRUSTRATION = Cue(
    r"(?:ridiculous|unacceptable|useless|idiots?|stupid|clowns?|worst|rude|disappoint\w*|"
    r"terrible|awful|horrible|pathetic|disaster|disgusting|incompetent|scam|ugh+|wtf|"
    r"how\s+hard\s+is|how\s+many\s+times|keep\s+telling|already\s+told|told\s+you\s+already|"
    r"second\s+time|third\s+time|fourth\s+time|fifth\s+time|anyone\s+even|done\s+talking|never\s+showed|"
    r"no[\s-]show|fed\s+up|sick\s+of|furious|angry|livid|why\s+did\s+you|why\s+isn'?t|"
    r"why\s+is\s+there|what\s+the\s+hell)\b"
)
_WEAK_FRUSTRATION = Cue(
    r"(?:asked\s+(?:twice|again)|nobody|no\s+one|been\s+waiting|waiting\s+(?:all|"
    r"\d+|for\s+(?:days|hours|weeks))|late|cold|mess|want\s+(?:my\s+money\s+back|a\s+(?:full\s+)?"
    r"refund)|money\s+back|not\s+paying|immediately|annoy\w*|frustrat\w*|upset)\b"
)
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'"})
_SHOUTED_DEMAND = Cue(r"(?:NOW|TODAY|FIX\s+IT|WHY|HOW|NEVER|ASAP)\b")
#: From the first capital of a run only: "AAAA…a" tried from every capital was quadratic.
_CAPS_WORD = Cue(r"(?<![A-Z])[A-Z]{3,}+\b")
_ANGRY_PUNCT = re.compile(r"!{3,}|\?{3,}|\?!|!\?")
_ANGRY_EMOJI = re.compile("[🤡😡😠🤬👎💩]")
_POSITIVE = Cue(
    r"(?:amazing|incredible|awesome|love|loved|best|great|perfect|excellent|fantastic|"
    r"wonderful|thank\s+you|thanks|can'?t\s+wait)\b|[🔥🙌😍🥳🎉😋🤤❤]"
)

_STRONG_ANXIETY = Cue(
    r"(?:worried|worry|worrying|nervous|scared|anxious|afraid|stressed|stressing|panic\w*|"
    r"freaking\s+out|terrified|frightened)\b"
)
_WEAK_ANXIETY = Cue(
    r"(?:i\s+hope|really\s+hope|so\s+hope|hope\s+(?:that'?s|it'?s|this|we|the|you|it)|"
    r"so\s+sorry|really\s+sorry|very\s+sorry|sorry\s+(?:to\s+bother|for\s+(?:the|all))|"
    r"is\s+that\s+(?:ok|okay|alright|fine|possible)|not\s+too\s+late|mess\s+(?:something\s+)?up|"
    r"bear\s+with\s+me)\b"
)
_ANXIOUS_EMOJI = re.compile("[😟😬😰😥😨😧🥺😓]")
_NOT_ANXIOUS = Cue(r"hope\s+(?:this|the)\s+(?:message|email|note)\s+finds\b")

_FORMAL = Cue(
    r"(?:dear|kindly|regards|sincerely|respectfully|i\s+would\s+like|we\s+would\s+like|"
    r"i\s+would\s+prefer|we\s+would\s+prefer|could\s+you\s+(?:please|kindly|confirm|advise)|"
    r"would\s+you\s+(?:please|kindly)|could\s+a\s+member|at\s+your\s+earliest|"
    r"thank\s+you\s+(?:for\s+your|kindly|in\s+advance)|we\s+appreciate|i\s+am\s+writing|"
    r"please\s+advise|would\s+suit|i\s+would\s+rate|i\s+kindly|good\s+(?:afternoon|evening)|"
    r"i\s+am\s+concerned|on\s+behalf\s+of|i\s+prefer\s+to|madam|sir)\b"
)
_CLOSING_THANKS = re.compile(r"[.;]\s+thank\s+you\.?\s*$")

_CASUAL_STRONG = Cue(
    r"(?:lol|lmao|rofl|haha\w*|hehe\w*|omg|idk|tbh|rn|btw|bc|thx|ty|yo|hiii+|heyy+|"
    r"kiddos|sooo+|yay|umm+|w/)(?![a-z])"
)
_CASUAL_WEAK = Cue(
    r"(?:pls|plz|u|ur|r|gonna|wanna|gotta|ya|yeah|yep|nope|hey|hi|hello|cuz|cos|n|"
    r"lets|thanks|kinda|guys|super|awesome|cool)\b"
)
_EMOJI = re.compile(
    "[\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u2b55\u203c\u2049\u20e3\U0001f1e6-\U0001f1ff]"
)


def _caps_words(text: str) -> int:
    return _CAPS_WORD.count(text)


def detect_tone(text: str) -> Tone:
    """The tone of a message, from its words, emoji, punctuation and capitals."""
    if not text.strip():
        return "neutral"
    lower = text.translate(_QUOTES).lower()

    angry = 2 * _STRONG_FRUSTRATION.count(lower)
    angry += _WEAK_FRUSTRATION.count(lower)
    angry += _SHOUTED_DEMAND.count(text)
    angry += 1 if _ANGRY_PUNCT.search(text) else 0
    angry += 2 if _ANGRY_EMOJI.search(text) else 0
    angry += 1 if _caps_words(text) >= 2 else 0
    angry -= _POSITIVE.count(lower)
    if angry >= 2:
        return "frustrated"

    worried = 2 * _STRONG_ANXIETY.count(lower)
    worried += _WEAK_ANXIETY.count(lower)
    worried += 1 if _ANXIOUS_EMOJI.search(text) else 0
    if _NOT_ANXIOUS.search(lower):
        worried -= 1
    if worried >= 2:
        return "anxious"

    formal = 2 * _FORMAL.count(lower)
    formal += 2 if _CLOSING_THANKS.search(lower) else 0
    if formal >= 2:
        return "formal"

    casual = 2 * _CASUAL_STRONG.count(lower)
    casual += _CASUAL_WEAK.count(lower)
    casual += 2 if _EMOJI.search(text) else 0
    exclaims = text.count("!")
    casual += 2 if "!!" in text else (1 if exclaims else 0)
    if casual >= 2:
        return "casual"
    return "neutral"
