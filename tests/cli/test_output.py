"""`cli.output`: what the commands print: the build's summary, line by line, on tiny and on
real battles; the report's tables of ratings, coefficients and pairs."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from arenatok.cli import cli
from tests.helpers import TINY, write_jsonl


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def test_build_summary(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    code, out, err = run("build", "--source", str(src), "--out", str(tmp_path / "out"))
    assert (code, err) == (0, "")
    assert out == (
        "rows read 4 = written 4 + rejected 0\n"
        # q0 2+2+7, q1 (7+6)+(1+1)+(2+5), q2 11+2+2, q3 4+6+0: 58 tokens, 5 turns, 4 battles
        "tokens (cl100k_base): 58 in all, 14.5 per battle, 1.25 turns per battle\n"
        "winners: model_a 25.0% · model_b 25.0% · tie 25.0% · tie (bothbad) 25.0%\n"
        "model pairs: 2 ordered, 2 unordered\n"
        "quality flags: empty_response_b 1, special_token_text 1, multi_turn 1\n"
        "duplicates: same_id 0, same_battle 0 (exact 0, normalized 0); votes differ 0\n"
        "token cache: 0.0% of texts were repeats, counted once\n"
        f"wrote {tmp_path}/out/: data_out.json, data_out.jsonl, full_data_out.json, "
        "mini_data_out.json, preview_data_out.json, record.schema.json, artifact_metadata.json\n"
    )


def test_cli_end_to_end_on_real_data(arena_parquet: Path, tmp_path: Path) -> None:
    code, out, err = run("build", "--source", str(arena_parquet), "--out", str(tmp_path / "o"))
    assert (code, err) == (0, "")
    assert out.splitlines()[:5] == [
        "rows read 300 = written 300 + rejected 0",
        "read 300 of 2,008 rows of elobench.parquet (--limit all for every row)",
        "tokens (cl100k_base): 116,516 in all, 388.4 per battle, 1.00 turns per battle",
        "winners: model_a 39.7% · model_b 37.3% · tie 23.0% · tie (bothbad) 0.0%",
        "model pairs: 47 ordered, 26 unordered",
    ]
