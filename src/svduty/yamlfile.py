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


MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted; svduty's files use fewer than ten levels."""
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader when PyYAML was built with it: safe types only, and fast."""


class Refused(yaml.YAMLError):
    """YAML that parses but that svduty will not load."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


def _refuse_hostile(text: str) -> None:
    """Refuse anchors and aliases, and nesting deeper than MAX_DEPTH, from the event stream,
    before any node is built. Aliases let a few lines expand to gigabytes (nine levels of nine
    aliases is 9^9 values) and nothing svduty reads needs them: every value is written where
    it is used."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise Refused(
                "anchors and aliases (& and *) are not accepted; write each value where it is used",
                event.start_mark,
            )
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise Refused(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _compose(path: Path, text: str) -> tuple[Any, yaml.Node | None]:
    """The document's data and its node tree; errors name the file and line."""
    try:
        _refuse_hostile(text)
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        if isinstance(error, Refused):
            raise InputError(f"{where}: refused: {error.problem}") from error
        raise InputError(f"{where}: not valid YAML ({getattr(error, 'problem', error)})") from error
    return data, node


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot be read ({error})") from error


def load_yaml(path: Path) -> Any:
    """A YAML file as plain Python, anchors and aliases refused with their line."""
    return _compose(path, _read(path))[0]


def load_located(path: Path) -> Located:
    data, node = _compose(path, _read(path))
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
