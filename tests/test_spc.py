"""SPC charts (Making Data Count): limits worked by hand in each test, every rule on a small
series written out here, with a case that fires and a near miss that does not."""

from __future__ import annotations

import itertools
import json
import math
from datetime import date, timedelta

import pandas as pd
import pytest

from svduty.errors import InputError
from svduty.measures.charts import render, spc_figure
from svduty.measures.spc import days_between, read_events, read_series, spc

WORKED = [20, 24, 20, 26, 22, 16, 18, 16, 31, 28, 34, 26, 30, 19, 18]
"""The MDC testing note's series: mean 23.20, mean moving range 5.43, limits 37.64 and 8.76."""

BASE = [10, 12] * 6 + [10]
"""A baseline of 13 points: mean 142/13, every moving range 2."""


def months(n: int, first: date = date(2020, 1, 1)) -> list[date]:
    return [date(first.year + (first.month - 1 + k) // 12, (first.month - 1 + k) % 12 + 1, 1)
            for k in range(n)]  # fmt: skip


def by_hand(values: list[float]) -> dict[str, float]:
    mean = sum(values) / len(values)
    ranges = [abs(values[k] - values[k - 1]) for k in range(1, len(values))]
    mr = sum(ranges) / len(ranges)
    return {
        "mean": mean,
        "mr": mr,
        "upl": mean + 2.66 * mr,
        "lpl": mean - 2.66 * mr,
        "upper_2sigma": mean + 2.66 * mr * 2 / 3,
        "lower_2sigma": mean - 2.66 * mr * 2 / 3,
    }


def chart(values: list[float], **options) -> pd.DataFrame:
    return spc(months(len(values)), values, **options).frame


def after_base(tail: list[float], **options) -> pd.DataFrame:
    """BASE fixes the limits (baseline 13); the tail's points are judged against them."""
    return chart([*BASE, *tail], baseline=13, **options).iloc[len(BASE) :]


def rules_of(frame: pd.DataFrame) -> list[str]:
    return list(frame["rules"])


LIMITS = by_hand(BASE)


# inputs -> limits


def test_the_testing_note_worked_check_holds():
    hand = by_hand(WORKED)
    assert round(hand["mean"], 2) == 23.20
    assert round(hand["mr"], 2) == 5.43
    assert round(hand["upl"], 2) == 37.64
    assert round(hand["lpl"], 2) == 8.76
    frame = chart(WORKED)
    for column in ("mean", "upl", "lpl", "upper_2sigma", "lower_2sigma"):
        assert frame[column].tolist() == pytest.approx([hand[column]] * len(WORKED), abs=1e-12)
    assert frame["mr_upl"].tolist() == pytest.approx([3.267 * hand["mr"]] * len(WORKED))
    assert frame["moving_range"].isna().tolist() == [True] + [False] * 14
    assert frame["moving_range"].iloc[1:].tolist() == [
        abs(WORKED[k] - WORKED[k - 1]) for k in range(1, 15)
    ]
    assert set(frame["variation"]) == {"common"}


def test_limits_need_thirteen_points_else_a_run_chart_said():
    short = spc(months(12), WORKED[:12], improvement="up")
    assert short.frame["upl"].isna().all() and short.frame["lpl"].isna().all()
    assert short.frame["mean"].tolist() == pytest.approx([sum(WORKED[:12]) / 12] * 12)
    assert short.frame["variation"].isna().all()
    assert short.variation_icon is None
    assert any("run chart" in note and "12 points" in note for note in short.notes)
    enough = spc(months(13), WORKED[:13], improvement="up")
    assert enough.frame["upl"].iloc[0] == pytest.approx(by_hand(WORKED[:13])["upl"])
    assert not any("run chart" in note for note in enough.notes)


def test_a_run_chart_flags_nothing_even_far_from_its_mean():
    frame = chart([10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 90], improvement="up")
    assert rules_of(frame) == [""] * 12


# rules: a point beyond a process limit


def test_a_point_beyond_the_upper_limit_fires_and_one_just_inside_does_not():
    beyond = after_base([LIMITS["upl"] + 0.01], improvement="down")
    assert rules_of(beyond) == ["outside_upper"]
    assert beyond["variation"].tolist() == ["concern"]
    inside = after_base([LIMITS["upl"] - 0.01], improvement="down")
    assert rules_of(inside) == [""]


def test_a_point_beyond_the_lower_limit_fires_and_one_just_inside_does_not():
    assert rules_of(after_base([LIMITS["lpl"] - 0.01])) == ["outside_lower"]
    assert rules_of(after_base([LIMITS["lpl"] + 0.01])) == [""]


# rules: shift


def test_six_points_above_the_mean_are_a_shift_and_five_are_not():
    assert rules_of(after_base([12] * 6)) == ["shift_above"] * 6
    assert rules_of(after_base([12] * 5)) == [""] * 5


def test_a_point_on_the_mean_breaks_a_shift():
    mean = sum(BASE) / len(BASE)
    frame = after_base([12, 12, 12, mean, 12, 12, 12])
    assert rules_of(frame) == [""] * 7


def test_a_shift_below_counts_the_baseline_point_before_it():
    # the baseline's last point (10) is below the mean too: 1 + 5 = 6
    frame = chart([*BASE, 9, 9, 9, 9, 9], baseline=13)
    assert rules_of(frame)[-6:] == ["shift_below"] * 6
    assert rules_of(frame)[:-6] == [""] * 12


# rules: trend


def test_six_rising_points_are_a_trend_even_across_the_mean():
    tail = [9.0, 9.5, 10.0, 10.5, 11.0, 11.5]
    assert LIMITS["lpl"] < min(tail) and max(tail) < LIMITS["upl"]
    assert rules_of(after_base(tail)) == ["trend_up"] * 6


def test_a_tie_breaks_a_trend_and_five_rising_points_are_not_one():
    # the base ends on 10, so a rise from 10.0 starts at 10.0
    assert rules_of(after_base([10.0, 10.5, 11.0, 11.0, 11.5, 12.0])) == [""] * 6
    assert rules_of(after_base([10.0, 10.5, 11.0, 11.5, 12.0])) == [""] * 5
    assert rules_of(after_base([10.0, 10.5, 11.0, 11.5, 12.0, 12.5])) == ["trend_up"] * 6


def test_six_falling_points_are_a_trend_down():
    frame = after_base([12.5, 12.0, 11.5, 11.0, 10.5, 10.0], improvement="up")
    assert rules_of(frame) == ["trend_down"] * 6
    assert set(frame["variation"]) == {"concern"}


# rules: two of three beyond 2 sigma


def test_two_of_three_beyond_the_same_2_sigma_line_flags_those_two():
    high = LIMITS["upper_2sigma"] + 0.5
    assert high < LIMITS["upl"]
    assert rules_of(after_base([high, 12, high])) == [
        "two_of_three_above",
        "",
        "two_of_three_above",
    ]
    low = LIMITS["lower_2sigma"] - 0.3
    assert LIMITS["lpl"] < low and LIMITS["mean"] > 9
    assert rules_of(after_base([low, 9, low])) == ["two_of_three_below", "", "two_of_three_below"]


def test_two_of_three_needs_all_three_on_one_side_of_the_mean():
    high = LIMITS["upper_2sigma"] + 0.5
    assert rules_of(after_base([high, 9, high])) == [""] * 3


def test_a_point_beyond_the_process_limit_does_not_count_toward_two_of_three():
    high = LIMITS["upper_2sigma"] + 0.5
    assert rules_of(after_base([LIMITS["upl"] + 1, high, 12])) == ["outside_upper", "", ""]


# colour by direction


def test_improvement_concern_and_neither_follow_the_better_direction():
    up = after_base([LIMITS["upl"] + 1], improvement="up")
    down = after_base([LIMITS["upl"] + 1], improvement="down")
    neither = after_base([LIMITS["upl"] + 1], improvement="neither")
    assert up["variation"].tolist() == ["improvement"]
    assert down["variation"].tolist() == ["concern"]
    assert neither["variation"].tolist() == ["neither"]
    assert [up["colour"].iloc[0], down["colour"].iloc[0], neither["colour"].iloc[0]] == [
        "#00B0F0",
        "#E46C0A",
        "#490092",
    ]
    assert set(after_base([12], improvement="up")["colour"]) == {"#A6A6A6"}


def test_improvement_wins_when_a_point_meets_both_kinds_of_rule():
    # a rising trend (improvement when up is better) entirely below the mean (a low shift)
    tail = [6.0, 6.5, 7.0, 7.5, 8.0, 8.5]
    assert LIMITS["lpl"] < 6.0
    result = spc(months(19), [*BASE, *tail], baseline=13, improvement="up")
    last = result.frame.iloc[13:]
    assert all("trend_up" in r and "shift_below" in r for r in last["rules"])
    assert set(last["variation"]) == {"improvement"}
    assert result.frame["variation"].iloc[12] == "concern"  # in the shift, not the trend
    assert any("improvement and a concern rule" in note for note in result.notes)
    assert result.variation_icon == "improvement_high"


# recalculation and baseline

SEGMENT_1 = [10, 12, 10, 12, 10, 12, 10, 12, 10, 13, 13, 13, 13]
SEGMENT_2 = [23, 23, 23, 20, 22, 20, 22, 20, 22, 20, 22, 20, 22]


def test_recalculation_gives_each_segment_its_own_limits():
    dates = months(26)
    frame = spc(dates, SEGMENT_1 + SEGMENT_2, recalculate=[dates[13]]).frame
    first, second = by_hand(SEGMENT_1), by_hand(SEGMENT_2)
    assert frame["segment"].tolist() == [1] * 13 + [2] * 13
    for column in ("mean", "upl", "lpl", "upper_2sigma", "lower_2sigma"):
        assert frame[column].tolist() == pytest.approx([first[column]] * 13 + [second[column]] * 13)
    assert math.isnan(frame["moving_range"].iloc[13])  # no range across the recalculation


def test_mdc_rules_cross_a_recalculation_and_nhsr_rules_do_not():
    # the last 4 points of segment 1 are above its mean, the first 3 of segment 2 above its own
    assert all(v > by_hand(SEGMENT_1)["mean"] for v in SEGMENT_1[-4:])
    assert all(v > by_hand(SEGMENT_2)["mean"] for v in SEGMENT_2[:3])
    dates = months(26)
    mdc = spc(dates, SEGMENT_1 + SEGMENT_2, recalculate=[dates[13]], preset="mdc").frame
    nhsr = spc(dates, SEGMENT_1 + SEGMENT_2, recalculate=[dates[13]], preset="nhsr").frame
    assert rules_of(mdc)[9:16] == ["shift_above"] * 7
    assert rules_of(nhsr)[9:16] == [""] * 7


def test_a_baseline_fixes_the_limits_from_its_points_and_extends_them():
    values = [*WORKED[:13], 40, 41, 5, 25]
    frame = chart(values, baseline=13)
    hand = by_hand(WORKED[:13])
    assert frame["upl"].tolist() == pytest.approx([hand["upl"]] * len(values))
    assert frame["baseline"].tolist() == [True] * 13 + [False] * 4
    rules = frame["rules"].str.split(";")
    assert ["outside_upper" in r for r in rules.iloc[13:17]] == [True, True, False, False]
    assert ["outside_lower" in r for r in rules.iloc[13:17]] == [False, False, True, False]


def test_a_recalculation_inside_the_baseline_is_ignored_and_one_after_it_is_kept():
    values = [*WORKED[:13], *SEGMENT_2]
    dates = months(len(values))
    result = spc(dates, values, baseline=13, recalculate=[dates[5], dates[13]])
    frame = result.frame
    assert frame["segment"].tolist() == [1] * 13 + [2] * 13
    assert frame["upl"].iloc[0] == pytest.approx(by_hand(WORKED[:13])["upl"])
    assert frame["upl"].iloc[13] == pytest.approx(by_hand(SEGMENT_2)["upl"])
    assert any(
        "ignored inside the baseline" in n and dates[5].isoformat() in n for n in result.notes
    )
    alone = spc(dates, values, baseline=13, recalculate=[dates[5]]).frame
    assert alone["upl"].tolist() == pytest.approx([by_hand(WORKED[:13])["upl"]] * len(values))


def test_baseline_and_recalculation_mistakes_are_said():
    dates = months(15)
    with pytest.raises(InputError, match="at least 13 points"):
        spc(dates, WORKED, baseline=12)
    with pytest.raises(InputError, match="longer than the 15 given"):
        spc(dates, WORKED, baseline=16)
    with pytest.raises(InputError, match="after the last point"):
        spc(dates, WORKED, recalculate=[date(2030, 1, 1)])
    with pytest.raises(InputError, match="on or before the first point"):
        spc(dates, WORKED, recalculate=[dates[0]])


# presets


def test_nhsr_shifts_and_trends_need_seven_points():
    assert rules_of(after_base([12] * 6, preset="nhsr")) == [""] * 6
    assert rules_of(after_base([12] * 7, preset="nhsr")) == ["shift_above"] * 7
    rising = [8.5, 9.0, 9.5, 10.0, 10.5, 11.0, 11.5]
    assert rules_of(after_base(rising[1:], preset="nhsr")) == [""] * 6
    assert rules_of(after_base(rising, preset="nhsr")) == ["trend_up"] * 7


def test_nhsr_screens_large_moving_ranges_out_of_the_mean_moving_range():
    values = [10, 12] * 7 + [40] + [10, 12] * 2
    ranges = [abs(values[k] - values[k - 1]) for k in range(1, len(values))]
    mr = sum(ranges) / len(ranges)
    kept = [r for r in ranges if r < 3.267 * mr]
    assert len(kept) == len(ranges) - 2  # the jumps up to 40 and back
    mean = sum(values) / len(values)
    screened = chart(values, preset="nhsr")
    assert screened["upl"].iloc[0] == pytest.approx(mean + 2.66 * sum(kept) / len(kept))
    assert chart(values, preset="mdc")["upl"].iloc[0] == pytest.approx(mean + 2.66 * mr)


def test_nhsr_colours_a_special_cause_point_by_its_side_of_the_mean():
    tail = [6.0, 6.5, 7.0, 7.5, 8.0, 8.5]  # below the mean: a 7-point shift with the base's last
    frame = after_base(tail, preset="nhsr", improvement="up")
    assert all("shift_below" in r for r in frame["rules"])
    assert set(frame["variation"]) == {"concern"}


# icons


def test_the_variation_icon_is_the_last_points():
    assert spc(months(15), WORKED, improvement="up").variation_icon == "common_cause"
    values = [*BASE, LIMITS["upl"] + 1]
    assert spc(months(14), values, baseline=13, improvement="up").variation_icon == (
        "improvement_high"
    )
    assert spc(months(14), values, baseline=13, improvement="down").variation_icon == (
        "concern_high"
    )
    assert spc(months(14), values, baseline=13).variation_icon == "neither_high"
    low = [*BASE, LIMITS["lpl"] - 1]
    assert spc(months(14), low, baseline=13, improvement="up").variation_icon == "concern_low"
    assert spc(months(14), low, baseline=13, improvement="down").variation_icon == (
        "improvement_low"
    )


@pytest.mark.parametrize(
    ("improvement", "where", "icon"),
    [
        ("up", "below_lpl", "pass"),
        ("up", "above_upl", "fail"),
        ("up", "between", "hit_or_miss"),
        ("down", "above_upl", "pass"),
        ("down", "below_lpl", "fail"),
        ("down", "between", "hit_or_miss"),
    ],
)
def test_the_assurance_icon_sets_the_target_against_the_latest_limits(improvement, where, icon):
    hand = by_hand(WORKED)
    target = {
        "below_lpl": hand["lpl"] - 0.01,
        "above_upl": hand["upl"] + 0.01,
        "between": hand["mean"],
    }[where]
    result = spc(months(15), WORKED, improvement=improvement, target=target)
    assert result.assurance_icon == icon


def test_no_assurance_icon_without_a_better_direction():
    result = spc(months(15), WORKED, improvement="neither", target=20)
    assert result.assurance_icon is None
    assert any("no assurance icon" in note for note in result.notes)


# rare events


EVENTS = [date(2020, 1, 1) + timedelta(days=d) for d in (
    0, 30, 45, 100, 130, 131, 200, 260, 270, 330, 400, 410, 470, 520, 600, 640, 700,
)]  # fmt: skip


def test_days_between_events_are_whole_days_dated_by_the_later_event():
    dates, days = days_between(list(reversed(EVENTS)))
    assert dates == EVENTS[1:]
    assert days == [float((b - a).days) for a, b in itertools.pairwise(EVENTS)]


def test_a_t_chart_takes_xmr_limits_of_days_to_the_power_1_over_3_6():
    dates, days = days_between(EVENTS)
    y = [d ** (1 / 3.6) for d in days]
    hand = by_hand(y)
    frame = spc(dates, days, chart="t").frame
    assert frame["value"].tolist() == days
    assert frame["mean"].iloc[0] == pytest.approx(hand["mean"] ** 3.6)
    assert frame["upl"].iloc[0] == pytest.approx(hand["upl"] ** 3.6)
    assert frame["upper_2sigma"].iloc[0] == pytest.approx(hand["upper_2sigma"] ** 3.6)
    if hand["lpl"] < 0:
        assert frame["lpl"].isna().all()
    else:
        assert frame["lpl"].iloc[0] == pytest.approx(hand["lpl"] ** 3.6)
    assert frame["moving_range"].isna().all()


def test_a_g_chart_has_the_geometric_upper_limit_and_centre():
    dates, days = days_between(EVENTS)
    mean = sum(days) / len(days)
    frame = spc(dates, days, chart="g").frame
    assert frame["upl"].iloc[0] == pytest.approx(mean + 3 * math.sqrt(mean * (mean + 1)))
    assert frame["mean"].iloc[0] == pytest.approx(0.693 * mean)
    assert frame["lpl"].isna().all() and frame["upper_2sigma"].isna().all()


def test_a_long_gap_is_special_cause_on_a_t_chart():
    gaps = [10, 12, 9, 11, 10, 13, 8, 12, 10, 11, 9, 12, 10, 400]
    dates = months(len(gaps))
    hand = by_hand([d ** (1 / 3.6) for d in gaps])
    assert hand["upl"] ** 3.6 < 400
    frame = spc(dates, [float(g) for g in gaps], chart="t", improvement="up").frame
    assert frame["rules"].iloc[-1] == "outside_upper"
    assert frame["variation"].iloc[-1] == "improvement"


def test_mostly_zero_counts_suggest_a_chart_of_days_between_events():
    values = [0, 0, 1, 0, 0, 0, 2, 0, 0, 1, 0, 0, 0, 0]
    result = spc(months(len(values)), values)
    assert any("days between" in note for note in result.notes)
    assert not any("days between" in note for note in spc(months(15), WORKED).notes)


def test_a_target_on_a_rare_event_chart_is_refused():
    dates, days = days_between(EVENTS)
    with pytest.raises(InputError, match="XmR charts only"):
        spc(dates, days, chart="t", target=30)


# reading files


def test_a_series_file_is_read_by_its_named_columns(tmp_path):
    path = tmp_path / "series.csv"
    path.write_text("month,count,other\n2024-02,5,x\n2024-01,3,y\n\n2024-03,7,z\n")
    dates, values = read_series(path, "month", "count")
    assert dates == [date(2024, 2, 1), date(2024, 1, 1), date(2024, 3, 1)]
    assert values == [5.0, 3.0, 7.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,value\n2024-01-01,5\n2024-02-01,five\n", "line 3, column 'value': 'five' is not"),
        ("date,value\n2024-01-01,5\n01/02/2024,6\n", "line 3, column 'date': '01/02/2024' is not"),
        ("date,value\n2024-01-01,5\n2024-01-01,6\n", "line 3, column 'date': 2024-01-01 is also"),
        ("date,value\n2024-01-01,\n", "line 2, column 'value': empty"),
        ("day,value\n2024-01-01,5\n", "line 1: no column 'date'; the columns are 'day', 'value'"),
        ("date,value\n2024-01-01,5,9\n", "line 2: 3 fields where the header has 2"),
        ("", "the file is empty"),
    ],
)
def test_a_bad_file_is_named_with_its_line_and_column(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        read_series(path)
    assert str(caught.value).startswith(f"{path}")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_events_file_keeps_several_events_on_one_day(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("date\n2024-01-05\n2024-01-05\n2024-01-09T22:10\n")
    assert read_events(path) == [date(2024, 1, 5), date(2024, 1, 5), date(2024, 1, 9)]
    assert days_between(read_events(path))[1] == [0.0, 4.0]


def test_json_and_svg_carry_the_chart(tmp_path):
    result = spc(months(15), WORKED, improvement="down", preset="nhsr", target=30)
    data = json.loads(result.json())
    assert data["preset"] == "nhsr" and data["assurance_icon"] == "hit_or_miss"
    assert len(data["points"]) == 15 and data["points"][0]["moving_range"] is None
    assert data["points"][1]["moving_range"] == 4
    svg = render(spc_figure(result, "Assaults"), "svg").decode()
    assert "</svg>" in svg and "Assaults" in svg and "hit or missed by chance" in svg
    assert render(spc_figure(result, "Assaults"), "svg").decode() == svg  # same data, same file
