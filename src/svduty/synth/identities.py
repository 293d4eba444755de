"""Synthetic people and the way agencies record them, for testing linkage.

A population holds each synthetic person's true identity (forename, surname, date of birth, sex,
postcode, with a previous postcode and a surname they may change to) and a propensity to come
to agencies' notice. Each time an agency records a person, the record may differ from the
truth the way real records do: a keyboard typo, a nickname, day and month of birth swapped or
the date missing, a changed surname, a missing or old postcode. Each error has its rate per
recorded occurrence below (assumptions, of the order reported for administrative records in
England; none is a published figure for any one agency), and every record says which errors it
carries, so a linkage's misses can be explained.

Names come from the lists in `profiles/` (see `profiles/names-PROVENANCE.md`): identities are
put together at random, so none is a real person's. Everything here is synthetic.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

TYPO_RATE = 0.03
"""A keyboard typo in the forename, and independently in the surname, per occurrence."""
NICKNAME_RATE = 0.10
"""The forename recorded as a nickname (Robert as Bob), among people whose name has one."""
DOB_SWAP_RATE = 0.02
"""Day and month of birth swapped, among dates where both are 12 or less and differ."""
DOB_MISSING_RATE = 0.02
"""No date of birth recorded."""
SURNAME_CHANGE_RATE = 0.05
"""A woman of 18 or more recorded under a changed surname (marriage, divorce)."""
POSTCODE_MISSING_RATE = 0.05
"""No postcode recorded."""
POSTCODE_OLD_RATE = 0.08
"""A previous postcode recorded (the person has moved), among records that have one."""

RATES: dict[str, float] = {
    "forename_typo": TYPO_RATE,
    "surname_typo": TYPO_RATE,
    "nickname": NICKNAME_RATE,
    "dob_swapped": DOB_SWAP_RATE,
    "dob_missing": DOB_MISSING_RATE,
    "surname_changed": SURNAME_CHANGE_RATE,
    "postcode_missing": POSTCODE_MISSING_RATE,
    "postcode_old": POSTCODE_OLD_RATE,
}
"""Every error, with its rate among the occurrences it can happen to (see `eligible`)."""

FORENAME_TAIL_SHARE = 0.12
"""People given a name from the `any` rows of forenames.csv rather than their period's list."""
COMMON_SURNAME_SHARE = 0.25
"""People with one of the hundred most common surnames (about a quarter in England and Wales)."""
DOUBLE_BARRELLED_SHARE = 0.01
"""People whose surname joins two with a hyphen."""
PEOPLE_PER_POSTCODE = 15
"""About how many people share a unit postcode."""
SAME_DISTRICT_MOVE = 0.7
"""Share of moves within the postcode district (the rest are from anywhere in the area)."""
RECORD_COLUMNS = ("forename", "surname", "date_of_birth", "sex", "postcode")

_PERIODS = ((1964, "1935-1964"), (1984, "1965-1984"), (2004, "1985-2004"), (9999, "2005-2024"))
_INWARD_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))
_PREFIXES = (
    "Ash", "Black", "Brad", "Brom", "Cald", "Chad", "Craw", "Dun", "Eld", "Fair", "Farn", "Gold",
    "Hal", "Hart", "Hay", "Holl", "Kings", "Lang", "Lind", "Mar", "Mil", "Nor", "Oak", "Pen",
    "Red", "Rush", "Sand", "Shel", "Stan", "Thorn", "Wad", "Wake", "West", "Whit", "Wood", "Yar",
    "Bark", "Birch", "Brook", "Bur", "Cot", "Dal", "East", "Fern", "Glen", "Green", "Hol", "Lid",
    "Moss", "Ned", "Pick", "Rad", "Sel", "Ship", "Stock", "Sut", "Wal", "Wins",
)  # fmt: skip
_SUFFIXES = (
    "by", "croft", "dale", "den", "field", "ford", "ham", "hurst", "ley", "low", "more", "ridge",
    "ston", "ton", "well", "wick", "worth", "wood", "cott", "bury", "burn", "combe", "hall",
    "land", "thwaite", "stead",
)  # fmt: skip
_IRISH = ("O'Brien", "O'Neill", "O'Connor", "O'Sullivan", "McCarthy", "MacDonald", "McKenzie")
_KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _profiles() -> Path:
    return Path(str(resources.files("svduty.synth") / "profiles"))


