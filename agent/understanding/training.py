"""Training the reader from the corpus, and finding the trained model at start-up.

`hibachi reader train` (or `python -m agent.understanding.training`) fits the learned reader on
the training split and writes it with its provenance (`model/reader-<lang>.json`: the corpus
fingerprint, scikit-learn's version, the figures). The same corpus always gives the same model.
A process that finds no model, or one trained on another corpus, lexicon, reader code or
scikit-learn version, trains one itself (a few seconds) and saves it for the next.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sklearn

from agent.understanding import corpus as corpora
from agent.understanding.corpus import Example
from agent.understanding.learned import FORMAT, Features, LearnedReader, train
from agent.understanding.schema import Context
from agent.understanding.slots import train_slots
from agent.understanding.vocabulary import Vocabulary

log = logging.getLogger(__name__)

#: The clock the corpus is read at: labels never depend on it, but relative dates do.
NOW = dt.datetime(2026, 6, 10, 15, 0, tzinfo=dt.UTC)
TIMEZONE = "America/Los_Angeles"


#: The code that turns a message into the model's inputs and labels: a new feature or hint
#: there trains a new model, as a new corpus line does.
SOURCES: tuple[Path, ...] = tuple(sorted(Path(__file__).parent.glob("*.py")))


def fingerprint(language: str = "en") -> str:
    """What the model was trained from: the corpus with its split, the lexicon the normaliser
    reads the messages with (a new shorthand word changes every model input) and the reader's
    own code (`SOURCES`)."""
    digest = hashlib.sha256(corpora.load(languages=[language]).fingerprint().encode())
    digest.update((corpora.DATA / language / "lexicon.yaml").read_bytes())
    for source in SOURCES:
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def context_for(example: Example) -> Context:
    return Context(
        now=NOW,
        timezone=TIMEZONE,
        pending=example.pending,
        after_event=example.after_event,
        chef_due=example.chef_due,
    )


def default_vocabulary() -> Vocabulary:
    """The protein and add-on words of the default knowledge (the seed file)."""
    from knowledge.seed import read_seed

    return Vocabulary.from_seed(read_seed())


def labels_of(example: Example) -> list[str]:
    labels = list(example.intents)
    if example.entities.get("hypothetical"):
        labels.append("hypothetical")
    return labels


def fit(examples: Sequence[Example], language: str, provenance: dict[str, Any]) -> LearnedReader:
    from agent.understanding.reader import Reader

    reader = Reader(None, language)
    vocabulary = default_vocabulary()
    items: list[Features] = []
    slot_examples = []
    for example in examples:
        prepared = reader.prepare(example.text, context_for(example), vocabulary)
        items.append(prepared.features)
        slot_examples.append(
            (
                prepared.words,
                prepared.slots,
                prepared.slot_hints,
                example.entities,
                "headcount_change" in example.intents,
                not example.swap_without_sides,  # which protein goes out is not labelled
            )
        )
    return train(
        items,
        [labels_of(e) for e in examples],
        [e.tone for e in examples],
        provenance,
        safety=[e.safety or "none" for e in examples],
        slots=train_slots(slot_examples),
        topics=[e.entities.get("asked") for e in examples],
    )


def train_language(language: str = "en") -> LearnedReader:
    """Train on the language's training split and save the model with its provenance."""
    from agent.understanding.reader import model_path

    corpus = corpora.load(languages=[language])
    examples = corpus.split("train")
    model = fit(
        examples,
        language,
        {
            "language": language,
            "corpus": fingerprint(language),
            "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "test_messages": len(corpus.split("test")),
        },
    )
    model.save(model_path(language))
    return model


def load_or_train(language: str = "en") -> LearnedReader:
    from agent.understanding.reader import model_path

    path = model_path(language)
    current = fingerprint(language)
    if path.exists():
        try:
            model = LearnedReader.load(path)
        except Exception as error:  # an unreadable file is retrained, never fatal
            log.warning("reader model %s unreadable (%s); training a new one", path, error)
        else:
            p = model.provenance
            if (
                p.get("corpus") == current
                and p.get("scikit_learn") == sklearn.__version__
                and p.get("format") == FORMAT
            ):
                return model
            log.warning("reader model %s is out of date; training a new one", path)
    try:
        return train_language(language)
    except OSError as error:  # a read-only install still reads, it just trains per process
        log.warning("could not save the reader model (%s)", error)
        corpus = corpora.load(languages=[language])
        return fit(corpus.split("train"), language, {"corpus": current})


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Train the reader on the labelled corpus.")
    parser.add_argument("--language", default="en")
    args = parser.parse_args(argv)
    model = train_language(args.language)
    for key, value in model.provenance.items():
        print(f"{key:<18} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
