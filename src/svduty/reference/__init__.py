"""Reference data bundled with svduty: areas, police forces and Home Office offence codes."""

from importlib import resources
from pathlib import Path

CATEGORIES: tuple[str, ...] = (
    "Anti-social behaviour",
    "Bicycle theft",
    "Burglary",
    "Criminal damage and arson",
    "Drugs",
    "Other crime",
    "Other theft",
    "Possession of weapons",
    "Public order",
    "Robbery",
    "Shoplifting",
    "Theft from the person",
    "Vehicle crime",
    "Violence and sexual offences",
)
"""data.police.uk crime types since May 2013."""

LEGACY_CATEGORIES: tuple[str, ...] = ("Violent crime", "Public disorder and weapons")
"""Crime types used before May 2013 (see domain notes); kept as published."""


def data_path(name: str) -> Path:
    return Path(str(resources.files("svduty.reference") / "data" / name))
