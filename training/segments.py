"""Digits and letters of segment displays (a clock, a calculator, a scale, a meter), drawn as the
displays draw them: seven bars, a gap between each, none of them a stroke a hand writes.

Fonts of such displays (DSEG) are kept out of training: the benchmark reads numbers typed in them
(``bench.recognition_sets.segment_numbers``). Each picture here is drawn from random choices of the
display's design instead: bar thickness 8-20 % of the digit's height, gaps 0.5-5 %, width 45-70 %,
bevelled, square or rounded ends or square corners (thin bars, the horizontal ones reaching the
digit's sides), slanted 0-12 degrees, and the forms displays differ in (a 6 and a 9 with or without
their tails; a 7 with a bar on the left, as some displays draw it, is left out: a 1 with a flag
reads 7 beside it).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

#: Which bars each character lights: a top, b top right, c bottom right, d bottom, e bottom left,
#: f top left, g middle. A tuple holds the forms displays differ in (a 7 lighting f too is not drawn:
#: trained on, it made a typed 1 with a long flag, Roboto's, read 7 more often).
DIGITS: dict[str, tuple[str, ...]] = {
    "0": ("abcdef",),
    "1": ("bc",),
    "2": ("abdeg",),
    "3": ("abcdg",),
    "4": ("bcfg",),
    "5": ("acdfg",),
    "6": ("acdefg", "cdefg"),
    "7": ("abc",),
    "8": ("abcdefg",),
    "9": ("abcdfg", "abcfg"),
}
#: Letters a display shows that are no digit's form: its error and status words ("Err", "HELP",
#: "LO", "dOnE" ...). Left out: b, o, q, y, S, Z, O, I (a 6, a small 0, a 9, a 9, a 5, a 2, a 0, a 1).
LETTERS: dict[str, str] = {
    "A": "abcefg",
    "C": "adef",
    "c": "deg",
    "d": "bcdeg",
    "E": "adefg",
    "F": "aefg",
    "H": "bcefg",
    "h": "cefg",
    "J": "bcde",
    "L": "def",
    "n": "ceg",
    "P": "abefg",
    "r": "eg",
    "t": "defg",
    "U": "bcdef",
    "u": "cde",
}
#: Ends of the bars: pointed (most LCD and LED faces), square, round, or square corners (the horizontal
#: bars reach the sides, the upright ones stand between them: a tall rectangle for a 0), and how often.
ENDS = {"bevel": 0.45, "square": 0.15, "round": 0.1, "corner": 0.3}


def _bar(x0: float, y0: float, x1: float, y1: float, thick: float, end: str) -> list[tuple[float, float]]:
    """The outline of one bar from (x0, y0) to (x1, y1) (horizontal or vertical), ``thick`` across."""
    half = thick / 2
    if y0 == y1:  # horizontal
        tip = half if end == "bevel" else 0.0
        return [
            (x0, y0),
            (x0 + tip, y0 - half),
            (x1 - tip, y0 - half),
            (x1, y0),
            (x1 - tip, y0 + half),
            (x0 + tip, y0 + half),
        ]
    tip = half if end == "bevel" else 0.0
    return [
        (x0, y0),
        (x0 + half, y0 + tip),
        (x1 + half, y1 - tip),
        (x1, y1),
        (x1 - half, y1 - tip),
        (x0 - half, y0 + tip),
    ]


def draw(bars: str, rng: np.random.Generator) -> np.ndarray:
    """``bars`` (letters of :data:`DIGITS`' key) lit on a display of random design, dark on white paper
    of 64-160 pixels, the digit 45-80 % of its height; ``uint8`` (H, W)."""
    canvas = int(rng.integers(64, 161))
    height = canvas * rng.uniform(0.45, 0.8)
    width = height * rng.uniform(0.45, 0.7)
    thick = height * rng.uniform(0.08, 0.2)
    gap = height * rng.uniform(0.005, 0.05)
    end = list(ENDS)[int(rng.choice(len(ENDS), p=list(ENDS.values())))]
    slant = math.tan(math.radians(rng.uniform(0, 12)))
    scale = 4  # drawn four times larger, then reduced: smooth edges
    left, top = (canvas - width) / 2, (canvas - height) / 2
    xl, xr = left + thick / 2, left + width - thick / 2
    yt, ym, yb = top + thick / 2, top + height / 2, top + height - thick / 2
    ends = {
        "a": (xl + gap, yt, xr - gap, yt),
        "g": (xl + gap, ym, xr - gap, ym),
        "d": (xl + gap, yb, xr - gap, yb),
        "f": (xl, yt + gap, xl, ym - gap),
        "b": (xr, yt + gap, xr, ym - gap),
        "e": (xl, ym + gap, xl, yb - gap),
        "c": (xr, ym + gap, xr, yb - gap),
    }
    if end == "corner":  # the horizontal bars to the sides, the upright ones between them
        thick = min(thick, 0.12 * height)
        half = thick / 2
        rows = {"a": yt, "g": ym, "d": yb}
        ends = {name: (xl - half, y, xr + half, y) for name, y in rows.items()}
        for name, x, y0, y1 in (("f", xl, yt, ym), ("b", xr, yt, ym), ("e", xl, ym, yb), ("c", xr, ym, yb)):
            ends[name] = (x, y0 + half + gap, x, y1 - half - gap)
    image = Image.new("L", (canvas * scale, canvas * scale), 255)
    pen = ImageDraw.Draw(image)
    for name in bars:
        x0, y0, x1, y1 = ends[name]
        if end == "round":
            shape = [(x0, y0), (x1, y1)]
            points = [((x + (ym - y) * slant) * scale, y * scale) for x, y in shape]
            pen.line(points, fill=0, width=max(1, round(thick * scale)))
            r = thick * scale / 2
            for x, y in points:
                pen.ellipse([x - r, y - r, x + r, y + r], fill=0)
            continue
        outline = _bar(x0, y0, x1, y1, thick, "square" if end == "corner" else end)
        pen.polygon([((x + (ym - y) * slant) * scale, y * scale) for x, y in outline], fill=0)
    image = image.resize((canvas, canvas), Image.Resampling.BOX)
    return np.asarray(image.rotate(float(rng.uniform(-4, 4)), resample=Image.Resampling.BILINEAR, fillcolor=255))


def digits(count: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """``count`` digits of segment displays (the ten in turn; a digit with two forms in its first,
    the more common, three times in four) and their labels."""
    rng = np.random.default_rng(seed)
    pictures, labels = [], []
    for i in range(count):
        forms = DIGITS[str(i % 10)]
        pictures.append(draw(forms[0] if len(forms) == 1 or rng.random() < 0.75 else forms[1], rng))
        labels.append(i % 10)
    return pictures, np.array(labels, dtype=np.int64)


def letters(count: int, seed: int) -> list[np.ndarray]:
    """``count`` letters of segment displays (:data:`LETTERS`, in random order): not digits."""
    rng = np.random.default_rng(seed)
    names = list(LETTERS.values())
    return [draw(names[int(rng.integers(len(names)))], rng) for _ in range(count)]
