"""Serious-violence definitions held as data: YAML -> frozen model -> engine expressions."""

from svduty.definitions.loader import load_definition, shipped_definitions
from svduty.definitions.model import Clause, Definition

__all__ = ["Clause", "Definition", "load_definition", "shipped_definitions"]
