"""Which battles a report covers (`select`: the filters) and its slices (`report --by`): the
leaderboard of each language, number of turns, category or flag.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from arenatok.dataset.built import Battles
from arenatok.errors import OptionError
from arenatok.pipeline.records import QUALITY_FLAGS
from arenatok.report.leaderboards import leaderboard
from arenatok.report.results import Filters, SliceRow, Slices


def select(
    c: Battles,
    *,
    anony_only: bool = False,
    min_battles: int = 0,
    exclude: Sequence[str] = (),
) -> tuple[Battles, Filters]:
    """The battles the leaderboards use, and what the filters did: `anony_only` keeps the
    battles whose models were hidden from the voter (anony true); `exclude` drops every battle
    of the named models; `min_battles` then drops the models with fewer battles (one pass)."""
    keep = [
        k
        for k in range(len(c))
        if (not anony_only or c.anony[k] is True)
        and c.model_a[k] not in exclude
        and c.model_b[k] not in exclude
    ]
    per_model = Counter(c.model_a[k] for k in keep) + Counter(c.model_b[k] for k in keep)
    few = {m for m, n in per_model.items() if n < min_battles}
    keep = [k for k in keep if c.model_a[k] not in few and c.model_b[k] not in few]
    unknown = sorted(set(exclude) - set(c.model_a) - set(c.model_b))
    if unknown:
        raise OptionError(
            f"--exclude-model {unknown[0]}: no such model in this dataset",
            hint="the models are listed in report.json (counts.per_model)",
        )
    return c.take(keep), Filters(
        anony_only=anony_only,
        min_battles=min_battles,
        excluded_models=sorted(exclude),
        models_below_min_battles=sorted(few),
        battles_before=len(c),
        battles_after=len(keep),
    )


SLICE_KINDS = ("language", "turns", "category", "flag:NAME")


MIN_SLICE_BATTLES = 50
"""Slices with fewer battles get no leaderboard; they are listed with their count."""


def slice_members(c: Battles, by: str) -> dict[str, list[int]]:
    """The battles of each slice, by index. `language`, `turns`: one slice per value;
    `category`: one slice per yes/no label of the release (a battle is in every slice whose
    label it has); `flag:NAME`: the battles with quality flag NAME (or `openai_moderation`,
    `toxic_chat`) and those without."""
    out: dict[str, list[int]] = {}
    if by == "language":
        for k, lang in enumerate(c.language):
            out.setdefault(lang or "(none)", []).append(k)
    elif by == "turns":
        for k, t in enumerate(c.turns):
            out.setdefault(f"{t} turn{'s' if t > 1 else ''}", []).append(k)
    elif by == "category":
        for k, labels in enumerate(c.categories):
            for name, yes in labels.items():
                if yes:
                    out.setdefault(name, []).append(k)
        if not any(c.categories):
            raise OptionError(
                "--by category: this dataset has no category labels",
                hint="only the 100k and 140k releases carry them (is_code, dedup_tag, "
                "category_tag); try --by language or --by turns",
            )
    elif by.startswith("flag:"):
        name = by.removeprefix("flag:")
        special = {"openai_moderation": c.moderation_flagged, "toxic_chat": c.toxic_flagged}
        if name not in special and name not in QUALITY_FLAGS:
            raise OptionError(
                f"--by {by}: no such flag",
                hint=f"flags: {', '.join([*special, *QUALITY_FLAGS])}",
            )
        has = (
            [bool(x) for x in special[name]]
            if name in special
            else [name in f for f in c.quality_flags]
        )
        for k, yes in enumerate(has):
            out.setdefault(f"{name}" if yes else f"not {name}", []).append(k)
    else:
        raise OptionError(f"--by {by}: unknown slice", hint=f"one of: {', '.join(SLICE_KINDS)}")
    if by == "turns":
        return dict(sorted(out.items(), key=lambda kv: int(kv[0].split()[0])))
    return dict(sorted(out.items(), key=lambda kv: (-len(kv[1]), kv[0])))


def slices_section(
    c: Battles,
    by: str,
    *,
    rounds: int,
    seed: int,
    jobs: int | str = 1,
    intervals: str = "sandwich",
    reweight: bool = False,
) -> Slices:
    """A leaderboard per slice (see `leaderboard` for the options); slices under
    MIN_SLICE_BATTLES battles are listed, unrated."""
    rows = []
    for name, members in slice_members(c, by).items():
        if len(members) < MIN_SLICE_BATTLES:
            rows.append(SliceRow(slice=name, battles=len(members), too_few_battles=True))
            continue
        board = leaderboard(
            c.take(members),
            rounds=rounds,
            seed=seed,
            jobs=jobs,
            intervals=intervals,
            reweight=reweight,
        )
        rows.append(
            SliceRow(
                slice=name,
                battles=board.battles,
                battles_left_out=board.battles_left_out,
                coefficients=board.coefficients,
                models=board.models,
                separate_groups=board.separate_groups,
                rated_sets=board.rated_sets,
            )
        )
    return Slices(by=by, min_battles_per_slice=MIN_SLICE_BATTLES, slices=rows)
