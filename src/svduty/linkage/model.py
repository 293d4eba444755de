"""A Splink model from a preset: compile the preset to Splink settings, train it, score pairs
and cluster them, on whichever backend the workspace's engine calls for.

Records come in prepared (`records.prepare`): a `unique_id` per record and the columns the
preset names. Training is deterministic: the prior is estimated from the preset's exact rules
and their stated recall, u by random sampling with the preset's `u_max_pairs` and seed, m by
expectation maximisation over the preset's training blocking rules.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, cast

from svduty.errors import EngineError, InputError
from svduty.linkage.bloom import SUFFIX
from svduty.linkage.presets import Comparison, Preset

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pandas as pd
    from splink.internals.comparison_creator import ComparisonCreator
    from splink.internals.comparison_level_creator import ComparisonLevelCreator
    from splink.internals.database_api import DatabaseAPISubClass
    from splink.internals.linker import Linker
    from splink.internals.spark.database_api import SparkAPI

Say = Callable[[str], None]
DATE_DIFFERENCES: tuple[tuple[int, Literal["month", "year"]], ...] = (
    (1, "month"), (1, "year"), (10, "year"),
)  # fmt: skip

DUCKDB_MEMORY = "4GB"
"""DuckDB's memory for a linkage step (SVDUTY_LINKAGE_MEMORY overrides): beyond it, Splink's
blocked pairs spill to disk rather than take the machine's memory (DuckDB's default is 80%)."""

TRANSPOSED_SUFFIX = "_transposed"
"""The prepared column holding a date of birth with day and month swapped (when both could
be a month), beside the date itself."""

DERIVED_FROM = {
    "postcode_district": "substr(postcode, 1, length(postcode) - 4)",
    "year_of_birth": "substr(date_of_birth, 1, 4)",
}
"""Prepared columns cut from another, as SQL over the column they are cut from. Splink leaves
out of an EM session each comparison whose column its blocking rule reads; blocking on
`postcode_district` by name would leave the postcode comparison in, estimated from pairs that
all agree on the district, which pulls households (one surname, one postcode) into the match
class and drags date of birth's m toward its u (m of an exact date fell to 0.03 at a million
records a side). Training blocks on the expression instead; prediction keeps the column."""


@contextmanager
def backend(engine: str, spark_master: str = "local[*]") -> Iterator[DatabaseAPISubClass]:
    """Splink's backend for the workspace's engine: DuckDB in memory, spilling beyond
    DUCKDB_MEMORY, or the Spark session (on `spark_master`) checkpointing; either way to a
    folder of its own (it holds identifiers while Splink works), removed after."""
    import shutil
    import tempfile

    if engine not in ("duckdb", "spark"):
        raise EngineError(f"linkage: no Splink backend for engine {engine!r} (duckdb or spark)")
    folder = tempfile.mkdtemp(prefix="svduty-linkage-")
    if engine == "duckdb":
        import duckdb
        from splink import DuckDBAPI

        limit = os.environ.get("SVDUTY_LINKAGE_MEMORY", DUCKDB_MEMORY)
        con = duckdb.connect(config={"memory_limit": limit, "temp_directory": folder})
        try:
            yield DuckDBAPI(connection=con)
        finally:
            con.close()
            shutil.rmtree(folder, ignore_errors=True)
        return
    from splink import SparkAPI

    from svduty.spark_store import spark_session

    session = spark_session(spark_master)
    session.sparkContext.setCheckpointDir(folder)
    try:
        yield SparkAPI(spark_session=session)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


DATE_FORMATS = {"duckdb": "%Y-%m-%d", "spark": "yyyy-MM-dd"}
"""How each backend is told that prepared dates of birth are ISO text."""


def _comparison(comparison: Comparison, dialect: str) -> ComparisonCreator:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    column = comparison.columns[0]
    if comparison.kind == "dice":
        from svduty.linkage.dice import dice_comparison, require_duckdb

        require_duckdb(dialect)
        return dice_comparison(column.removesuffix(SUFFIX), column=column)
    if comparison.kind == "forename_surname":
        return cl.ForenameSurnameComparison(
            *comparison.columns,
            jaro_winkler_thresholds=list(comparison.option("jaro_winkler", (0.92, 0.88))),
        )
    if comparison.kind == "name":
        return cl.NameComparison(
            column, jaro_winkler_thresholds=list(comparison.option("jaro_winkler", (0.92, 0.88)))
        )
    if comparison.kind == "date_of_birth":
        transposed = column + TRANSPOSED_SUFFIX
        levels: list[ComparisonLevelCreator | dict[str, Any]] = [
            cll.NullLevel(column),
            cll.ExactMatchLevel(column).configure(label_for_charts="Exact match"),
            cll.ColumnsReversedLevel(column, transposed, symmetrical=True).configure(
                label_for_charts="Day and month transposed"
            ),
            cll.LevenshteinLevel(column, 1).configure(label_for_charts="One character differs"),
            *(
                cll.AbsoluteDateDifferenceLevel(
                    column, threshold=n, metric=unit, input_is_string=True,
                    datetime_format=DATE_FORMATS[dialect],
                ).configure(label_for_charts=f"Within {n} {unit}{'s' if n > 1 else ''}")
                for n, unit in DATE_DIFFERENCES
            ),
            cll.ElseLevel(),
        ]  # fmt: skip
        return cl.CustomComparison(
            levels,
            output_column_name=column,
            comparison_description="Date of birth: exact, day and month transposed, one "
            "character typed wrong, within a month, a year, ten years",
        )
    if comparison.kind == "postcode":
        return cl.PostcodeComparison(column)
    if comparison.kind == "exact":
        return cl.ExactMatch(column)
    if comparison.kind == "levenshtein":
        return cl.LevenshteinAtThresholds(column, [int(t) for t in comparison.option("thresholds")])
    if comparison.kind == "jaro_winkler":
        return cl.JaroWinklerAtThresholds(column, list(comparison.option("thresholds")))
    raise InputError(f"comparison kind {comparison.kind!r} is not known")


def settings(preset: Preset, dialect: str) -> dict[str, Any]:
    """Splink settings for the preset (no parameters yet), its SQL in the backend's dialect."""
    from splink import SettingsCreator, block_on

    creator = SettingsCreator(
        link_type=cast(Literal["link_only", "link_and_dedupe", "dedupe_only"], preset.link_type),
        unique_id_column_name="unique_id",
        comparisons=[_comparison(c, dialect) for c in preset.comparisons],
        blocking_rules_to_generate_predictions=[block_on(*rule) for rule in preset.blocking],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        additional_columns_to_retain=[],
    )
    return creator.create_settings_dict(sql_dialect_str=dialect)


