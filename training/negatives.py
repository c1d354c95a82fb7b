"""Pictures made offline for the "not a digit" class, and typed digits to keep typed digits digits.

Everything is drawn here, seeded, from what every install of the project has (numpy, Pillow, the
fonts that ship inside matplotlib's wheel, the Hershey vector fonts of the ``Hershey-Fonts``
package, and the handwriting and informal fonts from Debian's font packages kept in
``training/fonts/``, licences in its README; no download, no system fonts):

- **glyphs**: letters, Greek letters and symbols (hearts, stars, arrows, a smiley, currency, maths)
  rendered from font files, at random sizes, weights and slants, or drawn along the strokes of a
  Hershey font (script, italic, sans, serif: as a pen writes them) with a pen of random width;
  characters that are written like a digit (``O``, ``l``, ``S``, ``Z``, ``B``, ``g``, ``/`` ...) are
  left out, they are no refusal to teach;
- **shapes**: squares, triangles, stars, hearts, smileys, animals' faces, houses, arrows, crosses, spirals, drawn as
  polylines with a pen of random width (never a plain ring, ellipse or rounded blob: that is a 0);
- **scribbles**: smoothed random walks, zigzags, waves and loops;
- **parts of digits**: an MNIST digit with one side of a random line through it erased (half of a
  4, the bowl of a 5 without its bar); parts that are digits themselves (a 1, a 7) are avoided.

The negatives must not teach the network that "typed" means "not a digit": :func:`font_digits`
renders the ten digits from the same fonts, labelled as digits. Whole font families are held out:
:data:`TRAIN_FONTS` for training, :data:`VALIDATION_FONTS` to measure on.

Every picture is grey ``uint8`` (H, W), dark ink on white paper, for ``training.upload_path``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

#: The "not a digit" label, after the ten digits.
NOT_A_DIGIT = 10

#: Font families by split: whole families are held out of training to validate on. A name
#: ``hershey:<font>`` is a font of the ``Hershey-Fonts`` package (strokes, drawn with a pen); the others are
#: font files in ``training/fonts/`` (handwriting and informal faces: how people write letters, which
#: matplotlib's book faces are not) or else inside matplotlib's wheel. Hershey's Greek and Cyrillic
#: fonts are not used: they map ASCII codes to letters that look like digits (a Cyrillic Ч is a 4, a З a 3).
TRAIN_FONTS: dict[str, tuple[str, ...]] = {
    "DejaVu Sans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf"),
    "DejaVu Sans Mono": ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf"),
    "STIX General": ("STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf"),
    "Computer Modern Sans": ("cmss10.ttf",),
    "Computer Modern Typewriter": ("cmtt10.ttf",),
    "Hershey Sans": ("hershey:futural", "hershey:futuram"),
    "Hershey Roman": ("hershey:rowmans", "hershey:rowmand", "hershey:rowmant", "hershey:timesr", "hershey:timesrb"),
    "Hershey Script": ("hershey:scripts", "hershey:scriptc"),
    "Rufscript": ("Rufscript010.ttf",),
    "Purisa": ("Purisa.ttf", "Purisa-Bold.ttf", "Purisa-Oblique.ttf", "Purisa-BoldOblique.ttf"),
    "Lobster": ("LobsterTwo-Regular.otf", "LobsterTwo-Italic.otf", "LobsterTwo-Bold.otf", "lobster.otf"),
    "Comfortaa": ("Comfortaa-Regular.ttf", "Comfortaa-Bold.ttf"),
    "Domestic Manners": ("Domestic_Manners.ttf",),
    "Junkyard": ("Junkyard.ttf",),
    "El Abogado Loco": ("El_Abogado_Loco.ttf",),
    "Delphine": ("Delphine.ttf",),
    "Tomson Talks": ("TomsonTalks.ttf",),
}
VALIDATION_FONTS: dict[str, tuple[str, ...]] = {
    "DejaVu Serif": ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf"),
    "Computer Modern Roman": ("cmr10.ttf", "cmb10.ttf", "cmti10.ttf"),
    "Hershey Italic and Cursive": ("hershey:timesi", "hershey:timesib", "hershey:cursive"),
    "Havana": ("Havana-Regular.otf",),
    "Leckerli One": ("LeckerliOne-Regular.ttf",),
}
HERSHEY = "hershey:"

#: Characters that are not digits and are not written like one. Left out on purpose: O o Q D (0),
#: I l i j J | / ! ( ) [ ] (1), Z z ? (2), S s $ (5), b G δ σ (6), B β § (8), g q a (9), and marks
#: too flat to be read as anything (- _ . , ' `).
NOT_DIGIT_CHARS = (
    "ACEFHKLMNPRTUVWXY"
    "cefhkmnprtuvwxy"
    "#%@*+=<>{}&~^€£¥¶©®±×÷∞√∑∫≈≠≤≥"
    "αγελμξπφψωΓΔΛΞΠΣΦΨΩ"
    "←→↑↓↔★☆♥♦♣♠☺☻☀☂☃☎✈✉✓✗✚✿♪♫⚑⚡☯☮⌘■□▲△▼◆◇"
)
DIGIT_CHARS = "0123456789"


#: The font files kept with the training code (from Debian's font packages; see its README).
FONTS_HERE = Path(__file__).with_name("fonts")


def font_dir() -> Path:
    """The TrueType fonts inside matplotlib's package (DejaVu, STIX, Computer Modern)."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def font_path(name: str) -> Path:
    """The file of font ``name``: in :data:`FONTS_HERE`, else in matplotlib's :func:`font_dir`."""
    here = FONTS_HERE / name
    return here if here.is_file() else font_dir() / name


