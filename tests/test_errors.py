"""`arenatok.errors`: one exit code per failure class, the same in the code and the docs' table;
what an OSError, a MemoryError or an ImportError means (the machine short of memory or open
files, an extra not installed or not loadable), in one line and a hint. What the command line
prints for each failure is tested beside each command (tests/cli/)."""

from __future__ import annotations

import errno
import re
import resource

import pytest

from arenatok import errors
from tests.helpers import doc_text

README = doc_text("commands/index.md")  # the exit codes' table


def test_the_exit_code_table_is_the_code() -> None:
    rows = re.findall(r"^\| (\d+) \| (.+?) \|(.*?)\|$", README, flags=re.M)
    assert {int(code) for code, _, _ in rows} == set(errors.EXIT_CODES)
    for code, _meaning, classes in rows:
        for name in re.findall(r"`(\w+)`", classes):
            cls = getattr(errors, name, None)
            if isinstance(cls, type) and issubclass(cls, errors.ArenatokError):
                assert cls.exit_code == int(code), name


def test_every_error_class_has_a_documented_code() -> None:
    classes = [
        c
        for c in vars(errors).values()
        if isinstance(c, type) and issubclass(c, errors.ArenatokError)
    ]
    assert {c.exit_code for c in classes} <= set(errors.EXIT_CODES)
    for c in classes:
        if c is not errors.ArenatokError:
            assert f"`{c.__name__}`" in README, f"the exit-code table lacks {c.__name__}"


MEMORY_HINT = (
    "free memory or raise the limit (ulimit -v), or ask for less: fewer --workers or --jobs, a "
    "smaller --limit"
)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (MemoryError(), "out of memory"),
        (MemoryError("big"), "out of memory (big)"),
        (OSError(errno.ENOMEM, "Cannot allocate memory"), "out of memory ([Errno 12] Cannot "
         "allocate memory)"),
        (ImportError("x.so: cannot allocate memory in static TLS block"), "out of memory (x.so: "
         "cannot allocate memory in static TLS block)"),
    ],
)  # fmt: skip
def test_running_out_of_memory_is_a_resource_error(error: BaseException, message: str) -> None:
    cause = errors.resource_error(error)
    assert cause is not None
    assert (cause.message, cause.hint, cause.exit_code) == (message, MEMORY_HINT, 1)


@pytest.mark.parametrize(
    "error", [OSError(errno.EMFILE, "Too many open files"), ImportError("Too many open files")]
)
def test_running_out_of_open_files_names_the_limit(error: BaseException) -> None:
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    cause = errors.resource_error(error)
    assert cause is not None
    assert cause.message == f"too many open files (this process may have {soft} open at once)"
    assert cause.hint == "raise the limit (ulimit -n 4096), or use fewer --workers or --jobs"


def test_other_errors_are_no_resource_error() -> None:
    for error in (OSError(errno.EIO, "Input/output error"), ValueError("memory"), KeyError()):
        assert errors.resource_error(error) is None


def test_an_import_error_of_an_extra_says_whether_it_is_installed() -> None:
    missing = errors.missing_extra(
        ImportError("No module named 'nosuch'"), "arenatok bench", "bench", "scikit-learn",
        "nosuch_module_of_arenatok_tests",
    )  # fmt: skip
    assert isinstance(missing, errors.MissingExtraError)
    assert (missing.message, missing.hint, missing.exit_code) == (
        "arenatok bench needs scikit-learn, which is not installed",
        "pip install 'arenatok[bench]'",
        4,
    )
    broken = errors.missing_extra(ImportError("broken\nmore"), "the plots", "report",
                                  "matplotlib", "json", need="need")  # fmt: skip
    assert type(broken) is errors.ArenatokError
    assert broken.message == (
        "the plots need matplotlib, which is installed but cannot be imported (broken)"
    )
    assert broken.hint == "reinstall it: pip install --force-reinstall 'arenatok[report]'"


def test_need_extra_imports_each_library_and_names_the_first_missing() -> None:
    errors.need_extra("arenatok x", "x", {"json": "json"})  # there: nothing raised
    with pytest.raises(errors.MissingExtraError) as caught:
        errors.need_extra("arenatok x", "x", {"json": "json", "nosuch_module_xyz": "nosuch"})
    assert caught.value.message == "arenatok x needs nosuch, which is not installed"
    assert caught.value.extra == "x"


def test_a_bad_row_names_its_file_row_and_id() -> None:
    named = errors.BadRowError(
        file="b.jsonl", row=3, question_id="q1", reason="bad", id_column="id"
    )
    assert named.message == "b.jsonl: row 3 (id 'q1'): bad"
    assert named.hint == "fix the row, or pass --on-bad-row reject to write it to rejects.jsonl"
    assert (named.row, named.question_id, named.reason, named.exit_code) == (3, "q1", "bad", 2)
    anonymous = errors.BadRowError(
        file="b.jsonl", row=3, question_id=None, reason="bad", id_column="id"
    )
    assert anonymous.message == "b.jsonl: row 3: bad"


def test_first_line_is_the_messages_first_line_cut_or_the_class() -> None:
    assert errors.first_line(ValueError("\n  one\ntwo")) == "one"
    assert errors.first_line(ValueError()) == "ValueError"
    assert errors.first_line(ValueError("x" * 300)) == "x" * 200
    assert errors.first_line(ValueError("abcdef"), limit=3) == "abc"
