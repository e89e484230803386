"""`runtime.environment`: the variables that libraries read at their import, each checked where
a command uses it and taken out where it does not. (Through the real command, where the
libraries are imported for the first time: `tests/e2e/test_environment.py`.)"""

from __future__ import annotations

import os

import pytest

from arenatok.errors import OptionError
from arenatok.runtime.environment import VARIABLES, check, http_url, settle, whole_seconds


@pytest.mark.parametrize(
    ("name", "value", "message", "hint"),
    [
        ("SOURCE_DATE_EPOCH", "1700000000.0", "whole seconds since 1970", "$(date +%s)"),
        ("SOURCE_DATE_EPOCH", "-1", "whole seconds since 1970", "$(date +%s)"),
        ("HF_HUB_ETAG_TIMEOUT", "", "whole seconds", "10"),
        ("HF_HUB_ETAG_TIMEOUT", "1.5", "whole seconds", "10"),
        ("HF_HUB_DOWNLOAD_TIMEOUT", "99999999999", "whole seconds", "10"),
        ("HF_ENDPOINT", "http://[::1", "an http or https URL", "https://huggingface.co"),
        ("HF_ENDPOINT", "http://hub:port", "an http or https URL", "https://huggingface.co"),
        ("HF_ENDPOINT", "hub.example.com", "an http or https URL", "https://huggingface.co"),
    ],
)
def test_a_value_the_command_uses_is_one_line(
    name: str, value: str, message: str, hint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(OptionError) as e:
        check(name)
    assert e.value.message == f"{name} must be {message}, got {value!r}"
    assert e.value.hint == f"for example {name}={hint}, or unset it"


def test_values_that_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "0")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:8080/mirror/")
    monkeypatch.delenv("HF_HUB_DOWNLOAD_TIMEOUT", raising=False)
    check("SOURCE_DATE_EPOCH", "HF_HUB_ETAG_TIMEOUT", "HF_ENDPOINT", "HF_HUB_DOWNLOAD_TIMEOUT")
    assert whole_seconds("999999999999")
    assert not whole_seconds("١٢")  # Arabic-Indic digits: int() reads them, not every library
    assert http_url("https://huggingface.co")
    assert not http_url("ftp://huggingface.co")


BAD = {
    "SOURCE_DATE_EPOCH": "1700000000.0",  # numpy's f2py: int() at its import
    "HF_ENDPOINT": "http://[::1",  # huggingface_hub: urlsplit at its import
    "HF_HUB_ETAG_TIMEOUT": "abc",  # huggingface_hub: int() at its import
    "HF_HUB_DOWNLOAD_TIMEOUT": "1.5",
    "MPLBACKEND": "agg",  # never read: any value goes
    "SKLEARN_WORKING_MEMORY": "a lot",  # scikit-learn: int() at its import
    "JOBLIB_MULTIPROCESSING": "yes",  # joblib: int() at its import
    "LOKY_MAX_DEPTH": "deep",
    "TQDM_NCOLS": "wide",  # tqdm: int() at its import
    "TQDM_MININTERVAL": "0,1",  # tqdm: float() at its import
}


def test_every_variable_has_a_bad_value_here() -> None:
    assert set(BAD) <= set(VARIABLES)
    tqdm = {name for name in VARIABLES if name.startswith("TQDM_")}
    assert set(VARIABLES) - tqdm == set(BAD) - tqdm
    for name, variable in VARIABLES.items():
        assert not variable.valid(BAD.get(name, "x")), name


@pytest.mark.parametrize(
    ("command", "kept"),
    [
        (
            "build",
            {"SOURCE_DATE_EPOCH", "HF_ENDPOINT", "HF_HUB_ETAG_TIMEOUT", "HF_HUB_DOWNLOAD_TIMEOUT"},
        ),
        ("push", {"HF_ENDPOINT", "HF_HUB_ETAG_TIMEOUT", "HF_HUB_DOWNLOAD_TIMEOUT"}),
        ("report", set()),
        ("bench", set()),
        ("card", set()),
        ("validate", set()),
    ],
)
def test_settle_keeps_only_what_the_command_uses_for_its_check(
    command: str, kept: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in BAD.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SKLEARN_WORKING_MEMORY", "2048")  # a value its library reads: kept
    settle(command)
    assert {n for n in VARIABLES if n in os.environ} == kept | {"SKLEARN_WORKING_MEMORY"}


def test_settle_takes_out_an_empty_variable_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.setenv(name, "")
    settle("build")
    assert not [n for n in VARIABLES if n in os.environ]
