"""A framework measure's baseline, recalculation points and target: read from its YAML (every
mistake named by line and field) and turned into the SPC chart's arguments."""

from __future__ import annotations

from datetime import date

import pytest

from svduty.errors import InputError
from svduty.measures.framework import load_framework
from svduty.measures.limits import Baseline, chart_plan
from svduty.measures.spc import MIN_POINTS, spc

FRAMEWORK = """\
id: local
name: Local measures
measures:
  - id: injuries
    name: Violence with injury
    why: Fewer injuries.
    source:
      incidents:
        where:
          offence_subgroups: [Violence with injury]
    unit: rate
    per: 1000
    improvement: down
    period: month
{extra}"""


def _load(tmp_path, extra: str):
    path = tmp_path / "local.yaml"
    text = FRAMEWORK.format(extra=extra)
    path.write_text(text)
    return path, text


def test_a_baseline_recalculation_and_target_are_read_as_written(tmp_path):
    path, _ = _load(
        tmp_path,
        "    baseline: {from: 2023-01, to: 2024-03}\n"
        "    recalculate: [2024/25, 2025-Q3]\n"
        "    target: 0.6\n",
    )
    measure = load_framework(path).measures[0]
    assert measure.baseline == Baseline("2023-01", "2024-03")
    assert (measure.baseline.start, measure.baseline.end) == (date(2023, 1, 1), date(2024, 4, 1))
    assert measure.baseline.months == 15
    assert measure.recalculate == ("2024/25", "2025-Q3")
    assert measure.target == 0.6
    # one period is a baseline of itself: a financial year is its twelve months
    path, _ = _load(tmp_path, "    baseline: 2022/23\n")
    one = load_framework(path).measures[0].baseline
    assert (one.start, one.end, one.months) == (date(2022, 4, 1), date(2023, 4, 1), 12)


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ("    baseline: {from: 2024-04, to: 2023-03}\n", "baseline", "comes before"),
        ("    baseline: 2022\n", "baseline", "a period"),
        ("    baseline: {from: 2023-01}\n", "baseline", "takes 'from' and 'to'"),
        ("    recalculate: [April 2024]\n", "recalculate", "a list, each a period"),
        ("    target: lower\n", "target", "a number"),
        ("    target: 3\n", "target", "a better direction"),
    ],
)
def test_each_mistake_is_named_by_line_and_field(tmp_path, extra, field, words):
    path, text = _load(tmp_path, extra)
    if "better direction" in words:  # a target where neither direction is better
        text = text.replace("improvement: down", "improvement: neither")
        path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_framework(path)
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t.strip().startswith(field))
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: measures[0].{field}: "), message
    assert words in message
    assert len(message.splitlines()) == 1


def _months(first: date, n: int) -> list[date]:
    index = first.year * 12 + first.month - 1
    return [date((index + i) // 12, (index + i) % 12 + 1, 1) for i in range(n)]


def test_a_chart_with_a_baseline_starts_at_it_and_takes_its_points():
    days = _months(date(2022, 10, 1), 36)  # 2022-10 to 2025-09
    baseline = Baseline("2023-01", "2024-03")  # the 4th to the 18th point
    plan = chart_plan(days, "month", baseline, ["2024-Q3", "2022-11", "2026-01"], 5.0)
    assert plan.first == 3 and plan.baseline == 15 and plan.target == 5.0
    assert plan.recalculate == (date(2024, 7, 1),)
    said = " ".join(plan.notes)
    assert "3 months before it left out" in said
    assert "recalculation at 2022-11 not used" in said and "2026-01 not used" in said
    # the chart made with the plan: its first 15 points' limits carried forward to 2024-07
    values = [float((7 * i) % 11 + 20) for i in range(36)]
    result = spc(
        days[plan.first :], values[plan.first :], improvement="down",
        baseline=plan.baseline, recalculate=plan.recalculate, target=plan.target,
    )  # fmt: skip
    frame = result.frame
    base = values[3:18]
    mean = sum(base) / len(base)
    moving = sum(abs(a - b) for a, b in zip(base[1:], base[:-1], strict=False)) / (len(base) - 1)
    assert frame["baseline"].sum() == 15 and bool(frame["baseline"].iloc[14])
    carried = frame[frame["date"] < "2024-07-01"]
    assert len(carried) == 18  # the baseline and the three months after it
    assert carried["mean"].round(9).eq(round(mean, 9)).all()
    assert carried["upl"].round(9).eq(round(mean + 2.66 * moving, 9)).all()
    after = values[21:]
    assert frame["mean"].iloc[-1] == pytest.approx(sum(after) / len(after))


def test_a_baseline_too_short_or_without_data_is_not_used_and_said():
    days = _months(date(2023, 1, 1), 24)
    short = chart_plan(days, "month", Baseline("2023/24", "2023/24"), [], None)
    assert (short.first, short.baseline) == (0, None)
    assert f"it holds 12 months with data and limits need {MIN_POINTS}" in short.notes[0]
    empty = chart_plan(days, "month", Baseline("2021-01", "2022-06"), [], None)
    assert (empty.first, empty.baseline) == (0, None)
    assert "no month in it has data" in empty.notes[0]
    # a series too short for limits is a run chart; its baseline changes nothing, silently
    run = chart_plan(days[:10], "month", Baseline("2023-01", "2023-06"), [], None)
    assert (run.first, run.baseline, run.notes) == (0, None, ())
    # quarters from 2022-Q2: a baseline from 2022/23 to 2025-Q2 is their first thirteen
    quarters = [date(2022 + (3 + 3 * i) // 12, (3 + 3 * i) % 12 + 1, 1) for i in range(20)]
    plan = chart_plan(quarters, "quarter", Baseline("2022/23", "2025-Q2"), [], None)
    assert (plan.first, plan.baseline) == (0, 13)