def _rows(name: str) -> list[dict[str, str]]:
    with (_profiles() / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@dataclass(frozen=True)
class Names:
    """The name lists as arrays, with sampling weights by rank."""

    forenames: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]
    """(sex, period) -> names, weights; period `any` is the shared tail."""
    surnames: np.ndarray
    surname_weights: np.ndarray
    nicknames: dict[str, np.ndarray]
    districts: dict[str, np.ndarray]
    """Local authority code -> its postcode districts."""


RANK_OFFSET = 10
"""Names are weighted 1/(rank + RANK_OFFSET): a Zipf law flattened at the top, so the most
common name holds a few per cent of people, as in England and Wales."""


def _zipf(n: int, after: int = 0) -> np.ndarray:
    """Weights of ranks after+1 .. after+n, summing to one."""
    weights = 1.0 / (np.arange(after + 1, after + n + 1) + RANK_OFFSET)
    return weights / weights.sum()


@cache
def names() -> Names:
    """The bundled lists, read once."""
    grouped: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for row in _rows("forenames.csv"):
        grouped.setdefault((row["sex"], row["born"]), []).append(
            (int(row["rank"]), row["forename"])
        )
    forenames = {}
    for key, ranks in grouped.items():
        listed = np.array([name for _, name in sorted(ranks)], dtype=object)
        forenames[key] = (listed, _zipf(len(listed)))
    common = [r["surname"] for r in sorted(_rows("surnames.csv"), key=lambda r: int(r["rank"]))]
    built = [p + s for p in _PREFIXES for s in _SUFFIXES] + list(_IRISH)
    built = [built[i] for i in np.random.default_rng(0).permutation(len(built))]
    surnames = np.array(common + built, dtype=object)
    weights = np.concatenate(
        [
            _zipf(len(common)) * COMMON_SURNAME_SHARE,
            _zipf(len(built), after=len(common)) * (1 - COMMON_SURNAME_SHARE),
        ]
    )
    nicknames: dict[str, list[str]] = {}
    for row in _rows("nicknames.csv"):
        nicknames.setdefault(row["forename"], []).append(row["nickname"])
    districts: dict[str, list[str]] = {}
    for row in _rows("postcode-districts.csv"):
        districts.setdefault(row["la_code"], []).append(row["postcode_district"])
    return Names(
        forenames,
        surnames,
        weights / weights.sum(),
        {k: np.array(v, dtype=object) for k, v in nicknames.items()},
        {k: np.array(v, dtype=object) for k, v in districts.items()},
    )


@dataclass(frozen=True)
class Population:
    """Synthetic people's true identities, one row per person (index = person id)."""

    forename: np.ndarray
    surname: np.ndarray
    born: np.ndarray
    """Dates of birth, datetime64[D]."""
    female: np.ndarray
    postcode: np.ndarray
    previous_postcode: np.ndarray
    changed_surname: np.ndarray
    """The surname a person is recorded under when it has changed."""
    propensity: np.ndarray
    """Relative chance of being the person an agency records (see `draw`)."""

    def __len__(self) -> int:
        return len(self.forename)

    def frame(self) -> pd.DataFrame:
        """The true identities, as the truth file holds them."""
        return pd.DataFrame(
            {
                "person_id": np.arange(len(self)),
                "forename": self.forename,
                "surname": self.surname,
                "date_of_birth": np.datetime_as_string(self.born, unit="D"),
                "sex": np.where(self.female, "F", "M"),
                "postcode": self.postcode,
            }
        )


def births(rng: np.random.Generator, n: int, first: date, last: date) -> np.ndarray:
    """Dates of birth spread evenly from `first` to `last`."""
    low, high = np.datetime64(first, "D"), np.datetime64(last, "D")
    span = int((high - low).astype(int)) + 1
    return low + rng.integers(0, span, n).astype("timedelta64[D]")