@cache
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(name)), size)


@cache
def _has_glyph(name: str, char: str) -> bool:
    """Whether the font draws ``char`` itself (not the empty box of a missing glyph). The Computer
    Modern files keep TeX's own encoding outside letters and digits (their ``<`` is an ``¡``, a 1 to
    the eye), so only those are taken from them."""
    if name.startswith(HERSHEY):
        return _hershey_strokes(name, char) is not None
    if name.startswith("cm") and not (char.isascii() and char.isalnum()):
        return False
    font = _font(name, 48)
    try:
        return font.getmask(char).getbbox() is not None and ord(char) in _cmap(name)
    except (OSError, ValueError):
        return False


@cache
def _hershey_font(name: str) -> object:
    from HersheyFonts import HersheyFonts

    font = HersheyFonts()
    font.load_default_font(name.removeprefix(HERSHEY))
    return font


@cache
def _hershey_strokes(name: str, char: str) -> tuple[tuple[tuple[float, float], ...], ...] | None:
    """The strokes of ``char`` in the Hershey font ``name`` (``hershey:<font>``), scaled so that the glyph's
    larger side spans 0-1 and centred on (0.5, 0.5); ``None`` when the font has no such glyph."""
    if not (char.isascii() and char.isprintable()) or char == " ":
        return None
    strokes = [tuple(stroke) for stroke in _hershey_font(name).strokes_for_text(char)]
    points = np.array([point for stroke in strokes for point in stroke], dtype=np.float64)
    if len(points) < 2:
        return None
    low, high = points.min(0), points.max(0)
    scale, middle = max(float((high - low).max()), 1.0), (low + high) / 2
    return tuple(tuple((0.5 + (x - middle[0]) / scale, 0.5 + (y - middle[1]) / scale) for x, y in s) for s in strokes)


@cache
def _cmap(name: str) -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    return frozenset(FT2Font(str(font_path(name))).get_charmap())


# ------------------------------------------------------------------------------------------- glyphs


#: The share of typed characters drawn as outlines (bubble letters and digits: hollow, a thin line
#: around where the ink would be), so that a hollow digit reads as a digit and a hollow letter is no digit.
OUTLINED = 0.15
#: The share of pen-written (Hershey) characters drawn with a broad nib: thick and thin strokes, as in
#: calligraphic handwriting fonts (a cursive m whose joins are hairlines).
BROAD_NIB = 0.4
#: The share of typed characters bent by a smooth random distortion (:func:`warp`): fonts drawn straight
#: are not what a hand writes.
WARPED = 0.5


