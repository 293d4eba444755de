"""Splink comparisons of Bloom filters by their Dice coefficient, and the settings of a model in
bloom mode: the same Fellegi-Sunter model as plain mode, with Dice levels in place of string
distances and encoded blocking keys in place of clear values.

Bloom mode runs on DuckDB only: the comparisons need bitwise AND and a population count over
bit strings (DuckDB's BITSTRING, `&` and `bit_count`). Spark has no bit-string type: its `&` and
`bit_count` take integers only, and its bitmap functions (`bitmap_count`, `bitmap_or_agg`) count
and aggregate binary bitmaps but cannot AND two values of one row, so a filter of 1024 bits
cannot be compared there as one value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from svduty.errors import InputError
from svduty.linkage.bloom import SUFFIX

if TYPE_CHECKING:
    from splink import SettingsCreator
    from splink.internals.comparison_creator import ComparisonCreator

    from svduty.linkage.presets import Preset

THRESHOLDS = (0.9, 0.8, 0.6)
"""Dice levels below identical filters: one letter changed in a name of 7 letters keeps about
0.75 of its bigrams (a Dice near 0.75), two changed about 0.5; 0.6 still tells a near spelling
from another name, whose bigrams rarely agree beyond 0.3."""


BITS = "_bits"
"""A filter's count of set bits is the filter column's name with this suffix: counted once per
record by `bloom_input_sql`, not once per pair and level."""


def dice_at_least(column: str, threshold: float) -> str:
    """SQL (DuckDB) saying the Dice coefficient of a filter column's `_l` and `_r` values is at
    least `threshold`, multiplied out (no division, no NULL when both filters are empty)."""
    left, right = f'"{column}_l"', f'"{column}_r"'
    counts = f'"{column}{BITS}_l" + "{column}{BITS}_r"'
    return f"2 * bit_count({left} & {right}) >= {threshold} * ({counts})"


def bloom_input_sql(source: str, fields: Sequence[str], text: bool = False) -> str:
    """SQL of a bloom-mode model's input: `source` (a table or parenthesised query) with each
    field's filter as a BITSTRING (decoded from base64 when `text`, as files hold them) and its
    count of set bits."""
    columns = [field + SUFFIX for field in fields]
    filters = [f'from_base64(s."{c}")::BIT' if text else f's."{c}"' for c in columns]
    made = [
        f'{sql} AS "{c}", bit_count({sql}) AS "{c}{BITS}"'
        for sql, c in zip(filters, columns, strict=True)
    ]
    excluded = ", ".join(f'"{c}"' for c in columns)
    return f"SELECT s.* EXCLUDE ({excluded}), {', '.join(made)} FROM {source} s"


ENCODED_BLOCKS: tuple[tuple[str, ...], ...] = (
    ("block_surname", "block_forename"),
    ("block_surname", "block_birth_year"),
    ("block_forename", "block_birth_year"),
    ("block_surname", "block_birth_sex"),
    ("block_forename", "block_birth_sex"),
    ("block_birth_month",),
)
"""Blocking rules on the encoded blocking keys a bloom-mode run adds to its preset's: both name
codes, a name code with the year of birth (with sex, when encoded), or the year and month of
birth, so a pair is a candidate despite a typo in a name or the date of birth."""
ENCODED_TRAINING = (("block_surname", "block_birth_month"), ("block_forename", "block_birth_month"))
"""Expectation maximisation blockings when none of the preset's can be encoded."""
DERIVED_BLOCKS = {"year_of_birth": "block_birth_year"}
"""Prepared columns of plain mode whose encoded counterpart is a blocking key."""
UNENCODED = ("date_of_birth_transposed", "postcode_district")
"""Prepared columns of plain mode with no encoded counterpart (every other column is encoded
as a filter of its own)."""