def population(
    rng: np.random.Generator,
    born: np.ndarray,
    female: np.ndarray,
    la_codes: np.ndarray,
    propensity_sigma: float = 1.0,
) -> Population:
    """People with the given dates of birth, sexes and local authorities of residence (codes of
    postcode-districts.csv); names, postcodes and propensities drawn here. Propensities are
    lognormal with log-scale spread `propensity_sigma`: the larger, the more a few people
    recur."""
    lists = names()
    n = len(born)
    forename = np.empty(n, dtype=object)
    year = born.astype("datetime64[Y]").astype(int) + 1970
    period = np.select(
        [year <= top for top, _ in _PERIODS[:-1]],
        [label for _, label in _PERIODS[:-1]],
        _PERIODS[-1][1],
    )
    tail = rng.random(n) < FORENAME_TAIL_SHARE
    for sex, is_female in (("female", True), ("male", False)):
        for _, label in _PERIODS:
            rows = np.flatnonzero((female == is_female) & (period == label) & ~tail)
            listed, weights = lists.forenames[(sex, label)]
            forename[rows] = listed[rng.choice(len(listed), len(rows), p=weights)]
        rows = np.flatnonzero((female == is_female) & tail)
        listed, weights = lists.forenames[(sex, "any")]
        forename[rows] = listed[rng.choice(len(listed), len(rows), p=weights)]
    surname = _surnames(rng, n)
    postcode, previous = _postcodes(rng, la_codes)
    return Population(
        forename=forename,
        surname=surname,
        born=born,
        female=female,
        postcode=postcode,
        previous_postcode=previous,
        changed_surname=_surnames(rng, n),
        propensity=rng.lognormal(0.0, propensity_sigma, n),
    )


def _surnames(rng: np.random.Generator, n: int) -> np.ndarray:
    lists = names()
    chosen = lists.surnames[rng.choice(len(lists.surnames), n, p=lists.surname_weights)]
    double = np.flatnonzero(rng.random(n) < DOUBLE_BARRELLED_SHARE)
    second = lists.surnames[rng.choice(len(lists.surnames), len(double), p=lists.surname_weights)]
    chosen[double] = [f"{a}-{b}" for a, b in zip(chosen[double], second, strict=True)]
    return chosen


