"""Reading a message the way it was meant before anything interprets it.

`Normaliser(lexicon, menu_words).normalise(text)` returns the text lower-cased and folded
(`rules.fold`), with, in this order:

1. texting shorthand read as words ("u" -> "you", "tmrw" -> "tomorrow", "w/" -> "with");
2. "2" read as "to" and "4" as "for" where the next word is a verb, an article or a pronoun
   ("need 2 cancel", "swap shrimp 4 salmon"), never where they count something ("2 kids");
3. misspellings corrected towards the domain's words (menu items from the knowledge base, the
   lexicon's domain words, people and words of joining, leaving and refusing): only a word
   that is not English, at an edit distance that grows with its length (1 up to 7 letters, 2
   beyond; words under 5 letters are left alone);
4. numbers in words as digits ("thirty four" -> "34", by `text2num`), and counting phrases the
   number reader does not know ("a dozen" -> "12", "a couple more" -> "2 more").

Everything language-specific is data (`data/<lang>/lexicon.yaml`); the English word list that
says which words are real comes with `symspellpy`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import process
from rapidfuzz.distance import OSA
from text_to_num import alpha2digit

from agent.understanding.entities import GROUP
from agent.understanding.rules import fold

DATA = Path(__file__).resolve().parent / "data"

_TOKEN = re.compile(r"[a-z0-9][a-z0-9'/-]*[a-z0-9/]|[a-z0-9]")
_LETTERS = re.compile(r"[a-z]+")
#: A count written onto its people word ("30ppl", "12adults").
_GLUED = re.compile(r"(\d{1,4})([a-z]{2,})")
#: A stop between two words: "2" and "4" before it stay numbers.
_STOP = re.compile(r"[.!?;:,]")
_PEOPLE = re.compile(GROUP)
#: The words the slot reader reads (agent/understanding/slots.py): a person's name in the
#: lexicon is a tuple of them.
WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")
#: An HTML or XML tag with its attributes ("<img src=x onerror=...>", "</b>"); "<3" is no tag.
_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")


def strip_markup(text: str) -> str:
    """The words a customer wrote, without markup pasted around them: HTML entities decoded
    ("&lt;b&gt;" is "<b>"), then tags and what their attributes carry removed. A message of
    markup alone reads as empty."""
    return _TAG.sub(" ", html.unescape(text))


@dataclass(frozen=True)
class FollowingUp:
    """How a short money question points back to the request of the message before it."""

    words: frozenset[str] = frozenset()
    costing: frozenset[str] = frozenset()
    linking: str = ""
    subjects: dict[str, str] = field(default_factory=dict)
    most_words: int = 0


@dataclass(frozen=True)
class Lexicon:
    """How customers of one language write: shorthand, counting phrases, domain words."""

    language: str
    shorthand: dict[str, str]
    two_as_to_before: frozenset[str]
    four_as_for_before: frozenset[str]
    counting_phrases: dict[str, str]
    domain_words: frozenset[str]
    yes_answers: frozenset[str] = frozenset()
    no_answers: frozenset[str] = frozenset()
    #: What a take-back keeps: `words`, `not_what` (first words after one that keep nothing:
    #: "keep me posted"), `before` (words that may come before one) and `not_with` (words that
    #: say more than keeping).
    keeping: dict[str, frozenset[str]] = field(default_factory=dict)
    #: A short question whether the clause before it can be done: `words` it points with,
    #: `asks` what it asks, `after` the words that may open it.
    pointing_back: dict[str, frozenset[str]] = field(default_factory=dict)
    #: Words said around a yes or a no that change nothing of it ("ok do it lol").
    answer_fillers: frozenset[str] = frozenset()
    #: What notes an answer without saying yes to anything ("ok cool thx", "got it").
    acknowledgements: frozenset[str] = frozenset()
    #: The yeses that consent to a change only asked about (a subset of `yes_answers`), as
    #: tuples of tokens.
    go_ahead: frozenset[tuple[str, ...]] = frozenset()
    #: Words that, opening what follows a yes, hold the yes back ("yes but make it 15"), as
    #: tuples of tokens.
    holding_back: frozenset[tuple[str, ...]] = frozenset()
    #: What speaks of a party other than the one booked ("book another", "second party"), as
    #: tuples of tokens.
    another_party: frozenset[tuple[str, ...]] = frozenset()
    four_as_for_after: frozenset[str] = frozenset()
    #: Shorthand read as "and" between two dishes only ("shrimp n filet").
    and_between_dishes: frozenset[str] = frozenset()
    #: Phrases that suppose a change or keep the booking as it is ("were we to", "for planning
    #: purposes", "don't change anything"), anywhere in a message, as tuples of tokens.
    supposing: frozenset[tuple[str, ...]] = frozenset()
    #: Words that, alone between two menu items, trade one for the other ("chicken for steak",
    #: "shrimp instead of calamari"), as tuples of tokens.
    trading: frozenset[tuple[str, ...]] = frozenset()
    #: Openings that ask us to do something rather than ask whether it can be done ("can u swap
    #: the steak 4 shrimp pls"), as tuples of tokens.
    polite_asks: frozenset[tuple[str, ...]] = frozenset()
    #: The words said around a count that corrects one read back ("no just 1", "1 not 2").
    recounting: frozenset[str] = frozenset()
    #: The words that, said with that count, make it more people or fewer ("just 1 more").
    recounting_more: frozenset[str] = frozenset()
    recounting_fewer: frozenset[str] = frozenset()
    #: The words that, said first, make such a count correct a change just made ("no sorry
    #: just 1" after "Done: 12 guests (10 adults, 2 kids)").
    correcting_openers: frozenset[str] = frozenset()
    #: The words that, beside another group, put a change just made in that group ("sorry
    #: they're adults" after "Done: 12 guests (10 adults, 2 kids)").
    regrouping: frozenset[str] = frozenset()
    #: People named without a number: the words (as a tuple of tokens), their group and count.
    people: dict[tuple[str, ...], tuple[str, int]] = field(default_factory=dict)
    #: Plural words naming the group of a number beside them ("her 3 boys").
    plural_people: dict[str, str] = field(default_factory=dict)
    #: Verbs of bringing along and possessive words: a person named before "... bring her 3
    #: kids" is the one bringing them (a hint for the learned person reader).
    bringing: frozenset[str] = frozenset()
    possessives: frozenset[str] = frozenset()
    #: Words (as tuples of tokens) that say people are coming or going, and the words that
    #: negate them: hints for the learned slot reader (`slots.ways`).
    joining: frozenset[tuple[str, ...]] = frozenset()
    leaving: frozenset[tuple[str, ...]] = frozenset()
    negations: frozenset[str] = frozenset()
    #: Words that turn a menu item down, as tuples of tokens (`slots.refused`).
    refusing: frozenset[tuple[str, ...]] = frozenset()
    #: Words that open a question said without a question mark ("whats my balance now that we
    #: dropped to 14"): a change beside one is read back before it is applied.
    asking: frozenset[str] = frozenset()
    #: Words that open a yes/no question ("can the headcount be updated later").
    yes_no_openers: frozenset[str] = frozenset()
    #: Words and phrases of an informal register, as tuples of tokens (docs/labelling.md, T1).
    casual_markers: frozenset[tuple[str, ...]] = frozenset()
    #: Words by which customers take back what they just said ("steak and shrimp, no wait,
    #: steak and calamari"), as tuples of tokens, and words that add to it instead ("wait, can
    #: we also add lobster"): `slots.taken_back`.
    correcting: frozenset[tuple[str, ...]] = frozenset()
    adding: frozenset[str] = frozenset()
    #: Words that take back what was asked ("actually nvm no lobster"), as tuples of tokens.
    taking_back: frozenset[tuple[str, ...]] = frozenset()
    #: Emoji that name a dish ("🥩🍤" is steak and shrimp), read as the word.
    emoji: dict[str, str] = field(default_factory=dict)
    #: A money question that follows the request before it ("is there a fee for that?"):
    #: `words` that point back and `costing` words; `subjects` says what each intent's request
    #: is about ("moving the date"); `most_words` bounds the question.
    following_up: FollowingUp = field(default_factory=lambda: FollowingUp())

    @classmethod
    def load(cls, language: str = "en") -> Lexicon:
        return _lexicon(language)


@cache
def _lexicon(language: str) -> Lexicon:
    raw: dict[str, Any] = yaml.safe_load((DATA / language / "lexicon.yaml").read_text("utf-8"))
    return Lexicon(
        language=language,
        shorthand={str(k): str(v) for k, v in raw.get("shorthand", {}).items()},
        two_as_to_before=frozenset(raw.get("two_as_to_before", [])),
        four_as_for_before=frozenset(raw.get("four_as_for_before", [])),
        four_as_for_after=frozenset(raw.get("four_as_for_after", [])),
        and_between_dishes=frozenset(str(w) for w in raw.get("and_between_dishes", [])),
        supposing=_phrases(raw.get("supposing", [])),
        trading=_phrases(raw.get("trading", [])),
        polite_asks=_phrases(raw.get("polite_asks", [])),
        counting_phrases={str(k): str(v) for k, v in raw.get("counting_phrases", {}).items()},
        domain_words=frozenset(raw.get("domain_words", [])),
        yes_answers=frozenset(str(a) for a in raw.get("yes_answers", [])),
        no_answers=frozenset(str(a) for a in raw.get("no_answers", [])),
        keeping={k: frozenset(str(w) for w in v) for k, v in raw.get("keeping", {}).items()},
        pointing_back={
            k: frozenset(str(w) for w in v) for k, v in raw.get("pointing_back", {}).items()
        },
        go_ahead=_phrases(raw.get("go_ahead", [])),
        holding_back=_phrases(raw.get("holding_back", [])),
        another_party=_phrases(raw.get("another_party", [])),
        answer_fillers=frozenset(str(a) for a in raw.get("answer_fillers", [])),
        acknowledgements=frozenset(str(a) for a in raw.get("acknowledgements", [])),
        recounting=frozenset(str(w) for w in raw.get("recounting", [])),
        recounting_more=frozenset(str(w) for w in raw.get("recounting_more", [])),
        recounting_fewer=frozenset(str(w) for w in raw.get("recounting_fewer", [])),
        correcting_openers=frozenset(str(w) for w in raw.get("correcting_openers", [])),
        regrouping=frozenset(str(w) for w in raw.get("regrouping", [])),
        people=_people(raw.get("people") or {}, language),
        plural_people={
            " ".join(name): group
            for name, (group, _) in _people(raw.get("people") or {}, language, ("plural",)).items()
        },
        bringing=frozenset(str(w) for w in raw.get("bringing", [])),
        possessives=frozenset(str(w) for w in raw.get("possessives", [])),
        joining=_phrases(raw.get("joining", [])),
        leaving=_phrases(raw.get("leaving", [])),
        negations=frozenset(str(w) for w in raw.get("negations", [])),
        refusing=_phrases(raw.get("refusing", [])),
        asking=frozenset(str(w) for w in raw.get("asking", [])),
        yes_no_openers=frozenset(str(w) for w in raw.get("yes_no_openers", [])),
        casual_markers=frozenset(
            tuple(str(p).lower().split()) for p in raw.get("casual_markers", [])
        ),
        correcting=_phrases(raw.get("correcting", [])),
        taking_back=_phrases(raw.get("taking_back", [])),
        adding=frozenset(str(w) for w in raw.get("adding", [])),
        emoji={str(k): str(v) for k, v in raw.get("emoji", {}).items()},
        following_up=_following_up(raw.get("following_up") or {}),
    )


def _following_up(raw: dict[str, Any]) -> FollowingUp:
    return FollowingUp(
        words=frozenset(str(w) for w in raw.get("words", [])),
        costing=frozenset(str(w) for w in raw.get("costing", [])),
        linking=str(raw.get("linking", "")),
        subjects={str(k): str(v) for k, v in (raw.get("subjects") or {}).items()},
        most_words=int(raw.get("most_words", 0)),
    )


def _tokens(phrase: object) -> tuple[str, ...]:
    """A phrase of the lexicon as the tokens the slot reader sees ("make it": "make", "it")."""
    return tuple(WORD.findall(str(phrase).lower()))


def _phrases(raw: Sequence[str]) -> frozenset[tuple[str, ...]]:
    return frozenset(_tokens(p) for p in raw)


#: The guest groups a person named can count in (agent.understanding.schema.GuestGroup).
PEOPLE_GROUPS = ("adults", "kids", "toddlers")


def _people(
    raw: dict[str, dict[str, list[str]]], language: str, sizes: Sequence[str] = ("one", "two")
) -> dict[tuple[str, ...], tuple[str, int]]:
    """The lexicon's people (`people:`): each name as words, with its group and how many it
    counts; a group that is not a guest group is an error naming the file and the group."""
    found: dict[tuple[str, ...], tuple[str, int]] = {}
    for size in sizes:
        for group, words in raw.get(size, {}).items():
            if group not in PEOPLE_GROUPS:
                raise ValueError(
                    f"data/{language}/lexicon.yaml: people.{size}.{group} is not a guest group "
                    f"({', '.join(PEOPLE_GROUPS)})"
                )
            for word in words:
                found[_tokens(word)] = (group, 2 if size == "two" else 1)
    return found


@cache
def english_words() -> frozenset[str]:
    """Every word of symspellpy's English frequency list (82,765 words)."""
    source = resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    with source.open(encoding="utf-8") as lines:
        return frozenset(line.split(" ", 1)[0] for line in lines)