def render_glyph(char: str, font: str, rng: np.random.Generator, canvas: int | None = None) -> np.ndarray | None:
    """One character on white paper, at a random size, stroke weight, slant and place, now and then
    (:data:`OUTLINED`) drawn as its outline only (a bubble letter or digit: its inside left white), or
    for a Hershey ``font`` written with a pen (:func:`_pen_glyph`); ``None`` when the font lacks it."""
    if not _has_glyph(font, char):
        return None
    if font.startswith(HERSHEY):
        return _pen_glyph(_hershey_strokes(font, char) or (), rng)
    canvas = canvas or int(rng.integers(64, 161))
    size = int(canvas * rng.uniform(0.45, 0.8))
    image = Image.new("L", (canvas, canvas), 255)
    draw = ImageDraw.Draw(image)
    weight = int(rng.integers(0, 3)) * max(1, size // 40)  # now and then a bolder pen around the outline
    fill = 0
    if rng.random() < OUTLINED:  # PIL strokes the outline, then fills the inside: with paper, a hollow glyph
        weight, fill = max(1, round(size * rng.uniform(0.015, 0.04))), 255
    draw.text(
        (canvas / 2, canvas / 2),
        char,
        font=_font(font, size),
        fill=fill,
        anchor="mm",
        stroke_width=weight,
        stroke_fill=0,
    )
    angle = float(rng.uniform(-12, 12))
    image = image.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=255)
    return warp(np.asarray(image), rng, rng.uniform(0.03, 0.08)) if rng.random() < WARPED else np.asarray(image)


def _pen_glyph(strokes: Sequence[Sequence[tuple[float, float]]], rng: np.random.Generator) -> np.ndarray:
    """A Hershey glyph's strokes written with a pen (:func:`draw`), its larger side 45-80 % of the paper,
    :data:`BROAD_NIB` of them with a broad nib held at 20-60 degrees, half of them bent by :func:`warp`."""
    size = rng.uniform(0.45, 0.8)
    placed = [[(0.5 + (x - 0.5) * size, 0.5 + (y - 0.5) * size) for x, y in stroke] for stroke in strokes]
    nib = (math.radians(-rng.uniform(20, 60)), rng.uniform(0.1, 0.35)) if rng.random() < BROAD_NIB else None
    picture = draw(placed, rng, nib)
    return warp(picture, rng, rng.uniform(0.03, 0.08)) if rng.random() < WARPED else picture


