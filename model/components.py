"""Connected components of an ink mask (:func:`label_components`) and what is measured on them: boxes,
overlaps, merging, and the least height of a digit (:func:`least_height`). Numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MIN_DIGIT_HEIGHT = 0.04  # of the working image's size (the side of a square as large): shorter marks are specks
MIN_DIGIT_PIXELS = 6  # ... and never shorter than this many working pixels
MIN_DIGIT_SHARE = 0.35  # ... nor than this share of the tallest mark


@dataclass(frozen=True)
class _Runs:
    """The horizontal runs of ink of one labelling (:func:`label_components`): row, first column, column
    after the last, and the component each belongs to; where a component's pixels lie, row by row."""

    rows: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    labels: np.ndarray

    def columns(self, labels: list[int], y0: int, y1: int) -> tuple[int, int] | None:
        """The columns ``(first, after the last)`` holding ink of the components ``labels`` in rows
        ``y0`` to ``y1 - 1``; ``None`` where they have none there."""
        pick = (self.rows >= y0) & (self.rows < y1) & np.isin(self.labels, labels)
        if not pick.any():
            return None
        return int(self.starts[pick].min()), int(self.ends[pick].max())


@dataclass
class Component:
    labels: list[int]
    x0: int
    y0: int
    x1: int
    y1: int
    area: int
    anchor: int = 0  # height of the tallest original component in it (a stack of specks has a small one)
    #: The labelling's runs, where its ``labels`` are known to be theirs (:func:`model.punctuation._gap_beside`).
    runs: _Runs | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.anchor = self.anchor or self.height

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.x0, self.y0, self.x1, self.y1

    @property
    def height(self) -> int:
        return self.y1 - self.y0


def label_components(mask: np.ndarray) -> tuple[np.ndarray, list[Component]]:
    """8-connected components of a boolean image -> (label image, components); label 0 is background.

    Vectorised run-length labelling: horizontal runs of ink are the nodes, runs in adjacent rows that
    touch (diagonally included) are the edges; across every edge the larger root is hooked onto the
    smaller one and paths are compressed (pointer jumping) until nothing changes. About a millisecond
    on a working-size image, and no scipy needed.
    """
    h, w = mask.shape
    padded = np.zeros((h, w + 2), dtype=bool)
    padded[:, 1:-1] = mask
    edges = np.flatnonzero(padded[:, 1:] != padded[:, :-1])  # run starts and ends (exclusive) alternate
    rows, cols = np.divmod(edges[0::2], w + 1)
    starts, ends = cols, edges[1::2] - rows * (w + 1)
    n = rows.size
    if n == 0:
        return np.zeros((h, w), dtype=np.int32), []
    stride = w + 2  # keys that order runs by row, then column, with rows never overlapping
    start_key = rows * stride + starts
    end_key = start_key + (ends - starts)
    # Runs j in the next row touching run i: ends[j] >= starts[i] and starts[j] <= ends[i].
    first = np.searchsorted(end_key, start_key + stride, side="left")
    last = np.searchsorted(start_key, end_key + stride, side="right")
    counts = np.maximum(last - first, 0)
    src = np.repeat(np.arange(n), counts)
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    dst = np.repeat(first, counts) + (np.arange(src.size) - offsets)
    label = np.arange(n)
    while True:  # hook each root onto the smaller root across every edge, then compress the paths
        a, b = label[src], label[dst]
        differ = a != b
        if not differ.any():
            break
        np.minimum.at(label, np.maximum(a[differ], b[differ]), np.minimum(a[differ], b[differ]))
        while True:
            jumped = label[label]
            if np.array_equal(jumped, label):
                break
            label = jumped
    # Every root is its component's first run (the smallest index): number them 1.. in raster order.
    numbers = np.cumsum(label == np.arange(n))
    compact = numbers[label]
    lengths = ends - starts
    count = int(numbers[-1])
    area = np.bincount(compact, weights=lengths, minlength=count + 1)[1:].astype(np.int64)
    x0 = np.full(count + 1, w, dtype=np.int64)
    y0 = np.full(count + 1, h, dtype=np.int64)
    x1 = np.zeros(count + 1, dtype=np.int64)
    y1 = np.zeros(count + 1, dtype=np.int64)
    np.minimum.at(x0, compact, starts)
    np.minimum.at(y0, compact, rows)
    np.maximum.at(x1, compact, ends)
    np.maximum.at(y1, compact, rows + 1)
    # Paint the label image: each run's label at its start, minus it just after its end, summed along
    # the rows (runs in a row never share an end and a start).
    delta = np.zeros((h, w + 1), dtype=np.int32)
    row_start = rows * (w + 1)
    delta.ravel()[row_start + starts] = compact
    delta.ravel()[row_start + ends] = -compact
    labels_img = np.cumsum(delta, axis=1, out=delta)[:, :w]
    runs = _Runs(rows, starts, ends, compact)
    components = [
        Component([i], int(x0[i]), int(y0[i]), int(x1[i]), int(y1[i]), int(area[i - 1]), runs=runs)
        for i in range(1, count + 1)
    ]
    return labels_img, components


def least_height(shape: tuple[int, int]) -> float:
    """The least height of a digit in a picture of ``shape`` (working pixels): :data:`MIN_DIGIT_HEIGHT`
    of its size, :data:`MIN_DIGIT_PIXELS` at least."""
    return max(MIN_DIGIT_HEIGHT * (shape[0] * shape[1]) ** 0.5, MIN_DIGIT_PIXELS)


def clear_of_edge(part: Component, shape: tuple[int, int]) -> bool:
    """Whether ``part`` touches no edge of a picture (or window) of ``shape``."""
    return part.x0 > 0 and part.y0 > 0 and part.x1 < shape[1] and part.y1 < shape[0]


def overlap_length(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def merge_components(a: Component, b: Component) -> Component:
    box = min(a.x0, b.x0), min(a.y0, b.y0), max(a.x1, b.x1), max(a.y1, b.y1)
    runs = a.runs if a.runs is b.runs else None
    return Component(a.labels + b.labels, *box, a.area + b.area, max(a.anchor, b.anchor), runs)


def component_pixels(component: Component, labels: np.ndarray) -> np.ndarray:
    """``component``'s pixels in its box (boolean, the box's shape)."""
    return np.isin(labels[component.y0 : component.y1, component.x0 : component.x1], component.labels)
