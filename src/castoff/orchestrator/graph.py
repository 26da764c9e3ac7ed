"""Dependency-graph and task-tree checks (pure)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping


def find_cycle(edges: Iterable[tuple[str, str]]) -> list[str] | None:
    """A cycle in the directed graph ``edges`` as a closed path, or None."""
    succ: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        succ[a].append(b)
    white, grey, black = 0, 1, 2
    colour: dict[str, int] = defaultdict(int)
    for start in sorted(succ):
        if colour[start] != white:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = [start]
        colour[start] = grey
        while stack:
            node, i = stack[-1]
            nexts = succ.get(node, [])
            if i < len(nexts):
                stack[-1] = (node, i + 1)
                nxt = nexts[i]
                if colour[nxt] == grey:
                    return [*path[path.index(nxt) :], nxt]
                if colour[nxt] == white:
                    colour[nxt] = grey
                    stack.append((nxt, 0))
                    path.append(nxt)
            else:
                colour[node] = black
                stack.pop()
                path.pop()
    return None


def cycle_with(
    edges: Iterable[tuple[str, str]], task_id: str, depends_on: Iterable[str]
) -> list[str] | None:
    """The cycle that giving ``task_id`` the dependencies ``depends_on`` would close."""
    kept = [(a, b) for a, b in edges if a != task_id]
    return find_cycle([*kept, *((task_id, d) for d in depends_on)])


def parent_loop(parents: Mapping[str, str | None]) -> list[str] | None:
    """A loop in the parent links (each task → its parent), or None."""
    return find_cycle((child, parent) for child, parent in parents.items() if parent is not None)
