"""The quickstart's embedded corpus: short film reviews written for Seedformer, composed deterministically.

Handwritten openings, judgements and closings are combined with a seeded RNG, so the demo needs no download and
every run sees the same data. Label 1 = positive, 0 = negative. The same texts (without labels) are the pretraining
corpus: the model first learns the language of the reviews, then their sentiment.
"""

from __future__ import annotations

import random

SUBJECTS = [
    "the acting",
    "the script",
    "the soundtrack",
    "the camera work",
    "the pacing",
    "the ending",
    "the lead actress",
    "the lead actor",
    "the dialogue",
    "the story",
    "the editing",
    "the villain",
    "the cast",
    "the direction",
    "the final act",
    "the opening scene",
    "the score",
    "the humour",
    "the set design",
    "the plot",
]
POSITIVE = [
    "is wonderful",
    "is a joy to watch",
    "feels fresh and alive",
    "is brilliant from start to finish",
    "moved me to tears",
    "is sharp and clever",
    "works beautifully",
    "is warm and funny",
    "is stunning",
    "kept me smiling",
    "is superb",
    "deserves every award",
    "is gripping",
    "is pure delight",
    "is excellent",
    "surprised me in the best way",
    "is charming",
    "left me grinning",
    "is beautifully done",
    "is a triumph",
]
NEGATIVE = [
    "is dull",
    "is a mess",
    "falls completely flat",
    "is painfully slow",
    "bored me to sleep",
    "is clumsy and loud",
    "makes no sense",
    "is lazy",
    "is terrible",
    "wasted my evening",
    "is awful",
    "drags on forever",
    "is predictable and tired",
    "feels cheap",
    "is a disaster",
    "is forgettable",
    "annoyed me",
    "is poorly written",
    "is a letdown",
    "ruins the film",
]
OPENINGS_POS = [
    "I loved this film.",
    "What a great movie.",
    "A lovely surprise.",
    "Highly recommended.",
    "I enjoyed every minute.",
]
OPENINGS_NEG = [
    "I hated this film.",
    "What a waste of time.",
    "A real disappointment.",
    "Not recommended.",
    "I regret watching it.",
]
CLOSINGS_POS = [
    "I would watch it again.",
    "Go and see it.",
    "Ten out of ten.",
    "My favourite film this year.",
    "A must see.",
]
CLOSINGS_NEG = ["I want my money back.", "Skip it.", "Two out of ten.", "The worst film this year.", "Avoid it."]
CONNECTIVES = ["and", "while", "and also", "and honestly"]


def review(rng: random.Random, positive: bool) -> str:
    judgements = POSITIVE if positive else NEGATIVE
    first, second = rng.sample(SUBJECTS, 2)
    body = (
        f"{first.capitalize()} {rng.choice(judgements)} {rng.choice(CONNECTIVES)} {second} {rng.choice(judgements)}."
    )
    # A mild contrary note in some reviews keeps the task from being a single-word lookup.
    if rng.random() < 0.3:
        contrary = NEGATIVE if positive else POSITIVE
        body += f" Only {rng.choice(SUBJECTS)} {rng.choice(contrary)}."
    opening = rng.choice(OPENINGS_POS if positive else OPENINGS_NEG)
    closing = rng.choice(CLOSINGS_POS if positive else CLOSINGS_NEG)
    return f"{opening} {body} {closing}"


def build_corpus(size: int = 2000, seed: int = 0) -> list[dict]:
    """`size` reviews as {"text", "label"} rows, half positive, shuffled deterministically."""
    rng = random.Random(seed)
    rows = [{"text": review(rng, positive=bool(i % 2)), "label": i % 2} for i in range(size)]
    rng.shuffle(rows)
    return rows
