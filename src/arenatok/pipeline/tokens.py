"""Token counting with tiktoken (the encodings and their loading: `encodings`).

The counting is always tiktoken's: `len(encode_ordinary(text))`, so text that looks like a
special token (`<|endoftext|>`) is counted as ordinary text. `TokenCounter` caches counts of
distinct texts and counts large batches on threads; `TokenizerFileCounter` counts with a
Hugging Face tokenizer file; `FastCounter` with a faster exact BPE, cross-checked with tiktoken.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.resources
import importlib.util
import os
import sys
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from arenatok.errors import (
    MissingExtraError,
    TokenizerError,
    first_line,
    missing_extra,
)
from arenatok.pipeline.encodings import ENCODINGS, _version, describe, encoding_spec, get_encoding
from arenatok.pipeline.metadata import Tokenizer
from arenatok.runtime.workers import default_workers


def count(text: str, *, encoding: str = "cl100k_base") -> int:
    """Tokens in `text` under `encoding`, special-token text counted as ordinary text."""
    return len(get_encoding(encoding).encode_ordinary(text))


_PARALLEL_MIN_CHARS = 200_000
"""Below this many characters a batch is counted in the calling thread (pool overhead dominates)."""


class TokenCounter:
    """Counts many texts fast: each distinct text once (a bounded LRU cache keyed by the text),
    the misses of a batch spread over a thread pool (tiktoken releases the GIL while encoding).
    """

    def __init__(
        self,
        encoding: str = "cl100k_base",
        *,
        cache_chars: int = 16_000_000,
        threads: int | None = None,
        encode: Callable[[str], Sequence[int]] | None = None,
    ) -> None:
        """`encoding`: the counter's name (a tiktoken encoding, whose `encode_ordinary` counts
        unless `encode` is given); `cache_chars`: the cache's size in characters; `threads`:
        the pool that counts a batch's misses (None = the usable cores)."""
        self.name = encoding
        self._encode = encode or get_encoding(encoding).encode_ordinary
        self._cache: OrderedDict[str, int] = OrderedDict()
        self._cache_chars = 0
        self._cache_limit = cache_chars
        self._threads = threads if threads is not None else default_workers()
        self._pool: ThreadPoolExecutor | None = None
        self.hits = 0
        self.misses = 0

    @cached_property
    def provenance(self) -> Tokenizer:
        """Where this counter comes from, for artifact_metadata.json (made when asked: worker
        processes, which only count, never look up the versions)."""
        return describe(self.name)

    def _count_chunk(self, texts: Sequence[str]) -> list[int]:
        encode = self._encode
        return [len(encode(t)) for t in texts]

    def _chunks(self, texts: list[str]) -> list[list[str]]:
        if self._threads < 2 or sum(map(len, texts)) < _PARALLEL_MIN_CHARS:
            return [texts]
        size = -(-len(texts) // (self._threads * 4))
        return [texts[i : i + size] for i in range(0, len(texts), size)]

    def _count_fresh(self, texts: list[str]) -> list[int]:
        chunks = self._chunks(texts)
        if len(chunks) == 1:
            return self._count_chunk(texts)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="arenatok-count")
        return [n for part in self._pool.map(self._count_chunk, chunks) for n in part]

    mismatch: tuple[str, int, int] | None = None
    """The first text whose count differed from tiktoken's: (text, ours, tiktoken's)."""

    def count_many(self, texts: Sequence[str]) -> list[int]:
        """Token counts of `texts`, in order: each distinct text not in the cache is counted
        once (on the worker threads when the batch is large)."""
        cache = self._cache
        known: list[int | None] = []
        fresh: dict[str, int] = {}
        for t in texts:
            n = cache.get(t)
            if n is not None:
                cache.move_to_end(t)
            elif t not in fresh:
                fresh[t] = 0
            known.append(n)
        self.misses += len(fresh)
        self.hits += len(texts) - len(fresh)
        if fresh:
            keys = list(fresh)
            for t, n in zip(keys, self._count_fresh(keys), strict=True):
                fresh[t] = n
                self._remember(t, n)
        return [fresh[t] if n is None else n for n, t in zip(known, texts, strict=True)]

    def _remember(self, text: str, n: int) -> None:
        if len(text) > self._cache_limit:
            return
        self._cache[text] = n
        self._cache_chars += len(text)
        while self._cache_chars > self._cache_limit:
            old, _ = self._cache.popitem(last=False)
            self._cache_chars -= len(old)

    def close(self) -> None:
        """Stop the worker threads."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self) -> TokenCounter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TokenizerFileCounter(TokenCounter):
    """A TokenCounter over any Hugging Face `tokenizers` file (tokenizer.json), counting
    `len(encode(text, add_special_tokens=False).ids)`: no BOS/EOS or other added tokens."""

    def __init__(self, path: str | Path, *, cache_chars: int = 16_000_000) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError as e:
            raise missing_extra(
                e, "--tokenizer", "tokenizers", "the tokenizers library", "tokenizers"
            ) from e
        self.path = Path(path)
        try:
            data = self.path.read_bytes()
            tokenizer = Tokenizer.from_str(data.decode("utf-8"))
        except (OSError, UnicodeDecodeError, Exception) as e:
            raise TokenizerError(
                f"{self.path}: not a readable tokenizers file ({first_line(e)})",
                hint="pass the tokenizer.json of a Hugging Face tokenizer",
            ) from e
        self.sha256 = hashlib.sha256(data).hexdigest()
        self._tokenizer = tokenizer
        # tokenizers spreads encode_batch over its own threads: no pool of ours on top.
        super().__init__(
            f"hf-tokenizer-{self.sha256[:12]}",
            cache_chars=cache_chars,
            threads=1,
            encode=lambda text: tokenizer.encode(text, add_special_tokens=False).ids,
        )
        with _stderr_silenced():  # a panic's report from the Rust side: our error says it
            self._count_chunk(PROBE_TEXTS)  # a file that loads but cannot encode fails here

    def _count_chunk(self, texts: Sequence[str]) -> list[int]:
        """Counts of `texts`; a text the tokenizer cannot encode (an error, or a panic of its
        Rust code, such as a regex that backtracks past its limit) is a TokenizerError."""
        try:
            encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        except BaseException as e:
            if not isinstance(e, Exception) and type(e).__name__ != "PanicException":
                raise  # Ctrl-C, SIGTERM, exit
            raise TokenizerError(
                f"{self.path}: cannot encode a text ({first_line(e)})",
                hint="check the tokenizer file (a WordLevel model needs an unk_token; a "
                "pre-tokenizer's regex must not backtrack without bound)",
            ) from e
        return [len(e.ids) for e in encodings]

    @cached_property
    def provenance(self) -> Tokenizer:
        return {
            "name": self.name,
            "library": "tokenizers",
            "tokenizers_version": _version("tokenizers"),
            "file": str(self.path),
            "file_sha256": self.sha256,
            "counting": "len(encode(text, add_special_tokens=False).ids)",
        }


@contextmanager
def _stderr_silenced() -> Iterator[None]:
    """File descriptor 2 sent to /dev/null meanwhile (what native code prints goes there)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