def bloom_preset(preset: Preset) -> Preset:
    """A preset's bloom counterpart: a Dice comparison of each compared column's filter (an
    exact one where the preset compares exactly: sex, NHS number...), and its rules (prior,
    training, blocking) on filters in place of clear values (equal filters under one key are
    equal normalised values, so exact rules keep their meaning), plus the
    rules on encoded blocking keys (`ENCODED_BLOCKS`). Rules naming a column with no encoded
    counterpart (`UNENCODED`: the district of a postcode, a transposed date) are left out."""
    from dataclasses import replace

    from svduty.linkage.presets import Comparison

    def column(name: str) -> str | None:
        if name in DERIVED_BLOCKS:
            return DERIVED_BLOCKS[name]
        return None if name in UNENCODED else name + SUFFIX

    def rules(given: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        made = []
        for rule in given:
            encoded = [column(c) for c in rule]
            if all(encoded):
                made.append(tuple(c for c in encoded if c))
        return tuple(dict.fromkeys(made))

    kinds = {c: comparison.kind for comparison in preset.comparisons for c in comparison.columns}
    comparisons = tuple(
        Comparison("exact" if kind == "exact" else "dice", (f + SUFFIX,))
        for f, kind in kinds.items()
        if f not in UNENCODED
    )
    return replace(
        preset,
        comparisons=comparisons,
        prior_rules=rules(preset.prior_rules),
        em_blocking=rules(preset.em_blocking) or ENCODED_TRAINING,
        blocking=tuple(dict.fromkeys(rules(preset.blocking) + ENCODED_BLOCKS)),
    )


def dice_comparison(
    field: str, thresholds: Sequence[float] = THRESHOLDS, column: str | None = None
) -> ComparisonCreator:
    """A Splink comparison of a field's filters: missing, identical, Dice >= each threshold
    (highest first), else."""
    from splink.internals.comparison_level_library import CustomLevel, ElseLevel
    from splink.internals.comparison_library import CustomComparison

    name = column or field + SUFFIX
    left, right = f'"{name}_l"', f'"{name}_r"'
    levels: list[Any] = [
        CustomLevel(f"{left} IS NULL OR {right} IS NULL", "missing").configure(is_null_level=True),
        CustomLevel(f"{left} = {right}", "identical filters"),
    ]
    for threshold in sorted(thresholds, reverse=True):
        levels.append(CustomLevel(dice_at_least(name, threshold), f"Dice >= {threshold}"))
    levels.append(ElseLevel())
    return CustomComparison(
        levels, output_column_name=field, comparison_description=f"{field} Dice"
    )


def require_duckdb(engine: str) -> None:
    """Refuse bloom mode on another engine, saying why."""
    if engine != "duckdb":
        raise InputError(
            f"engine = {engine!r}: bloom mode runs on the DuckDB engine only (Spark has no "
            "bit-string type, and its '&' and bit_count take integers, so Bloom filters cannot "
            "be compared there); link this run on a workspace with engine = 'duckdb', or in "
            "plain mode"
        )


def bloom_settings(
    fields: Sequence[str],
    blocks: Sequence[str | Sequence[str]],
    link_type: str = "link_only",
    thresholds: Sequence[float] = THRESHOLDS,
    engine: str = "duckdb",
    unique_id: str = "unique_id",
) -> SettingsCreator:
    """Splink settings for bloom mode: one Dice comparison per field's filter (`<field>_bloom`,
    with its count of bits: the input is `bloom_input_sql`), and blocking rules on the encoded
    blocking keys (a name, or several names that must all be equal)."""
    from splink import SettingsCreator, block_on

    require_duckdb(engine)
    rules = [block_on(*([b] if isinstance(b, str) else list(b))) for b in blocks]
    return SettingsCreator(
        link_type=link_type,  # type: ignore[arg-type]
        comparisons=[dice_comparison(f, thresholds) for f in fields],
        blocking_rules_to_generate_predictions=rules,  # type: ignore[arg-type]
        unique_id_column_name=unique_id,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
