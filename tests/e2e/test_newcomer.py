"""A newcomer's first hour: what a new user meets, each kept true by a test (messages, the
card's license, thin data, the pages at 1,400 px, Ray's noise, the files the README's
examples leave behind)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from arenatok.cli import cli
from arenatok.errors import SourceError
from arenatok.pipeline.driver import build
from arenatok.pipeline.layouts import LAYOUTS
from arenatok.sections import as_json
from tests.helpers import ROOT, TINY, battle, need_chromium, write_jsonl, write_parquet


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def one_error(err: str) -> tuple[str, str]:
    """The message and the hint of a failed command: exactly two lines."""
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith("Error: "), err
    assert lines[1].startswith("Hint: "), err
    return lines[0], lines[1]


# ---- messages ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("sources")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(TINY).slice(0, 0), d / "empty.parquet")
    (d / "a-directory").mkdir()
    write_parquet(d / "cols.parquet", [{"question_id": "1", "text": "x"}])
    (d / "b.csv").write_text("id,model_a\n1,x\n")
    out = d / "built"
    build(write_jsonl(d / "b.jsonl", TINY), out=out)
    return {"dir": d, "built": out}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build", "--source", "{d}/nope.jsonl"], "{d}/nope.jsonl: no such file"),
        (["build", "--source", "{d}/a-directory"], "{d}/a-directory: is a directory"),
        (
            ["build", "--source", "{d}/cols.parquet", "--layout", "kaggle-55k"],
            "{d}/cols.parquet: missing columns for the kaggle-55k layout",
        ),
        (
            ["build", "--source", "{d}/b.jsonl", "--engine", "ray"],
            "{d}/b.jsonl: --engine ray reads one Parquet source, this is jsonl",
        ),
        (["build", "--source", "{d}/empty.parquet"], "{d}/empty.parquet: the file has no rows"),
        (
            ["bench", "{built}", "--strategy", "truncate_head:abc"],
            "truncate_head:abc: truncate_head takes whole numbers",
        ),
        (["build", "--limit", "abc"], "Invalid value for '--limit': 'abc' is not a whole number"),
        (["build", "--counter", "slow"], "Invalid value for '--counter': 'slow' is not one of"),
        (["build", "--layout", "foo"], "Invalid value for '--layout' / '--format': 'foo' is not"),
        (["push", "{built}"], "Missing option '--repo-id'."),
        (["bench", "{d}/b.csv"], "Invalid value for 'OUT_DIRS...': Directory '{d}/b.csv' is a"),
    ],
)
def test_every_error_is_one_line_and_a_hint(
    sources: dict[str, Path], args: list[str], message: str
) -> None:
    where = {"d": sources["dir"], "built": sources["built"]}
    out = ["--out", str(sources["dir"] / "o")] if args[0] == "build" else []
    code, _, err = run(*[a.format(**where) for a in args], *out)
    assert code == 2
    line, _ = one_error(err)
    assert line.startswith("Error: " + message.format(**where)), err


def test_a_usage_error_points_at_the_commands_help() -> None:
    _, hint = one_error(run("build", "--counter", "slow")[2])
    assert hint == "Hint: cli build --help lists every option and its values"


def test_debug_may_come_after_the_command(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    code, out, err = run("build", "--source", str(src), "--out", str(tmp_path / "o"), "--debug")
    assert (code, err) == (0, "")
    assert out.startswith("rows read 4 = written 4 + rejected 0\n")
    with pytest.raises(SourceError):  # --debug: the traceback, wherever it is given
        CliRunner().invoke(
            cli, ["build", "--source", str(tmp_path / "x.jsonl"), "--debug"], catch_exceptions=False
        )


def test_a_row_that_is_not_json_has_no_id_to_name(tmp_path: Path) -> None:
    src = tmp_path / "b.jsonl"
    src.write_text(json.dumps(TINY[0]) + "\n{not json\n")
    code, _, err = run("build", "--source", str(src), "--out", str(tmp_path / "o"))
    assert code == 2
    line, _ = one_error(err)
    assert line.startswith(f"Error: {src}: row 2: line 2 is not valid JSON")
    assert "None" not in line


def test_a_build_stopped_by_the_limit_says_so(tmp_path: Path) -> None:
    rows = [battle(f"q{i}") for i in range(12)]
    jsonl = write_jsonl(tmp_path / "b.jsonl", rows)
    parquet = write_parquet(tmp_path / "b.parquet", rows)
    code, out, _ = run(
        "build", "--source", str(parquet), "--limit", "5", "--out", str(tmp_path / "o1")
    )
    assert out.splitlines()[1] == "read 5 of 12 rows of b.parquet (--limit all for every row)"
    code, out, _ = run(
        "build", "--source", str(jsonl), "--limit", "5", "--out", str(tmp_path / "o2")
    )
    assert out.splitlines()[1] == (
        "read the first 5 rows of b.jsonl; it has more (--limit all for every row)"
    )
    for limit in ("12", "all"):  # every row read: nothing to say
        code, out, _ = run(
            "build", "--source", str(jsonl), "--limit", limit, "--out", str(tmp_path / "o3")
        )
        assert code == 0
        assert "--limit all" not in out


def test_three_way_on_few_battles_counts_ties(sources: dict[str, Path]) -> None:
    code, _, err = run("bench", str(sources["built"]), "--outcome", "three-way")
    assert code == 2
    line, _ = one_error(err)
    assert "too few votes to train and test on" in line
    assert "decisive" not in line


# ---- the card: the release's license, no local path ---------------------------------------------


def test_the_card_declares_the_releases_license_and_no_local_path(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    from huggingface_hub import DatasetCard

    from arenatok.dataset.card import write_card
    from arenatok.dataset.sources import LICENSES

    out = tmp_path / "carded"
    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=out)
    text = write_card(out).read_text()
    assert DatasetCard(text).data.to_dict()["license"] == "cc-by-nc-4.0"
    assert "lmsys/chatbot_arena_conversations: its dataset card's metadata says" in text
    assert str(tmp_path) not in text
    assert "local file `b.jsonl`" in text
    # Every layout says where its license comes from; an unknown one is `unknown`, said so.
    assert set(LICENSES) == set(LAYOUTS)
    assert all(note for _, note in LICENSES.values())
    meta_path = out / "artifact_metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["sources"][0]["layout"] = "someone-elses"
    meta_path.write_text(json.dumps(meta))
    text = write_card(out, force=True).read_text()
    assert DatasetCard(text).data.to_dict()["license"] == "unknown"
    assert "the release of layout `someone-elses` is not known to arenatok" in text


# ---- thin data ----------------------------------------------------------------------------------


def test_a_report_on_thin_data_says_so_and_plots_only_sound_models(tmp_path: Path) -> None:
    from arenatok.report import write_report
    from arenatok.report.numbers import PLOT_MIN_BATTLES
    from arenatok.report.plots import pairs_figure, plotted_models, ratings_figure

    rows = [
        battle(f"q{i}", model_a=f"m{i % 3}", model_b=f"m{(i + 1) % 3}", winner="model_a")
        for i in range(120)
    ]
    rows += [  # a win and a loss: a rough rating (one win alone would have none)
        battle("rare", model_a="rare-model", model_b="m0", winner="model_a"),
        battle("rare2", model_a="rare-model", model_b="m1", winner="model_b"),
    ]
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "b.jsonl", rows), out=out, limit=None)
    typed = write_report(out, rounds=100)
    report = as_json(typed)
    assert report["caveats"] == [
        "Thin data: 122 rated battles (under 300). Ratings and ranks move a lot with so few "
        "votes: read the 95% intervals, not the points; a shared rank of 1 means the intervals "
        "overlap, not a tie.",
        f"1 of 4 models have fewer than {PLOT_MIN_BATTLES} rated battles: their ratings are "
        "rough (wide intervals, where one can be estimated) and they are left out of the plots; "
        "the tables keep them.",
    ]
    page = (out / "report.html").read_text()
    assert all(f'<p class="note">{c}</p>' in page for c in report["caveats"])
    rated = [m["model"] for m in report["ratings"]["models"]]
    shown = plotted_models(typed)
    assert shown == [m for m in rated if m != "rare-model"]  # rating order, the rare one out
    ax = ratings_figure(typed).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == shown
    assert list(ax.get_yticks()) == sorted(ax.get_yticks(), reverse=True)  # best at the top
    heat = pairs_figure(typed).axes[0]
    assert [t.get_text() for t in heat.get_xticklabels()] == shown
    assert [t.get_text() for t in heat.get_yticklabels()] == shown
    assert heat.yaxis_inverted()  # rows read top down in the columns' order
    assert type(heat.collections[0].norm).__name__ == "LogNorm"
    assert min(t.get_fontsize() for t in heat.get_xticklabels()) >= 9


# ---- the pages at 1,400 px ----------------------------------------------------------------------


def test_tables_are_for_people() -> None:
    from arenatok.pages import html_table

    table = html_table(
        [
            {"model": "a", "battles": 12345, "bradley_terry_ci95": [999.25, 1001.5], "ok": True},
            {"model": "b", "battles": 7, "bradley_terry_ci95": [12.0, 13.0], "ok": False},
        ],
        ["model", "battles", "bradley_terry_ci95", "ok"],
    )
    assert table.startswith('<div class="table"><table>')
    assert '<th title="bradley_terry_ci95">Bradley-Terry 95% interval</th>' in table
    assert "<th>battles</th>" in table
    assert '<td class="n">12,345</td>' in table
    assert '<td class="n">999.2 to 1,001.5</td>' in table  # one decimal down the column
    assert '<td class="n">12.0 to 13.0</td>' in table
    assert "<td>yes</td>" in table
    assert "<td>no</td>" in table
    assert "True" not in table


def _open_pages(pages: list[Path]) -> list[dict[str, object]]:
    """Each page opened in Debian's chromium at 1,400 x 900: its width and what its tables
    say."""
    playwright = pytest.importorskip("playwright.sync_api", reason="the test extra is missing")
    chromium = need_chromium()
    found = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        try:
            for path in pages:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(path.as_uri())
                found.append(
                    page.evaluate(
                        """() => ({
                        width: document.documentElement.scrollWidth,
                        boxes: [...document.querySelectorAll('table')].map(t =>
                            t.parentElement.className === 'table'
                            && t.parentElement.getBoundingClientRect().right <= 1400),
                        headers: [...document.querySelectorAll('th')].map(h => h.textContent),
                        cells: [...document.querySelectorAll('td')].map(c => c.textContent),
                        shrunk: [...document.querySelectorAll('figure.wide svg')].filter(s =>
                            s.getBoundingClientRect().width < s.width.baseVal.value - 1).length,
                        wide: document.querySelectorAll('figure.wide svg').length,
                    })"""
                    )
                )
                page.close()
        finally:
            browser.close()
    return found


def test_the_pages_fit_1400_pixels(arena_parquet: Path, tmp_path: Path) -> None:
    from arenatok.bench import write_bench
    from arenatok.bench.strategies import parse_strategies
    from arenatok.report import write_report

    out = tmp_path / "o"
    build(arena_parquet, out=out, limit=None)
    as_json(write_report(out, rounds=100))
    write_bench(out, parse_strategies(["full", "lowrank:16", "truncate_tail:32"]), rounds=100)
    pages = _open_pages([out / "report.html", out / "bench.html"])
    for found in pages:
        assert found["width"] <= 1400  # nothing wider than the window
        assert all(found["boxes"])  # every table in its own box, inside the window
        headers = found["headers"]
        assert isinstance(headers, list)
        assert not [h for h in headers if "_" in h and h != "model_a" and h != "model_b"]
        cells = found["cells"]
        assert isinstance(cells, list)
        assert "True" not in cells
        assert "False" not in cells
    assert pages[0]["wide"] == 2  # the two heatmaps of the report, at their own size
    assert pages[0]["shrunk"] == 0
    report_cells = pages[0]["cells"]
    assert isinstance(report_cells, list)
    assert "2,008" in report_cells  # the battles of the sources table, with its separator


def test_the_bench_plot_tells_every_strategy_apart() -> None:
    from arenatok.bench.bench_page import family, series_styles
    from arenatok.bench.strategies import DEFAULT_STRATEGIES, parse_strategies

    names = [s.name for s in parse_strategies(list(DEFAULT_STRATEGIES))]
    names += ["recurrent:16@4+extract:32", "lowrank:64@2", "mine:Strategy"]
    styles = series_styles(names)
    looks = {(s["color"], s["marker"]) for s in styles.values()}
    assert len(looks) == len(names)  # no two strategies look alike
    # colour by family, marker by setting: the smallest a circle, the next a square
    assert family("recurrent:16@4") == family("recurrent:16") == "recurrent"
    assert family("recurrent:16@4+extract:32") == "hybrid"
    assert styles["truncate_head:32"]["color"] == styles["truncate_head:128"]["color"]
    assert styles["truncate_head:32"]["color"] != styles["truncate_tail:32"]["color"]
    assert (styles["truncate_head:32"]["marker"], styles["truncate_head:128"]["marker"]) == (
        "o",
        "s",
    )
    assert [styles[s]["marker"] for s in ("lowrank:16", "lowrank:64@2", "lowrank:64")] == [
        "o",
        "s",
        "D",
    ]


def test_the_bench_page_draws_each_point_at_its_cost_with_one_legend_entry_a_family(
    tmp_path: Path,
) -> None:

    from arenatok.bench import write_bench
    from arenatok.bench.bench_page import cost_figure
    from arenatok.bench.strategies import parse_strategies
    from tests.helpers import battle, write_jsonl

    rows = [
        battle(f"q{i}", [(f"question {i}", "yes " * (1 + i % 5), "no " * (1 + i % 3))],
               winner=("model_a", "model_b")[i % 2])
        for i in range(120)
    ]  # fmt: skip
    build(write_jsonl(tmp_path / "b.jsonl", rows), out=tmp_path / "o", limit=None)
    specs = ["full", "truncate_head:2,4,8", "truncate_tail:2,4"]
    bench = write_bench(tmp_path / "o", parse_strategies(specs), rounds=100)
    ax = cost_figure(bench).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [
        "full",
        "truncate_head",
        "truncate_tail",
        "frontier",
        "within the margin of full (0.02)",
    ]
    drawn = [c.lines[0].get_xdata()[0] for c in ax.containers]
    costs = [r.bytes_per_side for r in bench.results if r.bytes_per_side is not None]
    assert drawn == [max(c, 1) for c in costs]  # each point at its own cost, none moved
    assert (tmp_path / "o" / "bench.html").read_text().count("<svg") == 1  # one turn: no turn plot


# ---- Ray: quiet unless --debug ------------------------------------------------------------------


def test_ray_is_quiet_unless_debug(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="the ray extra is missing")
    src = write_parquet(tmp_path / "b.parquet", TINY)
    command = [sys.executable, "-m", "arenatok.cli", "build", "--source", str(src)]
    done = subprocess.run(
        [*command, "--engine", "ray", "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    noisy = subprocess.run(
        [*command, "--engine", "ray", "--out", str(tmp_path / "p"), "--debug"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert noisy.returncode == 0
    assert "Started a local Ray instance" in noisy.stderr


# ---- what the documented examples leave behind is ignored by git---------------------------------


def test_the_readmes_example_outputs_are_ignored_by_git() -> None:
    import re

    from tests.helpers import doc_text

    readme = doc_text()
    made = set(re.findall(r"--out (\S+)", readme)) | set(re.findall(r"--out=(\S+)", readme))
    made |= {"elobench.parquet", "bench_build.json", "mutants", "out55k"}
    made = {m.rstrip("/`).") for m in made if not m.startswith(("DIR", "<", "$"))}
    assert len(made) > 5
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *sorted(made)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert set(ignored.stdout.split()) == made


def test_no_page_shows_a_backslash_before_a_pipe_in_code() -> None:
    """Inside a code span a table's pipe needs no escape: `\\|` there is shown as it is."""
    from tests.helpers import doc_pages

    spans = [
        (page.name, span)
        for page in doc_pages()
        for span in re.findall(r"`[^`\n]+`", page.read_text(encoding="utf-8"))
        if "\\|" in span
    ]
    assert spans == []
