"""The duplicate keys: the digests of their definition, the batch's normalization in Arrow equal
to `normalize` for every character, the side order and whitespace ignored, a word not."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from arenatok.pipeline.keys import _arrays, _digests, batch_keys, normalize, same_battle_keys
from arenatok.pipeline.layouts.arena.rows import battle_from_row
from tests.helpers import battle


def normalized(texts: list[str]) -> list[bytes]:
    """The texts as the batch normalizes them."""
    return [bytes(x) for x in _arrays(texts)[1].to_pylist()]


def test_normalize_is_nfc_and_one_space_per_run() -> None:
    assert normalize(" a\u00a0 b\n\tc ") == "a b c"
    assert normalize("e\u0301") == "\u00e9"
    assert normalize("X b  X") == "X b X"  # only whitespace is stripped


def test_the_batch_normalization_is_normalize_for_every_character() -> None:
    """Each code point between two letters, at the ends, and doubled: the regular expression's
    whitespace (bytes) is exactly `str.isspace`, and NFC is applied."""
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    for texts in (
        [f"a{c}b" for c in chars],
        [f"{c}a{c}" for c in chars],
        [f"a{c}{c} {c}b" for c in chars],
    ):
        assert normalized(texts) == [normalize(t).encode() for t in texts]


_SPACEY = st.lists(
    st.sampled_from(["a", "b", " ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85",
                     "\u00a0", "\u2028", "\u3000", "\u00e9", "e\u0301", "\u0301"]),
    max_size=8,
).map("".join)  # fmt: skip


@given(st.lists(_SPACEY, max_size=6))
def test_the_batch_normalization_is_normalize(texts: list[str]) -> None:
    assert normalized(texts) == [normalize(t).encode() for t in texts]


@given(st.lists(st.tuples(_SPACEY, _SPACEY, _SPACEY), min_size=1, max_size=3), st.booleans())
def test_the_keys_are_the_digests_of_their_definition(
    turns: list[tuple[str, str, str]], swap: bool
) -> None:
    """The digest of the kind, the models by name and the turns (each then 0xFF), the texts'
    sizes (uint64), the texts (users, then the answers of the model first by name, then the
    other's), as stored or normalized; two battles' keys are equal exactly when those are."""
    users, a, b = (list(x) for x in zip(*turns, strict=True))
    models = ("m1", "m2")
    if swap:  # the same battle with its sides swapped
        a, b, models = b, a, ("m2", "m1")
    first, second = (b, a) if swap else (a, b)
    texts = [*users, *first, *second]

    def digest(kind: bytes, pieces: list[bytes]) -> int:
        sizes = b"".join(len(p).to_bytes(8, "little") for p in pieces)
        data = b"%s\xffm1\xffm2\xff%d\xff%s%s" % (kind, len(users), sizes, b"".join(pieces))
        return int.from_bytes(hashlib.sha256(data).digest()[:8], "little")

    exact, norm = same_battle_keys([(users, a, b, *models)])
    assert int(exact[0]) == digest(b"exact", [t.encode() for t in texts])
    assert int(norm[0]) == digest(b"normalized", [normalize(t).encode() for t in texts])


def test_a_text_boundary_is_part_of_the_key() -> None:
    exact, norm = same_battle_keys(
        [
            (["a b", "c"], ["x", "y"], ["z", "w"], "m1", "m2"),
            (["a", "b c"], ["x", "y"], ["z", "w"], "m1", "m2"),
            (["a  b "], ["x"], ["y"], "m1", "m2"),
            (["a b"], ["x\n"], [" y"], "m1", "m2"),
        ]
    )
    assert exact[0] != exact[1]
    assert norm[0] != norm[1]
    assert norm[2] == norm[3]
    assert exact[2] != exact[3]


def test_whitespace_and_sides_do_not_change_the_normalized_key_a_word_does() -> None:
    b = battle_from_row(battle("x", [("Hi  there", "A\n\nB", "c "), ("more", "d", "e")]))
    k = batch_keys([b], "r")
    assert same_battle_keys([(b.users, b.answers_a, b.answers_b, b.model_a, b.model_b)])[1] == (
        k.normalized
    )
    _, norm = same_battle_keys(
        [
            (["Hi there", "more"], ["c", "e"], ["A B", "d"], b.model_b, b.model_a),
            (["Hi there", "more!"], ["A B", "d"], ["c", "e"], b.model_a, b.model_b),
        ],
        exact=False,
    )
    assert norm[0] == k.normalized[0]
    assert norm[1] != k.normalized[0]


def test_the_keys_of_a_batch_are_each_battles_own() -> None:
    """A battle's keys do not depend on the batch it comes in; votes in side order."""
    rows = [battle(f"q{i}", [(f"prompt {i}", "x  y", "z")]) for i in range(5)]
    rows[3]["winner"] = "model_b"
    battles = [battle_from_row(r) for r in rows]
    together = batch_keys(battles, "r")
    for i, b in enumerate(battles):
        alone = batch_keys([b], "r")
        for name in ("any_id", "same_id", "exact", "normalized", "vote"):
            assert getattr(alone, name)[0] == getattr(together, name)[i], name
    # A (vicuna-13b) is second by name: its win is 1, B's (koala-13b) 0
    assert together.vote.tolist() == [1, 1, 1, 0, 1]
    assert together.sides == [("koala-13b", "vicuna-13b")] * 5
    assert len(batch_keys([], None)) == 0


def test_ids_that_are_not_battle_ids_have_no_same_id_key() -> None:
    one = battle_from_row(battle("q1", [("a", "b", "c")]))
    assert batch_keys([one], None).same_id is None
    assert batch_keys([one], "r").same_id is not None


def test_keys_of_texts_with_lone_surrogates() -> None:
    """A lone surrogate (which a build rejects, but the library's functions may be given) is
    keyed as well: texts that differ only there get different keys."""
    exact, norm = same_battle_keys(
        [
            (["a\ud800 "], ["b"], ["c"], "m1", "m2"),
            (["a\ud801"], ["b"], ["c"], "m1", "m2"),
            (["a\ud801"], ["b"], ["c"], "m1", "m2"),
        ]
    )
    assert exact[0] != exact[1]
    assert norm[0] != norm[1]
    assert exact[1] == exact[2]
    expected = "\u00e9\ud800 x".encode("utf-8", "surrogatepass")
    assert normalized([" \u00e9\ud800  x ", "X b  X"]) == [expected, b"X b X"]
    ids = batch_keys(
        [battle_from_row(battle(q, [("a", "b", "c")])) for q in ("q", "q\ud800", "q\ud801")], "r"
    )
    assert len(set(ids.any_id.tolist())) == len(set(ids.same_id.tolist())) == 3


def test_digests_read_an_array_wherever_it_starts() -> None:
    """An Arrow array that is a slice of a longer one (its offsets start further on) gives the
    digests of its own texts; an empty batch has empty keys, `exact` only where asked for."""
    import pyarrow as pa

    texts = ["skip", "a", "bc", "", "d"]
    whole = pa.array(texts, pa.large_binary())
    heads, bounds = [b"m1\xffm2\xff1\xff", b"m1\xffm2\xff1\xff"], [0, 3, 4]
    assert (
        _digests(b"exact", heads, bounds, whole.slice(1)).tolist()
        == _digests(b"exact", heads, bounds, pa.array(texts[1:], pa.large_binary())).tolist()
    )
    exact, norm = same_battle_keys([])
    assert (len(exact), len(norm), exact.dtype, norm.dtype) == (0, 0, "uint64", "uint64")
    assert same_battle_keys([], exact=False)[0] is None
