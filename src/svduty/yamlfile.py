"""YAML files that remember where each value was written, so every problem can name its line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from svduty.errors import InputError

Key = tuple[str | int, ...]


@dataclass
class Located:
    """A YAML document as plain Python, with the line of every key and list item."""

    path: Path
    data: Any
    lines: dict[Key, int]

    def line(self, key: Key) -> int:
        while key and key not in self.lines:
            key = key[:-1]
        return self.lines.get(key, 1)


def load_located(path: Path) -> Located:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot be read ({error})") from error
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise InputError(f"{where}: not valid YAML ({getattr(error, 'problem', error)})") from error
    lines: dict[Key, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return Located(path, data, lines)


def _walk(node: yaml.Node, key: Key, lines: dict[Key, int]) -> None:
    lines.setdefault(key, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*key, key_node.value)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*key, index), lines)


@dataclass
class Problems:
    """Collects every problem in a file, then raises them together."""

    source: Located
    found: list[tuple[int, str]] = field(default_factory=list)

    def add(self, key: Key, message: str) -> None:
        self.found.append((self.source.line(key), message))

    def raise_if_any(self, what: str) -> None:
        if self.found:
            listing = "\n".join(
                f"  {self.source.path}:{line}: {message}" for line, message in sorted(self.found)
            )
            raise InputError(
                f"{self.source.path}: {len(self.found)} problem(s) in this {what}:\n{listing}"
            )
