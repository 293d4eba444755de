"""svduty: a toolkit for Serious Violence Duty partnerships (England and Wales)."""

__version__ = "0.1.0"
