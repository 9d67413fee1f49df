"""A layered layout for model diagrams (pure Python, no Graphviz).

The classic Sugiyama steps, kept small:

1. layering: each box goes one layer below its lowest parent (longest path); an input box is
   pulled down to just above its first consumer, so a second input used late does not dangle;
2. long arrows get a waypoint in every layer they cross, so they route around boxes;
3. ordering: a few down and up sweeps sort each layer by the mean position of its neighbours
   (barycenter), which removes most crossings in multi-input and multi-output models;
4. placement: each box goes as close as possible to the mean of its parents without
   overlapping its neighbours.

Coordinates are in points (1/72 inch), origin at the bottom left.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Box", "Edge", "Layout", "layout_graph"]

LAYER_GAP = 36.0
"""Space between two layers of boxes (points)."""
BOX_GAP = 24.0
"""Space between two boxes of the same layer (points)."""
WAYPOINT_WIDTH = 8.0
"""Room reserved for a long arrow passing through a layer (points)."""
MARGIN = 12.0
SWEEPS = 4


@dataclass
class Box:
    """A box's rectangle: lower-left `(x0, y0)`, upper-right `(x1, y1)`, in points."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2)

    def overlaps(self, other: Box) -> bool:
        """Whether the two rectangles share some area (touching edges do not count)."""
        return (
            self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1
        )


@dataclass
class Edge:
    """An arrow from `source` to `target` through `points` (first and last on the boxes)."""

    source: str
    target: str
    points: list[tuple[float, float]]


@dataclass
class Layout:
    """Where every box and arrow goes, and the size of the whole drawing (points)."""

    boxes: dict[str, Box] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0