PROBE_TEXTS = (
    "Hello, world! How are you today?",
    "Grüße, 世界 🙂 ٱلسَّلَامُ عَلَيْكُمْ\n\tx = 1;",
    "",
    *(c * 256 + "." for c in "a A1!-\n"),
)
"""What a tokenizer file must encode before a build starts: plain text, mixed scripts and
emoji, and long runs of one character (what makes a backtracking regex give up)."""


CROSS_CHECK_EVERY = 64
CROSS_CHECK_CHARS = 100_000
CROSS_CHECK_RULE = (
    f"every distinct text whose crc32 (of its UTF-8 bytes) is 0 mod {CROSS_CHECK_EVERY}, and "
    f"every text over {CROSS_CHECK_CHARS:,} characters, is recounted with tiktoken"
)


def cross_checked(text: str) -> bool:
    """Whether a text is in the deterministic sample that is recounted with tiktoken."""
    return len(text) > CROSS_CHECK_CHARS or zlib.crc32(text.encode()) % CROSS_CHECK_EVERY == 0


def bpe_bindings() -> Any:
    """bpe-openai's Rust extension (`bpe_openai._bindings`), loaded without running the
    package's `__init__`: that builds three encodings' tables in Python (1.2 s in every process,
    workers included) for a tiktoken-like API that `count` does not use; the extension loads its
    own data in 0.04 s. A clear error without the extra."""
    name = "bpe_openai._bindings"
    try:
        package = importlib.util.find_spec("bpe_openai")
    except (ImportError, ValueError):
        package = None
    if package is None or not package.submodule_search_locations:
        raise MissingExtraError("--counter fast", "fast", "bpe-openai")
    if name in sys.modules:
        return sys.modules[name]
    for folder in package.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            spec = importlib.util.spec_from_file_location(name, Path(folder) / f"_bindings{suffix}")
            if spec is not None and spec.loader is not None and Path(spec.origin or "").is_file():
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                sys.modules[name] = module
                return module
    from bpe_openai import _bindings  # another layout: the package's own way

    return _bindings


