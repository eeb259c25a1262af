"""Cue words for each intent, and splitting a message into the clauses that carry them.

A message is cut into sentences (at . ! ? ; and new lines) and each sentence into clauses (at
", and", "and also", "but", ", can you" ...). Each cue is searched once over the whole message
and its matches are handed to the clauses they fall in; the caller orders what it found by
position, so requests come out in the order written.

Speed: CPython's `re` skips quickly through text only when every branch of a pattern starts
with a literal character. A leading `\\b` or look-behind makes it try the whole pattern at every
position (ten times slower on long text), so these patterns have no leading `\\b`: `Cue` checks
the word boundary in Python instead, on the few places a pattern matches.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

from tools.messaging.keywords import STOP_WORDS


def _wordish(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


class Cue:
    """A pattern that only matches at the start of a word (when it starts with a letter or
    digit), with the boundary checked in Python rather than by a leading `\\b`."""

    __slots__ = ("regex",)

    def __init__(self, pattern: str) -> None:
        self.regex = re.compile(pattern)

    def finditer(
        self, text: str, pos: int = 0, endpos: int | None = None
    ) -> Iterator[re.Match[str]]:
        end = len(text) if endpos is None else endpos
        for m in self.regex.finditer(text, pos, end):
            s = m.start()
            if s and s < len(text) and _wordish(text[s]) and _wordish(text[s - 1]):
                continue
            yield m

    def search(self, text: str, pos: int = 0, endpos: int | None = None) -> re.Match[str] | None:
        for m in self.finditer(text, pos, endpos):
            return m
        return None

    def count(self, text: str) -> int:
        return sum(1 for _ in self.finditer(text))


class Hits:
    """Every match of one cue in a message, looked up by span."""

    __slots__ = ("matches", "starts")

    def __init__(self, cue: Cue, text: str) -> None:
        self.matches = list(cue.finditer(text))
        self.starts = [m.start() for m in self.matches]

    def first(self, start: int, end: int) -> re.Match[str] | None:
        """The first match that starts in [start, end) and ends by end."""
        i = bisect_left(self.starts, start)
        while i < len(self.starts) and self.starts[i] < end:
            if self.matches[i].end() <= end:
                return self.matches[i]
            i += 1
        return None


# --- splitting ------------------------------------------------------------------------------

#: An emoji ends a sentence where a new one opens after it ("we have to cancel 😞 is the deposit
#: refundable?"); before a dish ("🦞 for 2") or inside one it stays part of the sentence.
_EMOJI = r"[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B50\u2B55\uFE0F\u200D]"
_EMOJI_END = (
    rf"(?<!{_EMOJI}){_EMOJI}++"  # a run is tried from its first emoji only
    r"(?=\s+(?:can|could|do|does|did|is|are|will|would|what|whats|what's|how|when|where|should|"
    r"also|and|btw|pls|please|any|we|we're|we'll|i|i'm|i'll|my|our|u|r|oh|hey|thanks|thx)\b)"
)
#: A run of stops is tried from its first character only: "..........x" tried from every dot
#: was quadratic.
_SENTENCE_END = re.compile(r"(?<![.!?;])[.!?;]++(?=\s|$)|\n|[-–—](?<=\s[-–—])(?=\s)|" + _EMOJI_END)
_CLAUSE_BREAK = re.compile(
    r",\s*(?=(?:and|n|also|plus|but|so|can|could|do|does|is|are|will|would|what|whats|what's|"
    r"how|when|where|should|we|we're|we'll|we've|i|i'm|i'll|my|our|they|fyi|pls|please)\b)"
    r"|\s(?=(?:(?:and|n)\s+(?:also|then|can|could|pls|please|plz|have|what|how|do|does|is|are|note|"
    r"fyi|they|we|i|my|our|swap|switch|change|cancel|remove|add|need|make|get|give|call|let)|"
    r"also|but|plus\s+(?:can|what|how|do))\b)"
)


class Clause(NamedTuple):
    start: int
    end: int
    sentence: int


def split_clauses(text: str) -> list[Clause]:
    """The clauses of a (lower-cased) message, as spans, each tagged with its sentence."""
    clauses: list[Clause] = []
    sentence_start = 0
    bounds = [m.end() for m in _SENTENCE_END.finditer(text)]
    if not bounds or bounds[-1] < len(text):
        bounds.append(len(text))
    for index, sentence_end in enumerate(bounds):
        start = sentence_start
        if sentence_end - start > 8:
            for m in _CLAUSE_BREAK.finditer(text, sentence_start, sentence_end):
                if m.end() > start and not text[start : m.start()].isspace():
                    clauses.append(Clause(start, m.start(), index))
                    start = m.end()
        if sentence_end > start and not text[start:sentence_end].isspace():
            clauses.append(Clause(start, sentence_end, index))
        sentence_start = sentence_end
    return clauses


# --- cues -----------------------------------------------------------------------------------

OPT_OUT = re.compile(r"^[\W_]*(?:" + "|".join(sorted(STOP_WORDS)) + r"|stop\s+all)[\W_]*$")

_PEOPLE = (
    r"(?:a|an|the|some|your|someone|somebody|anyone|person|people|human|manager|owner|staff|rep|"
    r"representative|agent|member|real|live|boss)"
)
HUMAN = Cue(
    rf"(?:talk\s+(?:to|with)\s+{_PEOPLE}\b|speak\s+(?:to|with)\s+{_PEOPLE}\b|"
    rf"chat\s+(?:to|with)\s+{_PEOPLE}\b|someone\s+(?:i\s+can\s+)?(?:talk|speak)|"
    r"call\s+me\b|phone\s+me\b|ring\s+me\b|text\s+me\b|call\s+(?:me\s+)?back|callback|call-back|"
    r"give\s+(?:me|us)\s+a\s+(?:call|ring)|get\s+(?:me\s+)?(?:a|an|the|your)\s+(?:human|person|"
    r"manager|real\s+person|supervisor|owner|agent|boss)|connect\s+me\s+(?:to|with)|transfer\s+me|"
    r"someone\s+(?:to\s+)?(?:call|phone|contact)\s+(?:me|us)|somebody\s+(?:to\s+)?(?:call|phone|"
    r"contact)\s+(?:me|us)|anyone\s+(?:to\s+)?(?:call|phone|contact)\s+(?:me|us)|real\s+person|"
    r"human\s+being|live\s+person|live\s+agent|have\s+(?:a|an|the|your)\s+(?:owner|manager|"
    r"supervisor|person|human|someone|rep|representative)\s+(?:call|phone|contact|reach|text)\b|"
    r"have\s+(?:someone|somebody)\s+(?:call|phone|contact|reach|text)\b)"
)
#: Asking whether we are a person or a machine ("r u a real person or a bot"): a question the
#: FAQs answer, not a request for a person, though it names one.
ASKING_WHO = re.compile(
    r"\b(?:are\s+(?:you|u)|r\s+u|is\s+(?:this|it|that)|am\s+i\s+(?:texting|talking|chatting|"
    r"speaking)(?:\s+(?:to|with))?)\s+(?:a\s+|an\s+)?(?:real\s+(?:person|human)|human(?:\s+being)?|"
    r"live\s+person|person|bot|robot|ai|machine|computer|automated)\b"
)
HUMAN_ALONE = re.compile(
    r"^\W*(?:an?\s+|the\s+)?(?:agent|representative|rep|human|operator|manager|supervisor|"
    r"real\s+person|person|someone|owner)(?:\s+(?:please|pls|plz|now|asap))?\W*$"
)

CANCEL = Cue(
    r"(?:cancel(?!lation\s+polic)[a-z]*|call\s+(?:it|the\s+\w+|everything)\s+off|calling\s+(?:it|"
    r"the\s+\w+|everything)\s+off|refund(?!able)[a-z]*|money\s+back|deposit\s+back|"
    r"not\s+doing\s+it\s+anymore)"
)
#: A negation at most three words before a cue, in its clause: "we're not cancelling", "don't
#: want to cancel", "no need to cancel". A bare "no" answers something else ("no, cancel it").
_DENIAL = re.compile(
    r"(?:\b(?:not|never|cannot|dont|wont|no\s+need\s+to)|n't)\s+(?:[\w']+\s+){0,2}$"
)
_CLAUSE_MARKS = ",.;:!?"
#: A cue said as the name of its policy ("what's the cancel policy", "cancellation fee") asks
#: about the act; it neither says nor denies it.
_NAMES_A_POLICY = re.compile(r"\s+(?:policy|policies|fees?|rules|terms|window|deadline)\b")


def names_a_policy(said_at: Iterable[re.Match[str]], text: str) -> bool:
    """Whether the text says a cue (`said_at`: its matches in `text`) as the name of its policy
    ("just wondering whats the cancel policy"): a question about the act."""
    return any(_NAMES_A_POLICY.match(text, m.end()) for m in said_at)


def denied(said_at: Iterable[re.Match[str]], text: str, objects: Sequence[int] = ()) -> bool:
    """Whether the text says a cue (`said_at`: its matches in `text`) and, every time it does,
    denies it or names one of the `objects` (where things it may act on start: "cancel the
    noodles") within two words after it: "ok good to know, not cancelling just asking" asks
    for no cancellation."""
    said = False
    for m in said_at:
        if _NAMES_A_POLICY.match(text, m.end()):
            continue
        said = True
        clause = max(text.rfind(mark, 0, m.start()) for mark in _CLAUSE_MARKS) + 1
        named = any(
            m.end() <= start and len(text[m.end() : start].split()) <= 2 for start in objects
        )
        if not (named or _DENIAL.search(text, clause, m.start())):
            return False
    return said


#: "What is your cancellation policy?", "how much is the reschedule fee?": questions about a
#: change, not the change itself.
POLICY_QUESTION = re.compile(
    r"^\W*(?:what|what's|whats|how|is|are|does|do|when|which|if)\b.{0,80}?"
    r"\b(?:polic\w*|happens|fees?|charge\w*|costs?|penalt\w*|refundable|how\s+much|"
    r"how\s+(?:does|do)\s+\w+\s+work)\b"
)

#: The rest of a word after a cue's stem ("chang" -> "changed"). Bounded and possessive: an
#: unbounded `\w*` scanned a glued run ("changechange...") to its end from every stem, which was
#: quadratic (250 ms for 10,000 characters).
REST_OF_WORD = r"\w{0,20}+"

DATE_VERB = Cue(
    r"(?:re-?schedul\w*|postpon\w*|push\s++(?:it|the\s+\w+|our\s+\w+|everything)?\s*+"
    r"(?:back|forward|out)\b|pushing\s++(?:it|the\s+\w+|our\s+\w+|everything)?\s*+"
    rf"(?:back|forward|out)\b|chang{REST_OF_WORD}\s+(?:the\s+|our\s+)?(?:date|day)\b|"
    rf"switch{REST_OF_WORD}\s+(?:the\s+|our\s+)?(?:date|day)\b|"
    rf"mov{REST_OF_WORD}\s+(?:the\s+|our\s+)?(?:date|day)\b|"
    r"different\s+(?:date|day|weekend)\b|another\s+(?:date|day|weekend)\b|new\s+date\b|"
    rf"start{REST_OF_WORD}\s+(?:earlier|later|sooner)\b|"
    rf"begin{REST_OF_WORD}\s+(?:earlier|later|sooner)\b|"
    r"can\s+(?:we|it|you)\s+start\s+at\b|could\s+(?:we|it|you)\s+start\s+at\b|"
    r"start\s+time\s+to\b|(?:change|move|push|bump)\s+the\s+(?:start\s+)?time\b|"
    r"earlier\s+start|later\s+start|weekend\s+after|week\s+after|rain\s*date)"
)
#: "move/push/bump ... to" is a date change only with a date or time in the clause.
DATE_MOVE = Cue(
    r"(?:move|moving|push|pushing|bump|bumping|shift|shifting)\b(?:\s+\S+){0,3}?\s+"
    r"(?:to|up|until)\b"
)
DATE_SOFT = Cue(
    r"(?:instead\b|can\s+we\s+(?:do|have\s+it|make\s+it)\b|could\s+we\s+(?:do|have\s+it|make\s+it)\b"
    r"|how\s+about\b|what\s+about\b|works\s+(?:for\s+us|better)\b|would\s+(?:suit|work)\b|"
    r"available\b|free\b|open\b)"
)
TIME = Cue(
    r"(?:1[0-2](?::[0-5][0-9])?\s*(?:am|pm|a\.m\.|p\.m\.)|0?[1-9](?::[0-5][0-9])?\s*(?:am|pm|a\.m\.|"
    r"p\.m\.)|noon\b|midnight\b|an?\s+hour\b|hours?\s+(?:earlier|later)\b)"
)

#: A move of the start time on the party's own day ("push the start time to 6 same day", "an
#: hour later"): read with TIME when no date is said.
SAME_DAY = Cue(
    r"(?:same\s+day|that\s+day|start(?:ing)?\s+time|start\s+(?:earlier|later)|"
    r"(?:earlier|later)\s+start)"
)

WEATHER = Cue(
    r"(?:rain\w*|pour(?:ing|s)?\b|storm\w*|thunder\w*|lightning|hurricane\w*|tornado\w*|wind\b|"
    r"windy|winds\b|gusts?\b|gusty|heat\b|heatwave|degrees?\b|humid\w*|hail\w*|drizzl\w*|snow\w*|"
    r"sleet|smoke\b|smoky|wildfires?|forecast\w*|weather|flood\w*|tents?\b|canopy|shade\b|sunny|"
    r"freezing|mud\b|muddy|so\s+hot\b|too\s+hot\b|really\s+hot\b|very\s+hot\b|super\s+hot\b|"
    r"hot\s+(?:out|outside|day|weather)\b|covered\s+(?:patio|area|porch|deck|space)|"
    r"no\s+cover\b|zero\s+cover\b|any\s+cover\b|under\s+cover\b|"
    r"showers\b(?<!baby\sshowers)(?<!bridal\sshowers)(?<!wedding\sshowers)|"
    r"[0-9][0-9][0-9]?\s*(?:°\s*f?|f\b))"
)

ACCESS_STRONG = Cue(
    r"(?:gate\b|gated|gate\s*code|code\s*(?:is\s*)?#?[0-9]{3,}|door\s+code|entry\s+code|"
    r"access\s+code|building\s+code|lockbox|buzzer|key\s*box|buzz\w*|intercom|elevator|lobby|"
    r"concierge|front\s+desk|security\b(?!\s+deposit)|guard\b|visitor\s+(?:pass|parking)|park\b|"
    r"parking|parked|driveway|cul-?de-?sac|gps\b|turn\s+(?:left|right)|side\s+(?:gate|door|"
    r"entrance)|back\s+(?:gate|door|entrance|alley)|front\s+door|rear\s+(?:entrance|door|gate|"
    r"service)|entrance|loading\s+(?:area|dock|zone)|service\s+(?:road|entrance|elevator)|"
    r"street|st\b|ave\b|avenue|road\b|rd\b|blvd|apt\b|apartment|unit\s+#?[0-9]+|suite\b|condo\b|"
    r"our\s+address|my\s+address|address\s+is\b|house\s+is\b|come\s+in\s+(?:through|from|via|the)\b|get\s+in\b|"
    r"let\s+(?:him|the\s+chef|them)\s+in\b|accessed|directions|subdivision|tricky\s+to\s+find|"
    r"hard\s+to\s+find)"
)
ACCESS_WEAK = Cue(
    r"(?:set\s*+-?\s*+up\s+(?:on|in|at|under|by|near|inside|outside|next\s+to)\b|"
    r"pool\s+deck|roof\s+deck|outlet|grill\s+spot|on\s+the\s+(?:back|front)\s+(?:patio|yard|porch|"
    r"lawn)|in\s+the\s+(?:back|front)\s+(?:patio|yard|porch|lawn))"
)

FAQ_TOPIC = Cue(
    r"(?:price\w*|pricing|cost\w*|how\s+much|charge\w*|fees?\b|deposit|refundable|pay\b|paying|"
    r"payment\w*|venmo|zelle|paypal|cash\b|credit\s+cards?|cards\b|invoice|checks?\b|gratuity|"
    r"tips?\b|tipping|included?\b|includes|upcharge\w*|surcharge\w*|extra\s*+(?:\?|$)|minimum|maximum|how\s+long|how\s+far|in\s+advance|"
    r"what\s+time|arriv\w*|clean\s*+-?\s*+up|cleanup|bring\w*|provid\w*|need\s+anything|"
    r"have\s+ready|enough\s+food|portions?\b|leftovers?|take\s+home|to-?go\b|openings?\b|"
    r"booked\s+up|how\s+many\s+(?:people|guests|kids|adults|can)|difference|explain|deadline|"
    r"cut-?off|latest\b|how\s+late|last\s+day|plates?\b|chairs?\b|tables?\b|"
    r"utensils|chopsticks|napkins|indoors?\b|inside\b|space\b|drinks?\b|sake\b|alcohol|beer\b|"
    r"wine\b|polic\w*|per\s+person|discount\w*|travel\b|serve\b|service\s+area|free\b|weekdays?\b|"
    r"available|availability|final\s+count|insurance|insured|licensed|menu\b|"
    r"do\s+you\s+(?:guys\s+)?(?:do|cater|offer|have|serve|provide|accept|take|travel|come|go)\b)"
)
#: Words that join a question on to what came before ("also how much is lobster", "oh and
#: what time does he come", "btw whats the price of scallops") without asking anything.
#: Possessive throughout: "&&&&..." or "and, and, ..." must not be split every possible way.
_JOINING = r"(?:(?:also|and|oh|plus|btw|so|ok|okay|but|then|actually|n)\W++)*+"
QUESTION = re.compile(
    r"\?|^\W*+"
    + _JOINING
    + r"(?:what|what's|whats|how|do|does|did|is|are|r|can|could|will|would|when|where|"
    r"which|who|why|any|should)\b|\b(?:tell\s+me|let\s+me\s+know|wondering|confirm\s+whether|"
    r"(?:like|want|need)\s+to\s+know|curious|question\s+about|inquir\w*|"
    r"ask\w*\s+(?:about|how|what|if|whether))\b"
)
SELECTION = Cue(
    r"(?:want\b|wants\b|like\b|we'?ll\s+(?:take|have|do)\b|let'?s\s+do\b|lets\s+do\b|go\s+with\b|"
    r"going\s+with\b|get\b|add\b|include\b|put\s+us\s+down|selections?\b|pick\b|choose\b|order\b|"
    r"for\s+(?:me|us|everyone|everybody|all|the\s+(?:table|group|kids|adults))\b|please\b|pls\b)"
)

_OPENING = (
    r"^\W*(?:hi+|hello+|hey+|hiya|howdy|yo|good\s+(?:morning|afternoon|evening|day)|greetings|"
    r"dear\s+\w+)\b"
)
_THANK_WORDS = (
    r"\b(?:thanks|thank\s+you|thank\s+u|thx|ty|tysm|cheers|much\s+appreciated|appreciate\s+it)\b"
)
_ACK_WORDS = (
    r"\b(?:perfect|great|awesome|got\s+it|sounds\s+good|ok|okay|k|kk|cool|so\s+much|a\s+lot|"
    r"again|very\s+much|you\s+guys|guys|sm|yes|yep|yeah|yup|ya|yah|sure|noted|will\s+do|alright|"
    r"please|pls|plz)\b"
)
GREETING = re.compile(_OPENING + "|" + _THANK_WORDS)
THANKS = re.compile(_THANK_WORDS, re.IGNORECASE)
#: A message that only thanks or acknowledges ("ok thx", "perfect, thank you!!"): it closes the
#: thread, it asks nothing.
#: Emoji that acknowledge on their own ("👍", "🙏").
_ACK_EMOJI = "[\U0001f44d\U0001f44c\U0001f64f\u2705\U0001f64c]\ufe0f?"
CLOSING = re.compile(
    rf"^\W*?(?:(?:{_THANK_WORDS}|{_ACK_WORDS}|{_ACK_EMOJI})[\s,.!]*)+\W*$", re.IGNORECASE
)
_LEADING_GREETING = re.compile(_OPENING + r"[\s,!.]*", re.IGNORECASE)


def without_greeting(text: str) -> str:
    """The message without the greeting it opens with ("hey do u take venmo": "do u take
    venmo"), for searching what it asks."""
    return _LEADING_GREETING.sub("", text, count=1)


SWAP = Cue(
    r"(?:switch\w*|swap\w*|chang\w*|replac\w*|instead\b|rather\s+than|substitut\w*|"
    r"sub\s+(?:out|in)\b|trade\b|exchange\b|back\s+to\b|->|→|=>)"
)
#: "change our proteins", "update the order": a swap without naming the proteins yet.
SWAP_ORDER = Cue(
    rf"(?:(?:chang|switch|swap|updat|modif|edit){REST_OF_WORD})\s+(?:our|my|the)\s+"
    r"(?:proteins?|order|menu|selections?|meats?|food\s+order|food\s+choices?)\b"
)
#: Cues that read as a swap only when the clause names two proteins ("no more salmon, make it
#: shrimp", "scallops not salmon"); "make it calamari" alone is a choice.
SWAP_WEAK = Cue(r"(?:no\s+more\b|make\s+it\b|make\s+(?:the|our|my)\b|not\b)")
#: Words before a protein that reject it ("no calamari", "allergic to shrimp").
REJECTED = re.compile(
    r"(?:\bno|\bnot|without|allergic\s+to|allergy\s+to|avoid|hates?|don'?t\s+(?:eat|like|want)|"
    r"dont\s+(?:eat|like|want)|can'?t\s+(?:have|eat)|instead\s+of|rather\s+than|from|"
    r"no\s+more|but|except|other\s+than|besides|remove|drop|skip|take\s+off|"
    r"(?:do\s+not|don'?t|dont|no\s+longer)\s+want)\s+(?:the\s+|any\s+|our\s+|more\s+)?$"
)
#: Words that introduce the protein being replaced: "instead of X", "from X", "changed from X".
OLD_MARKER = re.compile(
    r"\b(?:instead\s+of|rather\s+than|from|nvm\s+on|never\s?mind\s+(?:on\s+)?|drop|remove"
    r"|scratch|ditch|lose|no\s+more)\s+(?:the\s+|our\s+|my\s+)?$"
)
# Between an outgoing and an incoming protein: "tofu for filet", "shrimp -> salmon".
SWAP_TARGET = re.compile(
    r"^\s*(?:(?:over|out|up)\s+)?(?:->|→|=>|to|for|with|into|w/)\s+(?:the\s+|some\s+|a\s+)?$"
)
CONNECTOR = re.compile(r"^(?:\s|,|&|\+|/|\band\b|\bor\b|\bthe\b|\bregular\b|\bplain\b)*$")

CHOICE_LEAD = re.compile(
    r"^\W{0,3}(?:(?:option|choice|number|#)\s*)?(?:(?P<d>[12])(?:\ufe0f?\u20e3)?(?![0-9])"
    r"(?!\s*(?:more|less|people|ppl|guests|adults|kids|pm|am|/|:))"
    r"|(?P<w>one|two)(?=\W*$|\s*[.!,)]|\s+(?:please|pls|plz|thanks|thank|thx)\b))"
)
CHOICE_ANY = Cue(
    r"(?:option|choice|number|pick|choose|go\s+with|take)\s*+#?\s*+(?P<c>[12]|one|two)\b"
)
QUESTION_START = re.compile(
    r"^\W*(?:what|what's|whats|how|if|why|does|do|is|are|when|where|which|who)\b"
)