def warp(image: np.ndarray, rng: np.random.Generator, strength: float = 0.04) -> np.ndarray:
    """A smooth random distortion of a grey ``uint8`` picture (white paper), as a hand bends what a font
    draws straight: an elastic distortion (Simard, Steinkraus and Platt, 2003) whose displacements,
    normal with ``strength`` times the picture's half-size at each node of a 4x4 grid, are interpolated
    bicubically over the picture."""
    h, w = image.shape
    coarse = torch.from_numpy(rng.normal(0.0, strength, (1, 2, 4, 4)).astype(np.float32))
    field = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True).permute(0, 2, 3, 1)
    grid = F.affine_grid(torch.eye(2, 3)[None], [1, 1, h, w], align_corners=False) + field
    paper = torch.from_numpy(255.0 - image.astype(np.float32))[None, None]  # ink as signal, paper as 0
    out = F.grid_sample(paper, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return (255.0 - out[0, 0].numpy()).round().clip(0, 255).astype(np.uint8)


def glyphs(fonts: dict[str, Sequence[str]], chars: str, count: int, seed: int) -> list[np.ndarray]:
    """``count`` pictures of ``chars`` (cycled in random order) in random files of ``fonts``."""
    rng = np.random.default_rng(seed)
    files = [file for family in fonts.values() for file in family]
    out: list[np.ndarray] = []
    while len(out) < count:
        picture = render_glyph(chars[int(rng.integers(len(chars)))], files[int(rng.integers(len(files)))], rng)
        if picture is not None:
            out.append(picture)
    return out


def font_digits(fonts: dict[str, Sequence[str]], count: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """``count`` typed digits in ``fonts`` (as :func:`glyphs`) and their labels."""
    rng = np.random.default_rng(seed)
    files = [file for family in fonts.values() for file in family]
    pictures, labels = [], []
    while len(pictures) < count:
        digit = len(pictures) % 10
        picture = render_glyph(DIGIT_CHARS[digit], files[int(rng.integers(len(files)))], rng)
        if picture is not None:
            pictures.append(picture)
            labels.append(digit)
    return pictures, np.array(labels, dtype=np.int64)


# ------------------------------------------------------------------------------------------- shapes


Points = list[tuple[float, float]]


def _ring(cx: float, cy: float, r: float, steps: int = 40, start: float = 0.0, stop: float = 360.0) -> Points:
    angles = np.radians(np.linspace(start, stop, steps))
    return [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in angles]


def _square(rng: np.random.Generator) -> list[Points]:
    w, h = rng.uniform(0.4, 0.7), rng.uniform(0.4, 0.7)
    x, y = 0.5 - w / 2, 0.5 - h / 2
    return [[(x, y), (x + w, y), (x + w, y + h), (x, y + h), (x, y)]]


def _triangle(rng: np.random.Generator) -> list[Points]:
    top = (rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.3))
    return [
        [top, (rng.uniform(0.15, 0.3), rng.uniform(0.7, 0.85)), (rng.uniform(0.7, 0.85), rng.uniform(0.7, 0.85)), top]
    ]


def _star(rng: np.random.Generator) -> list[Points]:
    points = int(rng.integers(5, 7))
    inner = rng.uniform(0.35, 0.5)
    turn = rng.uniform(0, math.pi)
    outline = []
    for k in range(2 * points + 1):
        r = 0.33 if k % 2 == 0 else 0.33 * inner
        a = turn + k * math.pi / points
        outline.append((0.5 + r * math.cos(a), 0.5 + r * math.sin(a)))
    return [outline]


def _heart(rng: np.random.Generator) -> list[Points]:
    t = np.linspace(0, 2 * math.pi, 60)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    s = rng.uniform(0.016, 0.022)
    return [[(0.5 + s * a, 0.5 + s * b) for a, b in zip(x, y, strict=True)]]


def _smiley(rng: np.random.Generator) -> list[Points]:
    r = rng.uniform(0.3, 0.38)
    eye = r * 0.12
    face = [
        _ring(0.5, 0.5, r),
        _ring(0.5 - r * 0.35, 0.5 - r * 0.3, eye, 12),
        _ring(0.5 + r * 0.35, 0.5 - r * 0.3, eye, 12),
    ]
    smile = rng.uniform(20, 40)
    face.append(_ring(0.5, 0.5, r * 0.6, 16, smile, 180 - smile))
    return face


def _animal(rng: np.random.Generator) -> list[Points]:
    """An animal's face as people doodle it: a round head, two ears (pointed: a cat, a fox; round: a
    bear, a mouse), two eyes, now and then a nose and whiskers. Its head alone would be a 0: the ears
    are what make it no digit."""
    r = rng.uniform(0.24, 0.32)
    cy = 0.5 + r * 0.2
    face = [_ring(0.5, cy, r)]
    pointed = rng.random() < 0.6
    for side in (-1, 1):
        base = 0.5 + side * r * rng.uniform(0.45, 0.75)
        if pointed:
            tip = (base + side * r * rng.uniform(0.0, 0.3), cy - r * rng.uniform(1.35, 1.7))
            face.append([(base - side * r * 0.35, cy - r * 0.85), tip, (base + side * r * 0.3, cy - r * 0.6)])
        else:
            face.append(_ring(base, cy - r * 0.95, r * rng.uniform(0.25, 0.4), 16, 150, 390))
        eye = (0.5 + side * r * rng.uniform(0.3, 0.45), cy - r * rng.uniform(0.05, 0.3))
        face.append(_ring(*eye, r * rng.uniform(0.06, 0.14), 10))
        if rng.random() < 0.5:  # whiskers
            for k in range(int(rng.integers(2, 4))):
                y = cy + r * (0.2 + 0.15 * k)
                face.append(
                    [(0.5 + side * r * 0.25, y), (0.5 + side * r * rng.uniform(0.9, 1.3), y + r * (k - 1) * 0.2)]
                )
    if rng.random() < 0.5:  # a nose
        face.append(_ring(0.5, cy + r * 0.15, r * 0.08, 8))
    return face


def _house(rng: np.random.Generator) -> list[Points]:
    w, roof = rng.uniform(0.45, 0.6), rng.uniform(0.2, 0.3)
    x0, x1, y0, y1 = 0.5 - w / 2, 0.5 + w / 2, 0.45, 0.85
    return [[(x0, y1), (x0, y0), (0.5, y0 - roof), (x1, y0), (x1, y1), (x0, y1)]]


def _arrow(rng: np.random.Generator) -> list[Points]:
    a = rng.uniform(0, 2 * math.pi)
    dx, dy = 0.35 * math.cos(a), 0.35 * math.sin(a)
    tip = (0.5 + dx, 0.5 + dy)
    back = (0.5 - dx, 0.5 - dy)
    head = []
    for side in (-1, 1):
        b = a + math.pi + side * 0.5
        head.append((tip[0] + 0.2 * math.cos(b), tip[1] + 0.2 * math.sin(b)))
    return [[back, tip], [head[0], tip, head[1]]]


def _cross(rng: np.random.Generator) -> list[Points]:
    a = rng.choice([0.0, math.pi / 4]) + rng.uniform(-0.2, 0.2)
    lines = []
    for b in (a, a + math.pi / 2):
        dx, dy = 0.33 * math.cos(b), 0.33 * math.sin(b)
        lines.append([(0.5 - dx, 0.5 - dy), (0.5 + dx, 0.5 + dy)])
    return lines


def _spiral(rng: np.random.Generator) -> list[Points]:
    turns = rng.uniform(1.8, 3.5)
    t = np.linspace(0, turns * 2 * math.pi, 120)
    r = 0.35 * t / t[-1]
    phase = rng.uniform(0, 2 * math.pi)
    return [[(0.5 + a * math.cos(b + phase), 0.5 + a * math.sin(b + phase)) for a, b in zip(r, t, strict=True)]]


SHAPES: dict[str, Callable[[np.random.Generator], list[Points]]] = {
    "square": _square,
    "triangle": _triangle,
    "star": _star,
    "heart": _heart,
    "smiley": _smiley,
    "animal": _animal,
    "house": _house,
    "arrow": _arrow,
    "cross": _cross,
    "spiral": _spiral,
}


# ---------------------------------------------------------------------------------------- scribbles


def _walk(rng: np.random.Generator) -> list[Points]:
    steps = int(rng.integers(30, 90))
    heading, turn = rng.uniform(0, 2 * math.pi), 0.0
    x, y, points = 0.5, 0.5, []
    for _ in range(steps):
        turn = 0.7 * turn + rng.normal(0, 0.5)
        heading += turn
        x, y = (
            float(np.clip(x + 0.03 * math.cos(heading), 0.05, 0.95)),
            float(np.clip(y + 0.03 * math.sin(heading), 0.05, 0.95)),
        )
        points.append((x, y))
    return [points]


def _zigzag(rng: np.random.Generator) -> list[Points]:
    n = int(rng.integers(4, 10))
    xs = np.linspace(0.15, 0.85, n)
    amp = rng.uniform(0.1, 0.3)
    points = [(float(x), 0.5 + amp * (1 if i % 2 else -1) + rng.normal(0, 0.03)) for i, x in enumerate(xs)]
    if rng.random() < 0.5:
        points = [(y, x) for x, y in points]
    return [points]


def _wave(rng: np.random.Generator) -> list[Points]:
    periods = rng.uniform(1.5, 4)
    t = np.linspace(0, 1, 80)
    amp = rng.uniform(0.08, 0.25)
    points = [(0.1 + 0.8 * a, 0.5 + amp * math.sin(2 * math.pi * periods * a)) for a in t]
    return [points]


def _loops(rng: np.random.Generator) -> list[Points]:
    n = rng.uniform(3, 7)
    t = np.linspace(0, n * 2 * math.pi, 200)
    r = rng.uniform(0.08, 0.15)
    return [[(0.15 + 0.7 * a / t[-1] + r * math.cos(a), 0.5 + r * math.sin(a)) for a in t]]


SCRIBBLES: dict[str, Callable[[np.random.Generator], list[Points]]] = {
    "walk": _walk,
    "zigzag": _zigzag,
    "wave": _wave,
    "loops": _loops,
}


def draw(strokes: list[Points], rng: np.random.Generator, nib: tuple[float, float] | None = None) -> np.ndarray:
    """Polylines (0-1 units) drawn with a pen of random width on white paper of random size, tilted.

    ``nib``: ``(angle in radians, thin share)`` for a broad-nib pen, as calligraphy and many handwriting
    fonts draw: each segment as wide as the nib seen from its direction, from the full width across
    the nib down to ``thin share`` of it along the nib (thick downstrokes, hairline upstrokes)."""
    size = int(rng.integers(64, 200))
    width = max(1, round(size * rng.uniform(0.02, 0.08)))
    image = Image.new("L", (size, size), 255)
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        points = [(x * size, y * size) for x, y in stroke]
        if nib is None:
            pen.line(points, fill=0, width=width, joint="curve")
            continue
        angle, thin = nib
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            across = abs(math.sin(math.atan2(y1 - y0, x1 - x0) - angle))
            w = max(1.0, width * (thin + (1 - thin) * across))
            pen.line([(x0, y0), (x1, y1)], fill=0, width=round(w))
            pen.ellipse([x1 - w / 2, y1 - w / 2, x1 + w / 2, y1 + w / 2], fill=0)  # a round joint
    image = image.rotate(float(rng.uniform(-20, 20)), resample=Image.Resampling.BILINEAR, fillcolor=255)
    return np.asarray(image)


def drawings(
    kinds: dict[str, Callable[[np.random.Generator], list[Points]]], count: int, seed: int
) -> list[np.ndarray]:
    """``count`` drawings, the kinds taken in turn; a drawing whose ink fills most of its box is drawn
    again (a scribble curled into a blob is what a thick or blurred digit looks like too)."""
    rng = np.random.default_rng(seed)
    makers = list(kinds.values())
    out: list[np.ndarray] = []
    while len(out) < count:
        picture = draw(makers[len(out) % len(makers)](rng), rng)
        if not _blob(picture):
            out.append(picture)
    return out


def _blob(picture: np.ndarray) -> bool:
    """Whether the ink (dark) fills over 40 % of its bounding box."""
    ink = picture < 128
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return True
    box = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return float(box.mean()) > 0.4


# ----------------------------------------------------------------------------------- parts of digits


def digit_parts(digits: np.ndarray, labels: np.ndarray, count: int, seed: int) -> list[np.ndarray]:
    """``count`` MNIST digits (light on dark, 28x28) cut by a random line through their middle, one
    side kept when it holds 25-50 % of the ink and is not a lone upright stroke (narrower than half
    its height: that is a 1). 1s and 7s are left out (their parts are 1s and 7s).
    Returned dark on white, enlarged to 84x84."""
    rng = np.random.default_rng(seed)
    candidates = np.flatnonzero((labels != 1) & (labels != 7))
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float32) - 13.5
    out: list[np.ndarray] = []
    while len(out) < count:
        digit = digits[candidates[int(rng.integers(len(candidates)))]].astype(np.float32)
        a = rng.uniform(0, 2 * math.pi)
        offset = rng.uniform(-4, 4)
        keep = (xx * math.cos(a) + yy * math.sin(a)) > offset
        part = np.where(keep, digit, 0)
        share = part.sum() / max(digit.sum(), 1.0)
        rows, cols = np.flatnonzero(part.max(axis=1) > 64), np.flatnonzero(part.max(axis=0) > 64)
        upright = rows.size and cols.size and (cols[-1] - cols[0] + 1) < 0.5 * (rows[-1] - rows[0] + 1)
        if 0.25 <= share <= 0.5 and not upright:
            big = Image.fromarray((255 - part).astype(np.uint8)).resize((84, 84), Image.Resampling.BICUBIC)
            out.append(np.asarray(big))
    return out