def _postcodes(rng: np.random.Generator, la_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A unit postcode in a district of each person's authority, and a previous one: in the
    same district (SAME_DISTRICT_MOVE of moves) or anyone's postcode."""
    lists = names()
    n = len(la_codes)
    postcode = np.empty(n, dtype=object)
    previous = np.empty(n, dtype=object)
    codes, authorities = pd.factorize(la_codes)
    for number, la in enumerate(authorities):
        if la not in lists.districts:
            known = ", ".join(sorted(lists.districts))
            raise ValueError(f"no postcode districts for {la!r} (postcode-districts.csv: {known})")
        rows = np.flatnonzero(codes == number)
        districts = lists.districts[la]
        district = rng.integers(0, len(districts), len(rows))
        for d, name in enumerate(districts):
            mine = rows[district == d]
            units = _units(rng, str(name), max(20, len(mine) // PEOPLE_PER_POSTCODE))
            postcode[mine] = units[rng.integers(0, len(units), len(mine))]
            previous[mine] = units[rng.integers(0, len(units), len(mine))]
    far = np.flatnonzero(rng.random(n) >= SAME_DISTRICT_MOVE)
    previous[far] = postcode[rng.integers(0, n, len(far))]
    return postcode, previous


def _units(rng: np.random.Generator, district: str, count: int) -> np.ndarray:
    sector = rng.integers(0, 10, count)
    letters = _INWARD_LETTERS[rng.integers(0, len(_INWARD_LETTERS), (count, 2))]
    return np.array(
        [f"{district} {s}{a}{b}" for s, (a, b) in zip(sector, letters, strict=True)], dtype=object
    )


_SEX_STEP = 1_000_000
"""Spaces the two sexes apart in `Pool` keys (dates of birth are days from 1970, far less)."""


class Pool:
    """People sorted by sex then date of birth, with their cumulative propensities: the people
    a record can be (its sex, born within a range) are one slice, and a draw weighted by
    propensity is one search, for any number of records at once."""

    def __init__(self, people: Population) -> None:
        self.people = people
        self.order = np.lexsort((people.born, people.female))
        self.keys = self._key(people.female[self.order], people.born[self.order])
        self.cumulative = np.r_[0.0, np.cumsum(people.propensity[self.order])]

    @staticmethod
    def _key(female: np.ndarray, day: np.ndarray) -> np.ndarray:
        return female.astype(np.int64) * _SEX_STEP + day.astype("datetime64[D]").astype(np.int64)

    def draw(
        self, rng: np.random.Generator, female: np.ndarray, low: np.ndarray, high: np.ndarray
    ) -> np.ndarray:
        """For each record, a person of its sex born from `low` to `high` (inclusive), chosen
        with chance proportional to propensity; -1 where nobody is."""
        first = np.searchsorted(self.keys, self._key(female, low), side="left")
        end = np.searchsorted(self.keys, self._key(female, high), side="right")
        start, stop = self.cumulative[first], self.cumulative[end]
        target = start + rng.random(len(first)) * (stop - start)
        at = np.searchsorted(self.cumulative, target, side="right") - 1
        at = np.clip(at, first, np.maximum(end - 1, first))
        found = end > first
        chosen = np.full(len(first), -1, dtype=np.int64)
        chosen[found] = self.order[at[found]]
        return chosen


def eligible(people: Population, who: np.ndarray, on: np.ndarray) -> dict[str, np.ndarray]:
    """Which occurrences each error can happen to (the rest are always eligible)."""
    born = people.born[who]
    month = born.astype("datetime64[M]").astype(int) % 12 + 1
    day = (born - born.astype("datetime64[M]")).astype(int) + 1
    adult = born <= (on.astype("datetime64[D]") - np.timedelta64(18 * 365 + 4, "D"))
    has_nickname = pd.Series(people.forename[who]).isin(set(names().nicknames)).to_numpy()
    return {
        "nickname": has_nickname,
        "dob_swapped": (day <= 12) & (day != month),
        "surname_changed": people.female[who] & adult,
    }


def recorded(
    rng: np.random.Generator, people: Population, who: np.ndarray, on: np.ndarray | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """How an agency records each person in `who` (person ids, one per occurrence) on dates
    `on` (default 2025-01-01): the record's identifiers, and which errors each carries."""
    n = len(who)
    when = np.full(n, np.datetime64("2025-01-01", "D")) if on is None else on
    can = eligible(people, who, when)
    errors = {}
    for error, rate in RATES.items():
        hit = rng.random(n) < rate
        errors[error] = hit & can[error] if error in can else hit
    errors["dob_swapped"] &= ~errors["dob_missing"]
    errors["postcode_old"] &= ~errors["postcode_missing"]

    forename = people.forename[who].copy()
    nick = np.flatnonzero(errors["nickname"])
    lists = names()
    pick = rng.random(len(nick))
    forename[nick] = [
        lists.nicknames[name][int(u * len(lists.nicknames[name]))]
        for name, u in zip(forename[nick], pick, strict=True)
    ]
    surname = np.where(errors["surname_changed"], people.changed_surname[who], people.surname[who])
    forename = _typos(rng, forename, errors["forename_typo"])
    surname = _typos(rng, surname, errors["surname_typo"])

    born = people.born[who]
    days, where = np.unique(born, return_inverse=True)  # a few thousand dates, formatted once
    text = np.datetime_as_string(days, unit="D").astype(object)[where]
    swap = np.flatnonzero(errors["dob_swapped"])
    text[swap] = [f"{t[:4]}-{t[8:10]}-{t[5:7]}" for t in text[swap]]
    text[errors["dob_missing"]] = None
    postcode = np.where(errors["postcode_old"], people.previous_postcode[who], people.postcode[who])
    postcode[errors["postcode_missing"]] = None
    records = pd.DataFrame(
        {
            "forename": forename,
            "surname": surname,
            "date_of_birth": text,
            "sex": np.where(people.female[who], "F", "M"),
            "postcode": postcode,
        }
    )
    return records, pd.DataFrame(errors)


def _typos(rng: np.random.Generator, values: np.ndarray, hit: np.ndarray) -> np.ndarray:
    """One keyboard slip in each chosen value: a letter replaced by a neighbouring key, dropped,
    doubled, or swapped with the next."""
    out = values.copy()
    rows = np.flatnonzero(hit)
    kinds = rng.integers(0, 4, len(rows))
    places = rng.random(len(rows))
    sides = rng.random(len(rows))
    out[rows] = [
        _slip(str(v), int(k), p, s)
        for v, k, p, s in zip(values[rows], kinds, places, sides, strict=True)
    ]
    return out


def _neighbours(letter: str) -> str:
    low = letter.lower()
    for r, row in enumerate(_KEYBOARD):
        c = row.find(low)
        if c < 0:
            continue
        near = [row[i] for i in (c - 1, c + 1) if 0 <= i < len(row)]
        for other in (r - 1, r + 1):
            if 0 <= other < len(_KEYBOARD):
                near += [_KEYBOARD[other][i] for i in (c, c + 1) if i < len(_KEYBOARD[other])]
        return "".join(near)
    return low


def _slip(value: str, kind: int, place: float, side: float) -> str:
    """The value with one slip (kind 0 replace, 1 drop, 2 double, 3 swap two different
    neighbours) at or near a letter chosen by `place`; a name of one letter is only doubled."""
    if len(value) < 2:
        return value + value
    i = min(int(place * len(value)), len(value) - 1)
    letter = value[i]
    if kind == 0:
        near = _neighbours(letter)
        new = near[int(side * len(near))]
        return value[:i] + (new.upper() if letter.isupper() else new) + value[i + 1 :]
    if kind == 1:
        return value[:i] + value[i + 1 :]
    if kind == 2:
        return value[: i + 1] + letter.lower() + value[i + 1 :]
    pairs = [k for k in range(len(value) - 1) if value[k].lower() != value[k + 1].lower()]
    if not pairs:  # "Aa": nothing to swap, so a letter doubled
        return value + value[-1]
    j = min(pairs, key=lambda k: abs(k - i))
    swapped = value[j + 1] + value[j]
    if value[j].isupper():
        swapped = swapped.capitalize()
    return value[:j] + swapped + value[j + 2 :]


def identity_pairs(
    n_left: int, n_right: int, overlap: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two files of people to link: each person once in a file, `overlap` of the smaller file's
    people in both, each record with its own errors. Returns left, right (record_id, forename,
    surname, date_of_birth as ISO text, sex, postcode) and truth (left_id, right_id: the pairs
    that are one person)."""
    if not 0 <= overlap <= 1:
        raise ValueError(f"overlap is a share from 0 to 1, not {overlap}")
    shared = round(overlap * min(n_left, n_right))
    total = n_left + n_right - shared
    rng = np.random.default_rng([seed, 1])
    born = births(rng, total, date(1935, 1, 1), date(2012, 12, 31))
    female = rng.random(total) < 0.5
    areas = np.array(sorted(names().districts), dtype=object)
    people = population(rng, born, female, areas[rng.integers(0, len(areas), total)])
    left_people = rng.permutation(n_left)
    right_people = rng.permutation(np.r_[np.arange(shared), np.arange(n_left, total)])
    left, _ = recorded(np.random.default_rng([seed, 2]), people, left_people)
    right, _ = recorded(np.random.default_rng([seed, 3]), people, right_people)
    left.insert(0, "record_id", np.arange(n_left))
    right.insert(0, "record_id", np.arange(n_right))
    where_left = np.empty(total, dtype=np.int64)
    where_left[left_people] = np.arange(n_left)
    in_both = right_people < shared
    truth = pd.DataFrame(
        {
            "left_id": where_left[right_people[in_both]],
            "right_id": np.flatnonzero(in_both),
        }
    ).sort_values("left_id", ignore_index=True)
    return left, right, truth
