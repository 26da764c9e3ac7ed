"""Cycle detection over dependency edges (pure), including property-based checks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from castoff.orchestrator.graph import cycle_with, find_cycle, parent_loop

nodes = st.sampled_from([f"n{i}" for i in range(8)])
edge_lists = st.lists(st.tuples(nodes, nodes), max_size=25)


def _reachable(edges: list[tuple[str, str]], start: str, goal: str) -> bool:
    frontier, seen = [start], {start}
    while frontier:
        cur = frontier.pop()
        for a, b in edges:
            if a == cur:
                if b == goal:
                    return True
                if b not in seen:
                    seen.add(b)
                    frontier.append(b)
    return False


def test_acyclic_chain_has_no_cycle() -> None:
    """A chain is acyclic."""
    assert find_cycle([("a", "b"), ("b", "c")]) is None


def test_cycle_is_reported_as_closed_path() -> None:
    """A found cycle starts and ends at the same node."""
    cycle = find_cycle([("a", "b"), ("b", "c"), ("c", "a")])
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {"a", "b", "c"}


def test_cycle_with_replaces_the_tasks_old_edges() -> None:
    """Re-pointing a task's dependencies drops its old edges first."""
    edges = [("a", "b"), ("b", "c")]
    assert cycle_with(edges, "c", ["a"]) is not None
    assert cycle_with(edges, "a", ["c"]) is None


def test_parent_loop_detected() -> None:
    """A task that is its own grandparent is a loop."""
    assert parent_loop({"a": "b", "b": "a", "c": None}) is not None
    assert parent_loop({"a": "b", "b": None}) is None


@given(edge_lists)
def test_find_cycle_matches_reachability(edges: list[tuple[str, str]]) -> None:
    """A cycle exists exactly when some edge's head reaches its tail."""
    has_cycle = any(a == b or _reachable(edges, b, a) for a, b in edges)
    assert (find_cycle(edges) is not None) == has_cycle


@given(edge_lists)
def test_reported_cycle_uses_real_edges(edges: list[tuple[str, str]]) -> None:
    """Every step of a reported cycle is an edge of the graph."""
    cycle = find_cycle(edges)
    if cycle is not None:
        edge_set = set(edges)
        assert all((cycle[i], cycle[i + 1]) in edge_set for i in range(len(cycle) - 1))