# -------------------------------------------------------------------------------------------- a set


#: How the negatives are made up, as shares of the count.
MIX = {"glyphs": 0.55, "shapes": 0.25, "scribbles": 0.15, "parts": 0.05}


def not_digits(
    count: int,
    seed: int,
    fonts: dict[str, Sequence[str]],
    digits: np.ndarray,
    labels: np.ndarray,
    mix: dict[str, float] | None = None,
) -> tuple[list[np.ndarray], list[str]]:
    """``count`` not-a-digit pictures (``mix`` shares of each kind) and each one's kind."""
    mix = MIX if mix is None else mix
    sizes = {kind: round(count * share) for kind, share in mix.items()}
    makers = {
        "glyphs": lambda n, s: glyphs(fonts, NOT_DIGIT_CHARS, n, s),
        "shapes": lambda n, s: drawings(SHAPES, n, s),
        "scribbles": lambda n, s: drawings(SCRIBBLES, n, s),
        "parts": lambda n, s: digit_parts(digits, labels, n, s),
    }
    pictures: list[np.ndarray] = []
    kinds: list[str] = []
    for i, (kind, n) in enumerate(sizes.items()):
        made = makers[kind](n, seed * 10 + i) if n else []
        pictures += made
        kinds += [kind] * len(made)
    return pictures, kinds
