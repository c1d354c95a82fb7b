"""Flagged 1s and crossed 7s drawn on training digits (``training.writing_styles``)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from training import writing_styles


def _digit(points: list[tuple[int, int]], width: int = 3) -> np.ndarray:
    """A 28x28 light-on-dark digit drawn through ``points``."""
    image = Image.new("L", (28, 28), 0)
    ImageDraw.Draw(image).line(points, fill=255, width=width, joint="curve")
    return np.asarray(image).copy()


ONE = _digit([(15, 4), (14, 24)])
SEVEN = _digit([(8, 4), (20, 4), (12, 24)])


def _columns(image: np.ndarray, rows: slice) -> np.ndarray:
    return np.flatnonzero((image[rows] >= writing_styles.INK).any(axis=0))


def test_a_flag_runs_from_the_top_of_a_1_down_to_its_left() -> None:
    flagged = writing_styles.flagged_one(ONE, np.random.default_rng(0))
    added = (flagged >= writing_styles.INK) & (ONE < writing_styles.INK)
    rows, cols = np.nonzero(added)
    assert rows.size > 5
    # Left of the stem, in the 1's upper part, and no higher than its top: an up-stroke, not a bar.
    assert cols.mean() < 13 and cols.max() <= 16 and rows.max() <= 4 + 0.45 * 20 and rows.min() >= 3
    assert np.array_equal(flagged[ONE >= writing_styles.INK], ONE[ONE >= writing_styles.INK])


def test_a_1_with_a_serif_or_a_flag_of_its_own_is_left_alone() -> None:
    serif = _digit([(11, 6), (15, 4), (14, 24)])
    with_base = ONE.copy()
    with_base[2:4, 10:20] = 255  # a bar across its top
    for written in (serif, with_base):
        assert writing_styles.flagged_one(written, np.random.default_rng(0)) is None


def test_a_bar_crosses_the_stem_of_a_7() -> None:
    crossed = writing_styles.crossed_seven(SEVEN, np.random.default_rng(0))
    added = (crossed >= writing_styles.INK) & (SEVEN < writing_styles.INK)
    rows, cols = np.nonzero(added)
    assert rows.size > 5
    stem = _columns(SEVEN, slice(int(rows.mean()), int(rows.mean()) + 1))
    assert cols.min() < stem.min() and cols.max() > stem.max()  # on both sides of the stem
    assert 4 + 0.4 * 20 <= rows.mean() <= 4 + 0.7 * 20  # across the middle, below the top bar


def test_a_7_whose_middle_row_crosses_more_than_its_stem_is_not_crossed() -> None:
    looped = SEVEN.copy()
    looped[10:22, 2:5] = 255  # a second stroke beside the stem all along the rows a bar could cross
    assert writing_styles.crossed_seven(looped, np.random.default_rng(0)) is None


def test_only_some_1s_and_7s_are_restyled_and_the_same_seed_gives_the_same_pictures() -> None:
    images = np.stack([ONE, SEVEN, _digit([(8, 6), (20, 6), (20, 24), (8, 24), (8, 6)])] * 200)
    labels = np.array([1, 7, 0] * 200)
    out = writing_styles.restyled(images, labels, seed=3)
    changed = (out != images).any(axis=(1, 2))
    assert not changed[labels == 0].any()
    ones, sevens = changed[labels == 1].mean(), changed[labels == 7].mean()
    assert abs(ones - writing_styles.FLAGGED_ONES) < 0.1 and abs(sevens - writing_styles.CROSSED_SEVENS) < 0.1
    assert np.array_equal(out, writing_styles.restyled(images, labels, seed=3))
    assert not np.array_equal(out, writing_styles.restyled(images, labels, seed=4))
