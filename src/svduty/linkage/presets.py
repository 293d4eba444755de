"""Linkage presets: which records to link, how to compare them, where to block, and the
threshold a pair must pass, as YAML files (shipped in `linkage/data/`, or a file of one's own).

A preset is data, free of SQL dialect: its comparisons are named kinds (a YAML key per Splink
comparison class) compiled into Splink settings when a model is made, so the same preset runs on
DuckDB and on Spark. Columns are those of the prepared records (`records.PREPARED_COLUMNS` for a
workspace's identifiers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from svduty.errors import InputError
from svduty.yamlfile import load_located

DEFAULT_PRESET = "multi-agency"
LINK_TYPES = ("link_only", "link_and_dedupe", "dedupe_only")
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # kind: (columns it names, its other keys)
    "forename_surname": (("forename", "surname"), ("jaro_winkler",)),
    "name": (("column",), ("jaro_winkler",)),
    "date_of_birth": (("column",), ()),
    "postcode": (("column",), ()),
    "exact": (("column",), ()),
    "levenshtein": (("column",), ("thresholds",)),
    "jaro_winkler": (("column",), ("thresholds",)),
}
"""The comparison kinds a preset may name: Splink's ForenameSurnameComparison, NameComparison,
a date-of-birth comparison with a transposed day and month, PostcodeComparison, ExactMatch,
LevenshteinAtThresholds and JaroWinklerAtThresholds."""

_KEYS = {
    "id", "description", "sources", "link_type", "threshold", "prior", "training", "blocking",
    "comparisons",
}  # fmt: skip


@dataclass(frozen=True)
class Comparison:
    kind: str
    columns: tuple[str, ...]
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)

    @property
    def name(self) -> str:
        return "_".join(self.columns)


@dataclass(frozen=True)
class Preset:
    id: str
    description: str
    path: Path
    sources: tuple[str, ...] | None  # None: every source with identifiers
    link_type: str
    threshold_match_weight: float
    threshold_why: str
    prior_rules: tuple[tuple[str, ...], ...]
    prior_recall: float
    u_max_pairs: int
    seed: int
    em_blocking: tuple[tuple[str, ...], ...]
    blocking: tuple[tuple[str, ...], ...]
    comparisons: tuple[Comparison, ...]

    @property
    def threshold_probability(self) -> float:
        return probability(self.threshold_match_weight)

    @property
    def columns(self) -> set[str]:
        """Every column the preset names."""
        named = {c for comparison in self.comparisons for c in comparison.columns}
        for rules in (self.prior_rules, self.em_blocking, self.blocking):
            named |= {c for rule in rules for c in rule}
        return named

    def keeping(self, present: set[str]) -> Preset:
        """The preset without the comparisons and rules naming a column no record holds."""
        from dataclasses import replace

        def kept(rules: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
            return tuple(r for r in rules if set(r) <= present)

        return replace(
            self,
            comparisons=tuple(c for c in self.comparisons if set(c.columns) <= present),
            prior_rules=kept(self.prior_rules),
            em_blocking=kept(self.em_blocking),
            blocking=kept(self.blocking),
        )


def probability(match_weight: float) -> float:
    """A match weight (log2 of the odds) as a probability."""
    return 1 / (1 + 2.0 ** (-match_weight))


def match_weight(probability_: float) -> float:
    return math.log2(probability_ / (1 - probability_))


def shipped() -> dict[str, Path]:
    """The presets shipped with svduty, by id (each file's name is its id)."""
    folder = resources.files("svduty.linkage") / "data"
    return {
        Path(entry.name).stem: Path(str(entry))
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    }


def load_preset(name: str | Path) -> Preset:
    """A shipped preset by id, or a preset file; every problem named with its line."""
    found = shipped()
    if isinstance(name, str) and name in found:
        path = found[name]
    elif Path(name).suffix in (".yaml", ".yml") and Path(name).is_file():
        path = Path(name)
    else:
        raise InputError(
            f"--preset: no preset {str(name)!r}; shipped presets: {', '.join(sorted(found))} "
            "(or give a preset's .yaml file)"
        )
    return _parse(path)


def _parse(path: Path) -> Preset:
    doc = load_located(path)
    raw = doc.data
    problems: list[str] = []

    def fail(key: tuple[str | int, ...], message: str) -> None:
        problems.append(f"{path}:{doc.line(key)}: {message}")

    if not isinstance(raw, dict):
        raise InputError(f"{path}: a preset is a mapping of keys ({', '.join(sorted(_KEYS))})")
    for key in raw:
        if key not in _KEYS:
            fail((key,), f"unknown key {key!r}; keys are {', '.join(sorted(_KEYS))}")
    for key in ("id", "link_type", "threshold", "prior", "training", "blocking", "comparisons"):
        if key not in raw:
            fail((), f"{key} is missing")
    if problems:
        raise InputError("; ".join(problems))

    link_type = raw["link_type"]
    if link_type not in LINK_TYPES:
        fail(("link_type",), f"link_type {link_type!r}: one of {', '.join(LINK_TYPES)}")
    sources = raw.get("sources", "all")
    if sources != "all" and not (
        isinstance(sources, list) and sources and all(isinstance(s, str) for s in sources)
    ):
        fail(("sources",), "sources: 'all' or a list of canonical tables")

    threshold = raw["threshold"] if isinstance(raw["threshold"], dict) else {}
    weight = _threshold(threshold, lambda message: fail(("threshold",), message))
    if not str(threshold.get("why", "")).strip():
        fail(("threshold",), "threshold: say why in threshold.why")

    prior = raw["prior"] if isinstance(raw["prior"], dict) else {}
    recall = prior.get("recall")
    if not isinstance(recall, int | float) or not 0 < recall <= 1:
        fail(("prior", "recall"), "prior.recall: a number above 0 and at most 1")
    training = raw["training"] if isinstance(raw["training"], dict) else {}
    for key in ("u_max_pairs", "seed"):
        if not isinstance(training.get(key), int) or training[key] < 0:
            fail(("training", key), f"training.{key}: a whole number")

    comparisons = []
    for index, item in enumerate(
        raw["comparisons"] if isinstance(raw["comparisons"], list) else []
    ):
        made = _comparison(item, lambda m, i=index: fail(("comparisons", i), m))
        if made is not None:
            comparisons.append(made)
    if not comparisons:
        fail(("comparisons",), "comparisons: at least one")

    def rules(key: tuple[str, ...], value: Any) -> tuple[tuple[str, ...], ...]:
        if not isinstance(value, list) or not value:
            fail(key, f"{'.'.join(key)}: a list of rules, each a list of columns")
            return ()
        made = []
        for index, rule in enumerate(value):
            if not isinstance(rule, list) or not rule or not all(isinstance(c, str) for c in rule):
                fail((*key, index), f"{'.'.join(key)}[{index}]: a list of column names")
            else:
                made.append(tuple(rule))
        return tuple(made)

    blocking = rules(("blocking",), raw["blocking"])
    em_blocking = rules(("training", "em_blocking"), training.get("em_blocking"))
    prior_rules = rules(("prior", "rules"), prior.get("rules"))
    if problems:
        raise InputError("; ".join(problems))
    return Preset(
        id=str(raw["id"]),
        description=" ".join(str(raw.get("description", "")).split()),
        path=path,
        sources=None if sources == "all" else tuple(sources),
        link_type=link_type,
        threshold_match_weight=weight,
        threshold_why=" ".join(str(threshold["why"]).split()),
        prior_rules=prior_rules,
        prior_recall=float(recall),  # type: ignore[arg-type]
        u_max_pairs=int(training["u_max_pairs"]),
        seed=int(training["seed"]),
        em_blocking=em_blocking,
        blocking=blocking,
        comparisons=tuple(comparisons),
    )


def _threshold(raw: dict[str, Any], fail: Any) -> float:
    given = [k for k in ("match_weight", "probability") if k in raw]
    if len(given) != 1:
        fail("threshold: give one of match_weight or probability")
        return 0.0
    return parse_threshold(raw[given[0]], given[0], fail)


def parse_threshold(value: Any, kind: str, fail: Any) -> float:
    """A threshold as a match weight; a probability is converted."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        fail(f"threshold {kind} {value!r}: a number")
        return 0.0
    if kind == "probability":
        if not 0 < value < 1:
            fail(f"threshold probability {value}: between 0 and 1 (exclusive)")
            return 0.0
        return match_weight(float(value))
    return float(value)


def _comparison(item: Any, fail: Any) -> Comparison | None:
    if not isinstance(item, dict) or item.get("kind") not in KINDS:
        fail(f"comparison: a mapping with kind one of {', '.join(KINDS)}")
        return None
    kind = item["kind"]
    named, other = KINDS[kind]
    unknown = set(item) - {"kind", *named, *other}
    if unknown:
        fail(f"{kind} comparison: unknown key(s) {', '.join(sorted(unknown))}")
    missing = [k for k in named if not isinstance(item.get(k), str)]
    if missing:
        fail(f"{kind} comparison: {', '.join(missing)} must name a column")
        return None
    for key in other:
        value = item.get(key)
        if value is not None and not (
            isinstance(value, list) and value and all(isinstance(v, int | float) for v in value)
        ):
            fail(f"{kind} comparison: {key} is a list of numbers")
            return None
    if kind in ("levenshtein", "jaro_winkler") and "thresholds" not in item:
        fail(f"{kind} comparison: thresholds is missing")
        return None
    return Comparison(
        kind=kind,
        columns=tuple(item[k] for k in named),
        options=tuple((k, tuple(item[k])) for k in other if k in item),
    )