def fast_provenance(encoding: str) -> Tokenizer:
    """Provenance of the fast counter for `encoding`; a clear error without the extra."""
    bpe_bindings()
    return {
        **describe(encoding),  # unknown names fail here, with the known ones
        "counting": "bpe-openai count(text), equal to tiktoken's len(encode_ordinary(text)) "
        "(special-token text counts as ordinary text); " + CROSS_CHECK_RULE,
        "counter": "bpe-openai " + _version("bpe-openai"),
    }


class FastCounter(TokenCounter):
    """Counts with bpe-openai's `count` (Python bindings of GitHub's rust-gems BPE, MIT; its
    cl100k_base and o200k_base data ship in the wheel): the numbers of tiktoken's
    `len(encode_ordinary(text))`, about twice as fast on cl100k_base. Every text of the
    deterministic sample (`cross_checked`) is recounted with tiktoken; the first difference is
    kept in `mismatch`, and the build stops on it."""

    def __init__(
        self, encoding: str = "cl100k_base", *, cache_chars: int = 16_000_000, threads: int = 1
    ) -> None:
        bindings = bpe_bindings()  # a clear error without the extra
        encoding_spec(encoding)  # and for an unknown name, with the known ones
        self._count = bindings.tokenizer_for_encoding(encoding).count
        # tiktoken's encode_ordinary stays the reference: it recounts the sample.
        super().__init__(encoding, cache_chars=cache_chars, threads=threads)

    @cached_property
    def provenance(self) -> Tokenizer:
        return fast_provenance(self.name)

    def _count_chunk(self, texts: Sequence[str]) -> list[int]:
        count = self._count
        counts = [count(t) for t in texts]
        encode = self._encode
        for t, n in zip(texts, counts, strict=True):
            if cross_checked(t):
                reference = len(encode(t))
                if reference != n and self.mismatch is None:
                    self.mismatch = (t, n, reference)
        return counts


def counter_for(
    name: str, *, threads: int | None = None, counter: str = "tiktoken"
) -> TokenCounter:
    """A counter from a name in the registry (tiktoken encodings, counted by `counter`) or the
    path of a tokenizer.json."""
    if name.endswith(".json") or (os.sep in name and name not in ENCODINGS):
        return TokenizerFileCounter(name)
    if counter == "fast":
        return FastCounter(name, threads=threads or 1)
    return TokenCounter(name, threads=threads)  # a miss lists the known names
