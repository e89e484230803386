"""The extraction strategies: whole sentences of each message, up to K tokens, the heaviest
first (`extract`: weights learned from the training votes) or the first ones (`extract_lead`,
the unlearned control), sent in their original order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from arenatok.bench.strategies.base import Family, Name, positive

if TYPE_CHECKING:
    import numpy as np

    from arenatok.bench.compress import Sentences
    from arenatok.bench.shared import Batch, Shared


def sentences(shared: Shared) -> Sentences:
    """Every sentence of every message (made once a run)."""

    def make() -> Sentences:
        from arenatok.bench import compress

        c = shared.c
        return compress.sentences(c.ids, c.starts, c.lengths, shared.token_bytes)

    return shared.once("extract.sentences", make)


def sentence_weights(shared: Shared) -> np.ndarray:
    """Per sentence: the mean |weight| of its tokens (0 outside the vocabulary) in a logistic
    regression of the decisive training votes on `full`'s TF-IDF differences (fitted here,
    whatever else runs; made once a run)."""

    def make() -> np.ndarray:
        import numpy as np

        from arenatok.bench import compress
        from arenatok.bench import represent as rep
        from arenatok.bench.classifier import fit

        side, message = shared.sides
        starts, keep = rep.kept(shared.c, message, None, False)  # what `full` sends
        x = rep.tfidf(shared.bags(side, starts, keep)[0], shared.train_sides)
        w = fit(rep.differences(x, shared.learn, shared.n), shared.votes, shared.seed).coef_[0]
        weight = np.zeros(rep.N_IDS)
        known = shared.lookup >= 0
        weight[known] = np.abs(w)[shared.lookup[known]]
        sentence = sentences(shared)
        total = compress.span_sums(shared.c.ids, sentence.start, sentence.length, weight)
        out: np.ndarray = total / np.maximum(sentence.length, 1)
        return out

    return shared.once("extract.weights", make)


def send_extract(shared: Shared, k: int, *, learned: bool) -> Batch:
    """Whole sentences of each message up to k tokens (see `Extract`): the heaviest first
    (`learned`) or the first ones, while they fit; sent in their order."""
    import numpy as np

    from arenatok.bench.corpus import spans
    from arenatok.bench.shared import grouped_cumsum

    sentence = sentences(shared)
    order_key = -sentence_weights(shared) if learned else np.zeros(len(sentence.start))
    order = np.lexsort((sentence.start, order_key, sentence.message))
    total = grouped_cumsum(sentence.length[order], sentence.per_message[sentence.per_message > 0])
    kept = np.sort(order[total <= k])  # in message order, then position
    n_messages = len(shared.c.lengths)
    kept_tokens = np.bincount(sentence.message[kept], sentence.length[kept], n_messages)
    kept_bytes = np.bincount(sentence.message[kept], sentence.size[kept], n_messages)
    first = np.searchsorted(sentence.message[kept], np.arange(n_messages))
    count = np.bincount(sentence.message[kept], minlength=n_messages)
    side, message = shared.sides
    pick = spans(first[message], count[message])  # every kept sentence of each pair
    bags, _ = shared.bags(
        np.repeat(side, count[message]), sentence.start[kept][pick], sentence.length[kept][pick]
    )
    keep = kept_tokens[message].astype(np.int64)
    return shared.joined(keep, kept_bytes[message].astype(np.int64), bags)


class Extract:
    """Whole sentences of each message, up to K tokens, sent in their original order: the
    sentences whose tokens weigh most, on average, in a logistic regression of the training
    votes on `full` (`extract`), or the first ones (`extract_lead`, the unlearned control);
    taken in that order while they fit in K together. A sentence ends after a token that ends
    with . ! or ? (spaces aside) or holds a line break, and at the end of the message. Cost:
    the kept tokens and their bytes, with the separators of `full`."""

    def __init__(self, k: int, *, lead: bool = False) -> None:
        positive(k, f"extraction needs a positive number of tokens, got {k}", "extract:32")
        self.k, self.lead = k, lead
        self.name = f"extract{'_lead' if lead else ''}:{k}"

    def send_many(self, shared: Shared) -> Batch:
        return send_extract(shared, self.k, learned=not self.lead)


def _make(name: str, k: int | None, bits: int) -> Extract:
    assert k is not None  # the registry asks for the number that the name takes
    return Extract(k, lead=name == "extract_lead")


FAMILY = Family(
    names=(Name("extract", "K"), Name("extract_lead", "K")),
    rows=(
        (
            "`extract:K`",
            "whole sentences of each message, up to K tokens together, sent in their original "
            "order: the sentences whose tokens weigh most on average (the absolute weights of a "
            "logistic regression of the decisive training votes on `full`'s TF-IDF differences) "
            "are taken first, as long as they fit, ties by position. A sentence ends after a "
            "token that ends with `.` `!` or `?` (spaces aside) or holds a line break, and at "
            "the end of the message",
            "the kept tokens and their bytes",
        ),
        (
            "`extract_lead:K`",
            "the first sentences, as long as they fit in K tokens: the unlearned control",
            "the same",
        ),
    ),
    make=_make,
    order=4,
    defaults=("extract:32", "extract_lead:32"),
)