def _layers(ids: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering; sources pulled down next to their first consumer."""
    parents: dict[str, list[str]] = {i: [] for i in ids}
    children: dict[str, list[str]] = {i: [] for i in ids}
    for source, target in edges:
        children[source].append(target)
        parents[target].append(source)
    indegree = {i: len(parents[i]) for i in ids}
    queue = [i for i in ids if indegree[i] == 0]
    order: list[str] = []
    while queue:
        node = queue.pop(0)
        order.append(node)
        for child in children[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                queue.append(child)
    # A cycle cannot come from a Keras graph; keep any leftover nodes in model order.
    order += [i for i in ids if i not in set(order)]
    layer: dict[str, int] = {}
    for node in order:
        layer[node] = max((layer[p] + 1 for p in parents[node] if p in layer), default=0)
    for node in ids:
        if not parents[node] and children[node]:
            layer[node] = min(layer[c] for c in children[node]) - 1
    return layer


def layout_graph(
    ids: Sequence[str],
    sizes: dict[str, tuple[float, float]],
    edges: Sequence[tuple[str, str]],
    *,
    rankdir: str = "TB",
) -> Layout:
    """Place boxes of the given sizes in layers and route the arrows between them.

    Args:
        ids: box ids, in the model's order (used as the initial order within a layer).
        sizes: `(width, height)` of each box, in points.
        edges: `(source, target)` pairs.
        rankdir: `"TB"` (top to bottom), `"BT"`, `"LR"` (left to right) or `"RL"`.
            Defaults to `"TB"`.

    Returns:
        The `Layout`: one `Box` per id and one `Edge` per connection, none of the boxes
        overlapping.
    """
    horizontal = rankdir in ("LR", "RL")
    # Work in "breadth" (across layers) and "depth" (along the flow) coordinates.
    breadth = {i: (sizes[i][1] if horizontal else sizes[i][0]) for i in ids}
    depth_size = {i: (sizes[i][0] if horizontal else sizes[i][1]) for i in ids}
    layer_of = _layers(ids, edges)

    # Long edges become chains through waypoints, one per crossed layer.
    chains: list[tuple[str, str, list[str]]] = []
    rank_members: dict[int, list[str]] = {}
    for node in ids:
        rank_members.setdefault(layer_of[node], []).append(node)
    for index, (source, target) in enumerate(edges):
        waypoints = []
        for rank in range(layer_of[source] + 1, layer_of[target]):
            waypoint = f"\x00{index}:{rank}"
            layer_of[waypoint] = rank
            breadth[waypoint] = WAYPOINT_WIDTH
            rank_members.setdefault(rank, []).append(waypoint)
            waypoints.append(waypoint)
        chains.append((source, target, waypoints))
    up: dict[str, list[str]] = {n: [] for n in layer_of}
    down: dict[str, list[str]] = {n: [] for n in layer_of}
    for source, target, waypoints in chains:
        path = [source, *waypoints, target]
        for a, b in itertools.pairwise(path):
            down[a].append(b)
            up[b].append(a)

    ranks = sorted(rank_members)
    order = {rank: list(rank_members[rank]) for rank in ranks}
    _reduce_crossings(ranks, order, up, down)
    position = _place(ranks, order, up, breadth)

    # Depth coordinate of each layer: the tallest box of the layer sets its thickness.
    thickness = {
        rank: max((depth_size.get(n, 0.0) for n in order[rank]), default=0.0) for rank in ranks
    }
    depth_center: dict[int, float] = {}
    cursor = 0.0
    for rank in ranks:
        depth_center[rank] = cursor + thickness[rank] / 2
        cursor += thickness[rank] + LAYER_GAP

    def to_xy(b: float, d: float) -> tuple[float, float]:
        if rankdir == "LR":
            return d, -b
        if rankdir == "RL":
            return -d, -b
        if rankdir == "BT":
            return b, d
        return b, -d

    layout = Layout()
    for node in ids:
        b_pos, d_pos = position[node], depth_center[layer_of[node]]
        half_b, half_d = breadth[node] / 2, depth_size[node] / 2
        xa, ya = to_xy(b_pos - half_b, d_pos - half_d)
        xb, yb = to_xy(b_pos + half_b, d_pos + half_d)
        layout.boxes[node] = Box(min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb))

    for source, target, waypoints in chains:
        first_hop = waypoints[0] if waypoints else target
        start = _attach(
            source,
            first_hop,
            down[source],
            position,
            breadth,
            depth_center,
            layer_of,
            depth_size,
            outgoing=True,
        )
        end = _attach(
            target,
            waypoints[-1] if waypoints else source,
            up[target],
            position,
            breadth,
            depth_center,
            layer_of,
            depth_size,
            outgoing=False,
        )
        middle = [(position[w], depth_center[layer_of[w]]) for w in waypoints]
        points = [to_xy(b, d) for b, d in [start, *middle, end]]
        layout.edges.append(Edge(source, target, points))

    _shift_to_origin(layout)
    return layout


def _attach(
    node: str,
    other: str,
    neighbours: list[str],
    position: dict[str, float],
    breadth: dict[str, float],
    depth_center: dict[int, float],
    layer_of: dict[str, int],
    depth_size: dict[str, float],
    *,
    outgoing: bool,
) -> tuple[float, float]:
    """Where an arrow leaves (or enters) a box: spread along the side, ordered by neighbour."""
    ordered = sorted(set(neighbours), key=lambda n: position[n])
    slot = ordered.index(other) if other in ordered else 0
    width = breadth[node] * 0.8
    left = position[node] - width / 2
    b = left + width * (slot + 1) / (len(ordered) + 1)
    half = depth_size[node] / 2
    d = depth_center[layer_of[node]] + (half if outgoing else -half)
    return b, d


def _reduce_crossings(
    ranks: list[int],
    order: dict[int, list[str]],
    up: dict[str, list[str]],
    down: dict[str, list[str]],
) -> None:
    """Barycenter sweeps: sort each layer by the mean index of its neighbours."""
    for sweep in range(SWEEPS):
        downward = sweep % 2 == 0
        sequence = ranks[1:] if downward else list(reversed(ranks[:-1]))
        for rank in sequence:
            neighbour_rank = rank - 1 if downward else rank + 1
            if neighbour_rank not in order:
                continue
            index = {n: i for i, n in enumerate(order[neighbour_rank])}
            links = up if downward else down
            current = order[rank]

            def key(
                node: str, current: list[str] = current, links: dict = links, index: dict = index
            ) -> float:
                linked = [index[n] for n in links[node] if n in index]
                return sum(linked) / len(linked) if linked else float(current.index(node))

            order[rank] = sorted(current, key=key)


def _place(
    ranks: list[int],
    order: dict[int, list[str]],
    up: dict[str, list[str]],
    breadth: dict[str, float],
) -> dict[str, float]:
    """Breadth position of every node: near its parents' mean, never overlapping."""
    position: dict[str, float] = {}
    for rank in ranks:
        nodes = order[rank]
        desired = []
        cursor = 0.0
        for node in nodes:
            parents = [position[p] for p in up[node] if p in position]
            if parents:
                desired.append(sum(parents) / len(parents))
            else:
                desired.append(cursor + breadth[node] / 2)
            cursor += breadth[node] + BOX_GAP
        if not any(up[n] for n in nodes):
            # A layer of sources: centre it on the origin.
            shift = cursor / 2 - BOX_GAP / 2
            desired = [d - shift for d in desired]
        pushed_right = list(desired)
        for i in range(1, len(nodes)):
            gap = (breadth[nodes[i - 1]] + breadth[nodes[i]]) / 2 + BOX_GAP
            pushed_right[i] = max(pushed_right[i], pushed_right[i - 1] + gap)
        pushed_left = list(desired)
        for i in range(len(nodes) - 2, -1, -1):
            gap = (breadth[nodes[i]] + breadth[nodes[i + 1]]) / 2 + BOX_GAP
            pushed_left[i] = min(pushed_left[i], pushed_left[i + 1] - gap)
        # Both satisfy every spacing constraint, so their mean does too.
        for node, a, b in zip(nodes, pushed_right, pushed_left):
            position[node] = (a + b) / 2
    return position


def _shift_to_origin(layout: Layout) -> None:
    xs = [v for box in layout.boxes.values() for v in (box.x0, box.x1)]
    ys = [v for box in layout.boxes.values() for v in (box.y0, box.y1)]
    for edge in layout.edges:
        xs += [p[0] for p in edge.points]
        ys += [p[1] for p in edge.points]
    if not xs:
        return
    dx, dy = MARGIN - min(xs), MARGIN - min(ys)
    for box in layout.boxes.values():
        box.x0, box.x1, box.y0, box.y1 = box.x0 + dx, box.x1 + dx, box.y0 + dy, box.y1 + dy
    for edge in layout.edges:
        edge.points = [(x + dx, y + dy) for x, y in edge.points]
    layout.width = max(xs) - min(xs) + 2 * MARGIN
    layout.height = max(ys) - min(ys) + 2 * MARGIN
