"""Expression trees: what a Calc question computes, one tool operation per inner node."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mentor_env.domains.scripted import Call

INFIX = {"add": "+", "subtract": "-", "multiply": "×", "divide": "÷", "sum_numbers": "+", "modulo": "mod", "power": "^"}


@dataclass
class Node:
    """A number (``op`` is ``None``) or a tool operation over child nodes."""

    op: str | None = None
    value: int | float | None = None
    children: list[Node] = field(default_factory=list)
    decimals: int = 0  # round_number only

    @property
    def is_leaf(self) -> bool:
        return self.op is None

    @property
    def operation(self) -> str:
        """The tool operation of an inner node."""
        if self.op is None:
            raise ValueError(f"a leaf ({self.value}) has no operation")
        return self.op

    def count_ops(self) -> int:
        return 0 if self.is_leaf else 1 + sum(child.count_ops() for child in self.children)

    def call(self) -> Call:
        """The tool call of this operation; its operands are numbers or the calls that compute them."""
        return Call(
            self.operation, self.arguments([child.value if child.is_leaf else child.call() for child in self.children])
        )

    def arguments(self, values: list[Any]) -> dict[str, Any]:
        if self.op == "sum_numbers":
            return {"numbers": values}
        if self.op == "power":
            return {"base": values[0], "exponent": values[1]}
        if self.op == "round_number":
            return {"x": values[0], "decimals": self.decimals}
        if len(values) == 1:
            return {"x": values[0]}
        return {"a": values[0], "b": values[1]}


def leaf(value: int | float) -> Node:
    return Node(value=value)


def op(name: str, *children: Node, decimals: int = 0) -> Node:
    return Node(op=name, children=list(children), decimals=decimals)


def flatten_sums(node: Node) -> Node:
    """Merge nested additions into one ``sum_numbers`` (fewer calls, as a strong model would)."""
    node.children = [flatten_sums(child) for child in node.children]
    if node.op in ("add", "sum_numbers"):
        terms: list[Node] = []
        for child in node.children:
            terms.extend(child.children if child.op in ("add", "sum_numbers") else [child])
        node.children = terms
        node.op = "add" if len(terms) == 2 else "sum_numbers"
    return node