@contextmanager
def quiet(say: Say) -> Iterator[None]:
    """Splink's warnings (a level seen too rarely to estimate) as progress lines; its info
    messages suppressed."""
    logger = logging.getLogger("splink")

    class Forward(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            words = record.getMessage().replace("-- WARNING --", "").split()
            text = " ".join(w for w in words if w != "WARNING:")
            say("splink: " + (text if len(text) < 240 else text[:237] + "..."))

    handler = Forward(logging.WARNING)
    previous, propagate = logger.level, logger.propagate
    logger.handlers, saved = [handler], logger.handlers
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield
    finally:
        logger.handlers, logger.level, logger.propagate = saved, previous, propagate


def _for_backend(api: DatabaseAPISubClass, frame: pd.DataFrame, name: str) -> Any:
    """The records as the backend takes them: DuckDB reads pandas, Bloom filters (base64 text)
    made BITSTRINGs with their counts of bits in a table of its connection; Spark is given the
    schema, which it cannot infer from a column no record fills."""
    filters = [str(c).removesuffix(SUFFIX) for c in frame.columns if str(c).endswith(SUFFIX)]
    if filters:
        from splink import DuckDBAPI

        from svduty.linkage.dice import bloom_input_sql, require_duckdb

        require_duckdb(api.sql_dialect.sql_dialect_str)
        con = cast(DuckDBAPI, api).duckdb_con
        con.register(f"{name}_text", frame)
        con.execute(
            f'CREATE TABLE "{name}_bloom" AS {bloom_input_sql(f"{name}_text", filters, text=True)}'
        )
        con.unregister(f"{name}_text")
        return f"{name}_bloom"
    if api.sql_dialect.sql_dialect_str != "spark":
        return frame
    from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

    def kind(column: str) -> Any:
        dtype = frame[column].dtype
        if dtype.kind in "iu":
            return LongType()
        return DoubleType() if dtype.kind == "f" else StringType()

    schema = StructType([StructField(c, kind(c), True) for c in frame.columns])
    rows = frame.astype(object).where(frame.notna(), None)
    texts = [c for c in frame.columns if isinstance(kind(c), StringType)]
    rows[texts] = rows[texts].map(lambda v: None if v is None else str(v))
    session = cast("SparkAPI", api).spark
    return session.createDataFrame(rows.values.tolist(), schema=schema)


def linker(
    api: DatabaseAPISubClass, tables: dict[str, pd.DataFrame], model: dict[str, Any]
) -> Linker:
    """A Splink linker over the prepared tables (one per source) with `model`'s settings."""
    import secrets

    from splink import Linker

    run = secrets.token_hex(4)  # a Spark session keeps tables registered by earlier steps
    registered = [
        api.register(
            _for_backend(api, frame, f"{name}_{run}"),
            dataset_display_name=name,
            table_name=f"{name}_{run}",
        )
        for name, frame in tables.items()
    ]
    if len(registered) == 1 and model["link_type"] == "link_and_dedupe":
        model = {**model, "link_type": "dedupe_only"}  # one source: the same pairs
    elif len(registered) == 1 and model["link_type"] == "link_only":
        raise InputError(f"a link_only preset links two or more sources; only {next(iter(tables))}")
    elif len(registered) > 1 and model["link_type"] == "dedupe_only":
        raise InputError("a dedupe_only preset links records of one source; this run has several")
    return Linker(registered, model, log_level=None)


def train(
    api: DatabaseAPISubClass, tables: dict[str, pd.DataFrame], preset: Preset, say: Say
) -> dict[str, Any]:
    """The trained model (Splink's settings with m and u probabilities) as a dict."""
    from splink import block_on

    with quiet(say):
        made = linker(api, tables, settings(preset, api.sql_dialect.sql_dialect_str))
        say(
            f"estimating the prior from {len(preset.prior_rules)} exact rule(s) "
            f"(recall {preset.prior_recall})"
        )
        made.training.estimate_probability_two_random_records_match(
            [block_on(*rule) for rule in preset.prior_rules], recall=preset.prior_recall
        )
        say(f"estimating u by random sampling ({preset.u_max_pairs:,} pairs, seed {preset.seed})")
        made.training.estimate_u_using_random_sampling(
            max_pairs=preset.u_max_pairs, seed=preset.seed
        )
        for rule in preset.em_blocking:
            say(f"estimating m by expectation maximisation on pairs agreeing on {', '.join(rule)}")
            made.training.estimate_parameters_using_expectation_maximisation(
                block_on(*(DERIVED_FROM.get(column, column) for column in rule)),
                estimate_without_term_frequencies=True,
            )
        model = made.misc.save_model_to_json()
    return json.loads(json.dumps(model))


def predict(
    api: DatabaseAPISubClass,
    tables: dict[str, pd.DataFrame],
    model: dict[str, Any],
    threshold_match_weight: float,
    say: Say,
) -> pd.DataFrame:
    """Pairs scoring at least the threshold: unique_id_l, unique_id_r, match_weight,
    match_probability (no identifier)."""
    with quiet(say):
        made = linker(api, tables, model)
        scored = made.inference.predict(threshold_match_weight=threshold_match_weight)
        frame = scored.as_pandas_dataframe()
    keep = ["unique_id_l", "unique_id_r", "match_weight", "match_probability"]
    return frame[keep]


def cluster(
    api: DatabaseAPISubClass,
    record_ids: pd.DataFrame,
    pairs: pd.DataFrame,
    threshold_match_weight: float,
    say: Say,
) -> pd.DataFrame:
    """Connected components of the pairs at the threshold: unique_id, cluster_id (the
    smallest unique_id of the cluster), every record included (alone, its own cluster)."""
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    with quiet(say):
        clustered = cluster_pairwise_predictions_at_threshold(
            record_ids[["unique_id"]],
            pairs[["unique_id_l", "unique_id_r", "match_weight", "match_probability"]],
            api,
            node_id_column_name="unique_id",
            threshold_match_weight=threshold_match_weight,
        ).as_pandas_dataframe()
    return clustered[["unique_id", "cluster_id"]]
