"""Identifier fields and how each is normalised before it is hashed into a person key.

Two agencies write one person differently ("O'Brien" and "OBRIEN", "José" and "JOSE", "b1 1aa"
and "B11AA"); the rules below make such spellings equal, so their keys meet. They are written as
SQL, run by the engine over whole files at once (a Python function per row costs several times
more on a million rows); the same expressions serve ingest and `svduty pseudonymise`, so a key
made at an agency equals the key svduty makes from the clear identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass


def sql_text(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class IdentifierField:
    name: str
    kind: str  # name, date, sex, postcode, digits, code, text
    help: str


IDENTIFIER_FIELDS: tuple[IdentifierField, ...] = (
    IdentifierField("forename", "name", "Forename (first name; other given names may follow)."),
    IdentifierField("surname", "name", "Surname (family name)."),
    IdentifierField("date_of_birth", "date", "Date of birth, in the column's 'format'."),
    IdentifierField("sex", "sex", "Sex as recorded (its first letter is compared)."),
    IdentifierField("postcode", "postcode", "Postcode of residence."),
    IdentifierField("nhs_number", "digits", "NHS number."),
    IdentifierField("pnc_id", "pnc", "Police National Computer ID, e.g. 2001/0123456A."),
    IdentifierField("upn", "code", "Unique pupil number (schools)."),
    IdentifierField("local_id", "text", "The agency's own person identifier."),
)
FIELDS = {f.name: f for f in IDENTIFIER_FIELDS}
DEFAULT_DATE_FORMAT = "%Y-%m-%d"

RULES: dict[str, str] = {
    "name": "letters folded to A-Z without accents (ß as SS, Æ as AE, Ø as O, Œ as OE, Ł as L, "
    "Đ and Ð as D, Þ as TH), upper-cased; every other character (spaces, hyphens, apostrophes, "
    "digits) removed",
    "date": "read with the column's format and written as ISO 8601 (YYYY-MM-DD)",
    "sex": "the first letter, upper-cased (Male, M and m are M)",
    "postcode": "upper-cased, everything but letters and digits removed (b1 1aa is B11AA)",
    "digits": "digits only (485 777 3456 is 4857773456)",
    "pnc": "upper-cased, everything but letters, digits and '/' removed",
    "code": "upper-cased, everything but letters and digits removed",
    "text": "spaces at either end removed; otherwise as written",
}
"""The normalisation of each kind of identifier, as the documentation states it."""

_FOLDS = (
    ("ß", "SS"), ("ẞ", "SS"), ("Æ", "AE"), ("æ", "AE"), ("Ø", "O"), ("ø", "O"),
    ("Œ", "OE"), ("œ", "OE"), ("Ł", "L"), ("ł", "L"), ("Đ", "D"), ("đ", "D"),
    ("Ð", "D"), ("ð", "D"), ("Þ", "TH"), ("þ", "TH"), ("ı", "I"),
)  # fmt: skip
"""Letters that are not a base letter with an accent, so accent stripping leaves them."""


def _keep(sql: str, allowed: str) -> str:
    return f"nullif(regexp_replace({sql}, '[^{allowed}]+', '', 'g'), '')"


def normalised_sql(kind: str, raw: str, fmt: str | None = None) -> str:
    """SQL for the normalised value of an identifier of `kind` from `raw` (SQL giving the
    trimmed text or NULL); NULL when nothing is left."""
    if kind == "name":
        folded = raw
        for letter, plain in _FOLDS:
            folded = f"replace({folded}, {sql_text(letter)}, {sql_text(plain)})"
        return _keep(f"upper(strip_accents({folded}))", "A-Z")
    if kind == "date":
        return f"strftime(try_strptime({raw}, {sql_text(fmt or DEFAULT_DATE_FORMAT)}), '%Y-%m-%d')"
    if kind == "sex":
        return f"left({_keep(f'upper({raw})', 'A-Z')}, 1)"
    if kind in ("postcode", "code"):
        return _keep(f"upper({raw})", "A-Z0-9")
    if kind == "pnc":
        return _keep(f"upper({raw})", "A-Z0-9/")
    if kind == "digits":
        return _keep(raw, "0-9")
    if kind == "text":
        return f"nullif(trim({raw}), '')"
    raise ValueError(f"no normalisation for identifier kind {kind!r}")