class Normaliser:
    """One language's normaliser, built once per lexicon and menu vocabulary; `more_words`
    are more words misspellings are corrected to (an FAQ's words, for its search)."""

    def __init__(
        self, lexicon: Lexicon, menu_words: Iterable[str] = (), more_words: Iterable[str] = ()
    ) -> None:
        self.lexicon = lexicon
        targets = set(lexicon.domain_words) | {w for w in more_words if w.isalpha()}
        # The words that say people come, go or turn something down are cue words too
        # ("increse by 3" is read as an increase, "bailled" as bailed).
        for cues in (lexicon.joining, lexicon.leaving, lexicon.refusing):
            targets.update(w for phrase in cues for w in phrase if w.isalpha())
        targets.update(w for words in lexicon.people for w in words if w.isalpha())
        targets.update(w for w in lexicon.plural_people if w.isalpha())
        menu = {w for phrase in menu_words for w in _LETTERS.findall(phrase.lower())}
        targets.update(menu)
        #: Menu words, between which "4" is "for" ("swap shrimp 4 salmon"); between two group
        #: words it is a count ("12 adults 4 kids").
        self.menu = frozenset(menu)
        self.targets = frozenset(t for t in targets if len(t) >= 4)
        self.known = (english_words() if lexicon.language == "en" else frozenset()) | self.targets
        self.by_initial: dict[str, list[str]] = {}
        for word in sorted(self.targets):
            self.by_initial.setdefault(word[0], []).append(word)
        #: Four-letter domain words by their letters: a short word is corrected only when two
        #: of its letters are swapped ("kdis" is "kids"), too short to guess at otherwise.
        self.by_letters: dict[str, list[str]] = {}
        for word in sorted(t for t in self.targets if len(t) == 4):
            self.by_letters.setdefault("".join(sorted(word)), []).append(word)
        #: The dishes' one-word names ("steak", "shrimp", "noodles"): written, they make an
        #: emoji beside them decoration.
        self.dishes = frozenset(p.lower() for p in menu_words if p.isalpha())
        self.emoji = (
            re.compile("|".join(re.escape(e) for e in sorted(lexicon.emoji, key=len, reverse=True)))
            if lexicon.emoji
            else None
        )
        phrases = sorted(lexicon.counting_phrases, key=len, reverse=True)
        self.counting = (
            re.compile(r"\b(?:" + "|".join(re.escape(p) for p in phrases) + r")\b")
            if phrases
            else None
        )
        self._corrections: dict[str, str] = {}

    def normalise(self, text: str) -> str:
        """The message as the reader should see it (see the module's docstring)."""
        lower = fold(text)
        if (
            self.emoji is not None
            and self.emoji.search(lower)
            and not self.dishes.intersection(_LETTERS.findall(lower))
        ):
            # a dish's emoji is its name only where no dish is written ("🥩🍤"); beside one it
            # is decoration ("filet for everyone 🥩")
            lower = self.emoji.sub(lambda m: f" {self.lexicon.emoji[m.group(0)]} ", lower)
        if not lower.strip():
            return lower
        tokens = _TOKEN.findall(lower)
        if not tokens:
            return lower
        out: list[str] = []
        last = 0
        matches = list(_TOKEN.finditer(lower))
        for i, m in enumerate(matches):
            out.append(lower[last : m.start()])
            word = m.group(0)
            if word in ("2", "4") and (
                _starts_a_list(lower, matches, i) or _ends_a_sentence(lower, matches, i)
            ):
                # "they're like 4, 8 and 13": ages, not "for"; "Rating: 2. The chef...": a
                # number, not "to"
                out.append(word)
            else:
                out.append(self._word(word, tokens, i))
            last = m.end()
        out.append(lower[last:])
        result = self._and_between_dishes("".join(out))
        if self.counting is not None:
            phrases = self.lexicon.counting_phrases
            result = self.counting.sub(lambda m: phrases[m.group(0)], result)
        if any(ch.isalpha() for ch in result):
            result = alpha2digit(result, self.lexicon.language)
        return result

    def _and_between_dishes(self, text: str) -> str:
        """The text with the lexicon's `and_between_dishes` ("n") read as "and" between two
        dishes as spelled right ("shrmp n scallps" is "shrimp and scallops")."""
        if not self.lexicon.and_between_dishes:
            return text
        words = list(_TOKEN.finditer(text))
        for k in range(len(words) - 2, 0, -1):
            m = words[k]
            if (
                m.group(0) in self.lexicon.and_between_dishes
                and words[k - 1].group(0) in self.menu
                and words[k + 1].group(0) in self.menu
            ):
                text = f"{text[: m.start()]}and{text[m.end() :]}"
        return text

    def _word(self, word: str, tokens: list[str], i: int) -> str:
        lex = self.lexicon
        expanded = lex.shorthand.get(word)
        if expanded is not None:
            return expanded
        glued = _GLUED.fullmatch(word)
        if glued is not None:  # "30ppl", "12adults": a count written onto its people word
            people = lex.shorthand.get(glued.group(2), glued.group(2))
            if _PEOPLE.fullmatch(people):
                return f"{glued.group(1)} {people}"
        if word in ("2", "4"):
            after = tokens[i + 1] if i + 1 < len(tokens) else ""
            after = lex.shorthand.get(after, after)
            if word == "2" and (after in lex.two_as_to_before or after.isdigit()):
                return "to"  # "need 2 cancel", "bump us up 2 22"
            if word == "4" and (after in lex.four_as_for_before or after.isdigit()):
                return "for"  # "4 everyone", "put us down 4 28 guests"
            before = tokens[i - 1] if i else ""
            if word == "4" and lex.shorthand.get(before, before) in lex.four_as_for_after:
                return "for"  # "how much 4 kids", "what do u charge 4 toddlers"
            if word == "4" and before in self.menu and after in self.menu:
                return "for"  # "swap shrimp 4 salmon"
            return word
        if len(word) == 4 and word.isalpha() and word not in self.known:
            swapped = [
                t
                for t in self.by_letters.get("".join(sorted(word)), ())
                if OSA.distance(word, t) == 1
            ]
            return swapped[0] if len(swapped) == 1 else word  # "kdis": "kids"
        if len(word) < 5 or not word.isalpha() or word in self.known:
            return word
        corrected = self._corrections.get(word)
        if corrected is None:
            corrected = self._correct(word)
            if len(self._corrections) < 10_000:
                self._corrections[word] = corrected
        return corrected

    def _correct(self, word: str) -> str:
        """The domain word within reach of a misspelling, or the word as written."""
        candidates = self.by_initial.get(word[0])
        if not candidates:
            return word
        limit = 1 if len(word) <= 7 else 2
        best = process.extractOne(word, candidates, scorer=OSA.distance, score_cutoff=limit)
        return word if best is None else str(best[0])


def _ends_a_sentence(text: str, tokens: Sequence[re.Match[str]], i: int) -> bool:
    """Whether a stop comes between the word at token `i` and the next word: "2" and "4" read
    as "to" and "for" only inside a sentence."""
    end = tokens[i + 1].start() if i + 1 < len(tokens) else len(text)
    return _STOP.search(text, tokens[i].end(), end) is not None


def _starts_a_list(text: str, tokens: Sequence[re.Match[str]], i: int) -> bool:
    """Whether the number at token `i` starts a list of numbers ("4, 8 and 13", "2 5 and 9"):
    the next number follows after a comma, or is followed by another or by "and" and another."""
    words = [m.group(0) for m in tokens[i + 1 : i + 4]]
    if not words or not words[0].isdigit():
        return False
    if "," in text[tokens[i].end() : tokens[i + 1].start()]:
        return True
    rest = words[1:]
    return bool(rest) and (
        rest[0].isdigit() or (rest[0] in ("and", "n", "&") and len(rest) > 1 and rest[1].isdigit())
    )
