"""The pictures training draws offline (``training.negatives``): outlined, hand-bent and pen-written glyphs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from training import negatives

pytestmark = pytest.mark.unit


def _glyph(monkeypatch: pytest.MonkeyPatch, outlined: float, warped: float, seed: int = 3) -> np.ndarray:
    monkeypatch.setattr(negatives, "OUTLINED", outlined)
    monkeypatch.setattr(negatives, "WARPED", warped)
    picture = negatives.render_glyph("H", "DejaVuSans-Bold.ttf", np.random.default_rng(seed), canvas=120)
    assert picture is not None and picture.shape == (120, 120) and picture.dtype == np.uint8
    return picture


def test_an_outlined_glyph_is_hollow(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bubble letter: the same glyph, its inside left as paper, so far less ink."""
    filled = _glyph(monkeypatch, outlined=0.0, warped=0.0)
    hollow = _glyph(monkeypatch, outlined=1.0, warped=0.0)
    ink_filled, ink_hollow = (filled < 128).sum(), (hollow < 128).sum()
    assert 0 < ink_hollow < 0.8 * ink_filled
    rows, cols = np.nonzero(hollow < 128)  # about the same place and size
    assert abs(rows.mean() - np.nonzero(filled < 128)[0].mean()) < 6
    filled_cols = np.nonzero(filled < 128)[1]
    assert cols.max() - cols.min() >= 0.8 * (filled_cols.max() - filled_cols.min())


def test_a_warp_bends_the_ink_and_keeps_the_paper() -> None:
    picture = np.full((100, 100), 255, dtype=np.uint8)
    picture[20:80, 45:55] = 0  # a straight bar
    bent = negatives.warp(picture, np.random.default_rng(0), strength=0.08)
    again = negatives.warp(picture, np.random.default_rng(0), strength=0.08)
    assert bent.shape == picture.shape and bent.dtype == np.uint8
    np.testing.assert_array_equal(bent, again)  # seeded
    assert bent[0].min() == 255 and bent[:, 0].min() == 255  # paper stays paper, nothing drawn in
    assert abs(int((bent < 128).sum()) - 600) < 200  # about as much ink ...
    assert ((bent < 128) != (picture < 128)).sum() > 50  # ... but not where it was: the bar is bent


def test_a_hershey_glyph_is_written_with_a_pen_and_is_seeded() -> None:
    """A Hershey font's letter: ink along its strokes on white paper, the same picture for the same seed;
    no picture for a character the font lacks (Hershey fonts are ASCII only)."""
    font = "hershey:scripts"
    picture = negatives.render_glyph("k", font, np.random.default_rng(5))
    again = negatives.render_glyph("k", font, np.random.default_rng(5))
    assert picture is not None and again is not None and picture.dtype == np.uint8
    np.testing.assert_array_equal(picture, again)
    ink = picture < 128
    assert 0.01 < ink.mean() < 0.5  # strokes, not a filled blob
    assert picture[0].min() > 128 and picture[-1].min() > 128  # a margin of paper around the letter
    assert negatives.render_glyph("★", font, np.random.default_rng(5)) is None


def test_the_hershey_families_are_split_like_the_truetype_ones() -> None:
    """Whole Hershey families are held out for validation, and only Latin fonts are used: the Greek and
    Cyrillic ones map ASCII codes to letters that look like digits."""
    train = {f for family in negatives.TRAIN_FONTS.values() for f in family if f.startswith(negatives.HERSHEY)}
    held_out = {f for family in negatives.VALIDATION_FONTS.values() for f in family if f.startswith(negatives.HERSHEY)}
    assert train and held_out and not train & held_out
    assert not any(name in font for font in train | held_out for name in ("greek", "cyril", "timesg"))
    pictures, labels = negatives.font_digits({"Hershey": sorted(train)}, 20, seed=1)
    assert len(pictures) == 20 and list(labels[:10]) == list(range(10))


def test_a_broad_nib_draws_thick_and_thin_strokes() -> None:
    """Across the nib the full width, along it a hairline: as calligraphic handwriting fonts draw."""
    nib = (math.radians(-45), 0.15)  # held at 45 degrees, up and to the right
    along = [[(0.2, 0.8), (0.8, 0.2)]]  # a stroke in the nib's direction
    across = [[(0.2, 0.2), (0.8, 0.8)]]  # one across it
    thin = negatives.draw(along, np.random.default_rng(1), nib)
    thick = negatives.draw(across, np.random.default_rng(1), nib)
    plain = negatives.draw(along, np.random.default_rng(1))
    assert (thick < 128).sum() > 3 * (thin < 128).sum() > 0
    assert (plain < 128).sum() > 2 * (thin < 128).sum()  # without a nib the pen is as wide every way


def test_every_font_file_is_there_and_the_benchmark_fonts_stay_unseen() -> None:
    """Each font file of either split opens and writes the ten digits; no file is on both sides; and
    none is a family of the recognition benchmark's held-out fonts (its Debian packages)."""
    from bench.recognition_sets import HANDWRITING_FONTS, TYPED_FONTS

    files = {
        split: {f for family in fonts.values() for f in family}
        for split, fonts in (("train", negatives.TRAIN_FONTS), ("validation", negatives.VALIDATION_FONTS))
    }
    assert not files["train"] & files["validation"]
    for name in files["train"] | files["validation"]:
        if not name.startswith(negatives.HERSHEY):
            assert negatives.font_path(name).is_file(), name
        assert all(negatives._has_glyph(name, d) for d in negatives.DIGIT_CHARS), name
    kept = {path.name for path in negatives.FONTS_HERE.iterdir() if path.suffix in (".ttf", ".otf")}
    assert kept <= files["train"] | files["validation"]  # no file kept that nothing uses
    benchmark = {Path(f).stem.split("-")[0].lower() for f in HANDWRITING_FONTS + TYPED_FONTS}
    assert not {Path(f).stem.split("-")[0].lower() for f in kept} & benchmark
