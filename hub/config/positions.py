"""YAML with positions: plain data plus the line and column of every key and value.

Validation errors must point at the place in the file a person edits (``deploy.yaml:14:7``), so
the loader keeps PyYAML's node marks for every path. Duplicate keys are an error here (PyYAML
silently keeps the last one, which hides a half-edited file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["Located", "Position", "YamlError", "load_located"]

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based


class YamlError(ValueError):
    """The text is not valid YAML; carries the position of the problem."""

    def __init__(self, message: str, position: Position) -> None:
        super().__init__(message)
        self.position = position


@dataclass
class Located:
    """The loaded data and where each path starts (keys map to the key's position)."""

    data: Any
    positions: dict[Path, Position] = field(default_factory=dict)
    key_positions: dict[Path, Position] = field(default_factory=dict)

    def position_of(self, path: Path, *, key: bool = False) -> Position:
        """The closest known position of ``path``: its own, else its nearest ancestor's."""
        table = self.key_positions if key else self.positions
        for cut in range(len(path), -1, -1):
            prefix = path[:cut]
            if prefix in table:
                return table[prefix]
            if prefix in self.positions:
                return self.positions[prefix]
        return Position(1, 1)


def _mark(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def _construct(node: yaml.Node, path: Path, located: Located, loader: yaml.SafeLoader) -> Any:
    located.positions[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | bool) or key is None:
                raise YamlError(f"mapping keys must be plain scalars, not {key!r}", _mark(key_node))
            key = str(key)
            if key in result:
                raise YamlError(f"duplicate key {key!r}", _mark(key_node))
            located.key_positions[(*path, key)] = _mark(key_node)
            result[key] = _construct(value_node, (*path, key), located, loader)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), located, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_located(text: str) -> Located:
    """Parse ``text`` (one YAML document) into data with positions."""
    located = Located(data=None)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            located.data = {}
            return located
        located.data = _construct(node, (), located, loader)
        return located
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        position = Position(mark.line + 1, mark.column + 1) if mark else Position(1, 1)
        raise YamlError(str(exc.problem or exc), position) from None
    finally:
        loader.dispose()
