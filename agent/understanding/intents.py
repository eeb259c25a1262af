"""Cue words for each intent, and splitting a message into the clauses that carry them.

A message is cut into sentences (at . ! ? ; and new lines) and each sentence into clauses (at
", and", "and also", "but", ", can you" ...). Each clause is then read for the intents it holds;
the caller orders what it found by position, so requests come out in the order written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# --- splitting ------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?;]+(?=\s|$)|\n|(?<=\s)[-–—](?=\s)")
_CLAUSE_BREAK = re.compile(
    r",\s*(?=(?:and|also|plus|but|so|can|could|do|does|is|are|will|would|what|whats|what's|"
    r"how|when|where|should|we|we're|we'll|we've|i|i'm|i'll|my|our|they|fyi|pls|please)\b)"
    r"|\s(?=(?:and\s+(?:also|then|can|could|pls|please|plz|have|what|how|do|does|is|are|note|"
    r"fyi|they|we|i|my|our|swap|switch|change|cancel|remove|add|need|make|get|give|call|let)|"
    r"also|but|plus\s+(?:can|what|how|do))\b)"
)


@dataclass(frozen=True)
class Clause:
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
        for m in _CLAUSE_BREAK.finditer(text, sentence_start, sentence_end):
            if m.end() > start and text[start : m.start()].strip():
                clauses.append(Clause(start, m.start(), index))
                start = m.end()
        if text[start:sentence_end].strip():
            clauses.append(Clause(start, sentence_end, index))
        sentence_start = sentence_end
    return clauses


# --- cues -----------------------------------------------------------------------------------

OPT_OUT = re.compile(r"^[\W_]*(?:stop|stopall|stop\s+all|unsubscribe|cancel|end|quit)[\W_]*$")

HUMAN = re.compile(
    r"\b(?:(?:talk|speak|chat)\s+(?:to|with)\s+(?:a|an|the|some|your|someone|somebody|anyone|"
    r"person|people|human|manager|owner|staff|rep|representative|agent|member|real|live|boss)\b"
    r"|someone\s+(?:i\s+can\s+)?(?:talk|speak)"
    r"|(?:call|phone|ring|text)\s+me\b|call\s+(?:me\s+)?back|call-?back|"
    r"give\s+(?:me|us)\s+a\s+(?:call|ring)|get\s+(?:me\s+)?(?:a|an|the|your)\s+(?:human|person|manager|"
    r"real\s+person|supervisor|owner|agent|boss)|connect\s+me\s+(?:to|with)|transfer\s+me|"
    r"(?:someone|somebody|anyone)\s+(?:to\s+)?(?:call|phone|contact|reach\s+out\s+to)\s+(?:me|us)|"
    r"real\s+person|human\s+being|live\s+(?:person|agent))\b"
)
HUMAN_ALONE = re.compile(
    r"^\W*(?:an?\s+|the\s+)?(?:agent|representative|rep|human|operator|manager|supervisor|"
    r"real\s+person|person|someone|owner)(?:\s+(?:please|pls|plz|now|asap))?\W*$"
)

CANCEL = re.compile(
    r"(?<![a-z])(?:cancel(?!lation\s+polic)[a-z]*|call(?:ing)?\s+(?:it|the\s+\w+|everything)\s+off"
    r"|refund(?!able)[a-z]*|money\s+back|deposit\s+back|not\s+doing\s+it\s+anymore)"
)
#: "What is your cancellation policy?", "how much is the reschedule fee?": questions about a
#: change, not the change itself.
POLICY_QUESTION = re.compile(
    r"^\W*(?:what|what's|whats|how|is|are|does|do|when|which|if)\b.{0,80}?"
    r"\b(?:polic\w*|happens|fees?|charge\w*|costs?|penalt\w*|refundable|how\s+much|"
    r"how\s+(?:does|do)\s+\w+\s+work)\b"
)

DATE_VERB = re.compile(
    r"\b(?:re-?schedul\w*|postpon\w*|push(?:ing)?\s+(?:it|the\s+\w+|our\s+\w+|everything)?\s*"
    r"(?:back|forward|out)|(?:chang\w*|switch\w*|mov\w*)\s+(?:the\s+|our\s+)?(?:date|day)|"
    r"different\s+(?:date|day|weekend)|another\s+(?:date|day|weekend)|new\s+date|"
    r"(?:start|begin)\w*\s+(?:at|earlier|later)|(?:earlier|later)\s+start|"
    r"(?:weekend|week)\s+after|rain\s*date)\b"
)
#: "move/push/bump ... to" is a date change only with a date or time in the clause.
DATE_MOVE = re.compile(
    r"\b(?:mov(?:e|ing)|push(?:ing)?|bump(?:ing)?|shift(?:ing)?)\b(?:\s+\S+){0,3}?\s+(?:to|up|until)\b"
)
DATE_SOFT = re.compile(
    r"\b(?:instead|(?:can|could)\s+we\s+(?:do|have\s+it|make\s+it)|how\s+about|what\s+about|"
    r"works\s+(?:for\s+us|better)|would\s+(?:suit|work)|available\s+on|free\s+on)\b"
)
TIME = re.compile(
    r"\b(?:1[0-2]|0?[1-9])(?::[0-5][0-9])?\s*(?:am|pm|a\.m\.|p\.m\.)|\bnoon\b|\bmidnight\b"
    r"|\ban?\s+hour\b|\bhours?\s+(?:earlier|later)\b"
)

WEATHER = re.compile(
    r"\b(?:rain\w*|pour(?:ing|s)?|storm\w*|thunder\w*|lightning|hurricane\w*|tornado\w*|wind|"
    r"windy|winds|gusts?|gusty|heat|heatwave|degrees?|humid\w*|hail\w*|drizzl\w*|snow\w*|sleet|"
    r"smoke|smoky|wildfires?|forecast\w*|weather|flood\w*|tent|tents|canopy|shade|sunny|"
    r"freezing|mud|muddy|(?:so|too|really|very|super)\s+hot|hot\s+(?:out|outside|day|weather)|"
    r"covered\s+(?:patio|area|porch|deck|space)|(?:no|zero|any|under)\s+cover)\b"
    r"|(?<!baby )(?<!bridal )(?<!wedding )\bshowers\b|\b[0-9]{2,3}\s*(?:°\s*f?|f\b)"
)

ACCESS_STRONG = re.compile(
    r"\b(?:gate|gated|gate\s*code|code\s*(?:is\s*)?#?[0-9]{3,}|(?:door|entry|access|building|"
    r"lockbox|buzzer)\s+code|lockbox|key\s*box|buzz\w*|intercom|elevator|lobby|concierge|"
    r"front\s+desk|security(?!\s+deposit)|guard|visitor\s+(?:pass|parking)|park|parking|parked|"
    r"driveway|cul-?de-?sac|gps|turn\s+(?:left|right)|side\s+(?:gate|door|entrance)|"
    r"back\s+(?:gate|door|entrance|alley)|front\s+door|rear\s+(?:entrance|door|gate|service)|"
    r"entrance|loading\s+(?:area|dock|zone)|service\s+(?:road|entrance|elevator)|street|st|ave|"
    r"avenue|road|rd|blvd|apt|apartment|unit\s+#?[0-9]+|suite|condo|address|house\s+is|"
    r"come\s+in\s+(?:through|from|via|the)|get\s+in|let\s+(?:him|the\s+chef|them)\s+in|accessed|"
    r"directions|subdivision|(?:tricky|hard)\s+to\s+find|dogs?)\b"
)
ACCESS_WEAK = re.compile(
    r"\b(?:set\s*-?\s*up\s+(?:on|in|at|under|by|near|inside|outside|next\s+to)|"
    r"(?:pool|roof)\s+deck|outlet|grill\s+spot|(?:on|in)\s+the\s+(?:back|front)\s+"
    r"(?:patio|yard|porch|lawn))\b"
)

FAQ_TOPIC = re.compile(
    r"\b(?:price\w*|pricing|cost\w*|how\s+much|charge\w*|fees?|deposit|refundable|pay|paying|"
    r"payment\w*|venmo|zelle|paypal|cash|credit\s+cards?|cards|invoice|checks?|gratuity|tips?|"
    r"tipping|included?|includes|minimum|maximum|how\s+long|how\s+far|in\s+advance|what\s+time|"
    r"arriv\w*|clean\s*-?\s*up|cleanup|bring|provide|plates?|chairs?|tables?|utensils|"
    r"chopsticks|napkins|indoors?|inside|space|drinks?|sake|alcohol|beer|wine|polic\w*|"
    r"per\s+person|discount\w*|travel|serve|service\s+area|free|weekdays?|available|"
    r"availability|final\s+count|insurance|insured|licensed|menu|"
    r"do\s+you\s+(?:guys\s+)?(?:do|cater|offer|have|serve|provide|accept|take|travel|come|go))\b"
)
QUESTION = re.compile(
    r"\?|^\W*(?:what|what's|whats|how|do|does|did|is|are|r|can|could|will|would|when|where|"
    r"which|who|why|any|should)\b|\b(?:tell\s+me|let\s+me\s+know|wondering|confirm\s+whether|"
    r"(?:like|want|need)\s+to\s+know|curious|question\s+about|inquir\w*|"
    r"ask\w*\s+(?:about|how|what|if|whether))\b"
)
SELECTION = re.compile(
    r"\b(?:want|wants|like|we'?ll\s+(?:take|have|do)|let'?s\s+do|lets\s+do|go\s+with|going\s+with|"
    r"get|add|include|put\s+us\s+down|selections?|pick|choose|order|for\s+(?:me|us|everyone|"
    r"everybody|all|the\s+(?:table|group|kids|adults))|please|pls)\b"
)

GREETING = re.compile(
    r"^\W*(?:hi+|hello+|hey+|hiya|howdy|yo|good\s+(?:morning|afternoon|evening|day)|greetings|"
    r"dear\s+\w+)\b|\b(?:thanks|thank\s+you|thx|ty|tysm|cheers|much\s+appreciated|"
    r"appreciate\s+it)\b"
)

SWAP = re.compile(
    r"\b(?:switch\w*|swap\w*|chang\w*|replac\w*|instead|rather\s+than|substitut\w*|"
    r"sub\s+(?:out|in)|trade|exchange|back\s+to)\b|->|→|=>"
)
#: Cues that read as a swap only when the clause names two proteins ("no more salmon, make it
#: shrimp", "scallops not salmon"); "make it calamari" alone is a choice.
SWAP_WEAK = re.compile(r"\b(?:no\s+more|make\s+it|not)\b")
#: Words before a protein that reject it ("no calamari", "allergic to shrimp").
REJECTED = re.compile(
    r"(?:\bno|\bnot|without|allergic\s+to|allergy\s+to|avoid|hates?|don'?t\s+(?:eat|like|want)|"
    r"dont\s+(?:eat|like|want)|can'?t\s+(?:have|eat)|instead\s+of|rather\s+than|from|"
    r"no\s+more|but|except|other\s+than|besides)\s+(?:the\s+|any\s+|our\s+|more\s+)?$"
)
#: Words that introduce the protein being replaced: "instead of X", "from X", "changed from X".
OLD_MARKER = re.compile(r"\b(?:instead\s+of|rather\s+than|from)\s+(?:the\s+|our\s+|my\s+)?$")
CONNECTOR = re.compile(r"^(?:\s|,|&|\+|/|\band\b|\bor\b|\bthe\b|\bregular\b|\bplain\b)*$")

CHOICE_LEAD = re.compile(
    r"^\W{0,3}(?:(?:option|choice|number|#)\s*)?(?:(?P<d>[12])(?:\ufe0f?\u20e3)?(?![0-9])"
    r"(?!\s*(?:more|less|people|ppl|guests|adults|kids|pm|am|/|:))"
    r"|(?P<w>one|two)(?=\W*$|\s*[.!,)]|\s+(?:please|pls|plz|thanks|thank|thx)\b))"
)
CHOICE_ANY = re.compile(
    r"\b(?:option|choice|number|pick|choose|go\s+with|take)\s*#?\s*(?P<c>[12]|one|two)\b"
)
QUESTION_START = re.compile(
    r"^\W*(?:what|what's|whats|how|if|why|does|do|is|are|when|where|which|who)\b"
)
