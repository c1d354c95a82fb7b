"""Recognition sets beyond MNIST: what the service reads in handwriting it was not trained on.

Two kinds of sets:

- **made from Debian's font packages** (handwriting-like and typed fonts that training never saw),
  rendered once and kept as small PNG files in ``tests/bench/<set>/`` (so tests and benchmarks need no
  font package): ``font_digits`` (one digit per picture), ``font_numbers`` (numbers with ordinary
  spacing), ``font_not_digits`` (letters and symbols: must be refused), ``screen_numbers`` (numbers
  typed in the faces of phones, desktops and documents: :data:`SCREEN_FONTS`), ``segment_numbers``
  (numbers on segment displays, printed, LCD and LED: :data:`SEGMENT_FONTS`, :data:`DISPLAYS`).
  Regenerate them with ``python -m bench.recognition_sets`` after installing the packages in
  :data:`PACKAGES`;
- **made at run time** from data the project already has: ``semi_transparent`` (validation digits
  drawn with a 15-60 % opaque brush on a transparent canvas), ``multi_stroke`` (4, 5, 7, 1 and others
  drawn in separate strokes: a detached bar, a foot), ``hairline`` (digits drawn with a 1-2 pixel pen
  on a large canvas), ``continental_digits`` (1s with a flag and crossed 7s, as written in much of the
  world), ``shapes`` (drawn shapes and scribbles: must be refused) and ``uci_handwriting``
  (the 1,797 digits of the UCI optical-recognition set that ships inside scikit-learn, written by 43
  people who are not MNIST's writers, 8x8 grey levels enlarged to 64x64).

Each set is a list of :class:`Sample` (the picture as an upload's bytes, and the right answer: the
number, or ``None`` for "must be refused as not a digit").
"""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
STORED = ROOT / "tests" / "bench"
#: The sets kept as pictures in :data:`STORED`, by name.
STORED_SETS = (
    "font_digits",
    "font_numbers",
    "screen_numbers",
    "segment_numbers",
    "font_not_digits",
    "font_percent",
    "font_punctuation",
)
#: The Debian packages the stored sets were rendered from (``apt-get install ...``).
PACKAGES = [
    "fonts-comic-neue",
    "fonts-dkg-handwriting",
    "fonts-breip",
    "fonts-bwht",
    "fonts-femkeklaver",
    "fonts-humor-sans",
    "fonts-ecolier-court",
    "fonts-dancingscript",
    "fonts-kaushanscript",
    "fonts-kristi",
    "fonts-klee",
    "fonts-liberation2",
    "fonts-freefont-ttf",
    "fonts-lato",
    "fonts-open-sans",
    "fonts-cabinsketch",
    "fonts-roboto-unhinted",
    "fonts-mplus",
    "fonts-cantarell",
    "fonts-noto-core",
    "fonts-jetbrains-mono",
    "fonts-dseg",
    "fonts-hack",
    "fonts-sil-andika",
    "fonts-ebgaramond",
    "fonts-league-spartan",
    "fonts-oxygen",
    "fonts-tuffy",
]
FONT_ROOT = Path("/usr/share/fonts")
#: Font files by style, relative to :data:`FONT_ROOT`.
HANDWRITING_FONTS = (
    "opentype/bwht/BecauseWeBuild-Regular.otf",
    "opentype/bwht/BecauseWeConnect-Regular.otf",
    "opentype/bwht/BecauseWeCreate-Regular.otf",
    "opentype/bwht/BecauseWeLearn-Regular.otf",
    "opentype/bwht/BecauseWeMentor-Regular.otf",
    "opentype/bwht/BecauseWeOrganize-Regular.otf",
    "opentype/comic-neue/ComicNeue-Regular.otf",
    "opentype/comic-neue/ComicNeue-BoldItalic.otf",
    "opentype/dancingscript/DancingScript-Regular.otf",
    "opentype/kaushanscript/KaushanScript-Regular.otf",
    "truetype/breip/Breip.ttf",
    "truetype/cabinsketch/CabinSketch-Regular.ttf",
    "truetype/ecolier-court/Ecolier-court.ttf",
    "truetype/femkeklaver/femkeklaver.ttf",
    "truetype/fifthhorseman/dkg.ttf",
    "truetype/fifthhorseman/dkgIt.ttf",
    "truetype/humor-sans/Humor-Sans.ttf",
    "truetype/klee/KleeOne-Regular.ttf",
    "truetype/kristi/Kristi.ttf",
)
TYPED_FONTS = (
    "truetype/liberation2/LiberationSans-Regular.ttf",
    "truetype/liberation2/LiberationSerif-Italic.ttf",
    "truetype/liberation2/LiberationMono-Bold.ttf",
    "truetype/freefont/FreeSans.ttf",
    "truetype/freefont/FreeSerifBold.ttf",
    "truetype/freefont/FreeMonoOblique.ttf",
    "truetype/lato/Lato-Hairline.ttf",
    "truetype/lato/Lato-Black.ttf",
    "truetype/lato/Lato-LightItalic.ttf",
    "truetype/open-sans/OpenSans-Regular.ttf",
    "truetype/open-sans/OpenSans-CondBold.ttf",
)
#: For ``screen_numbers``: the faces numbers are typed in on phones, desktops and in documents, none
#: of them a family training draws from (``training/fonts``): a flagged 1 (Roboto, M+, Cantarell), an
#: old-style 1 like a small capital I (EB Garamond), serif, monospace and rounded figures.
SCREEN_FONTS = (
    "truetype/roboto/unhinted/RobotoTTF/Roboto-Regular.ttf",
    "truetype/roboto/unhinted/RobotoTTF/Roboto-Bold.ttf",
    "truetype/roboto/unhinted/RobotoTTF/Roboto-LightItalic.ttf",
    "opentype/mplus/Mplus1-Regular.otf",
    "opentype/mplus/Mplus1-Black.otf",
    "opentype/cantarell/Cantarell-Regular.otf",
    "opentype/cantarell/Cantarell-Light.otf",
    "truetype/noto/NotoSerif-Regular.ttf",
    "truetype/jetbrains-mono/JetBrainsMono-Regular.ttf",
    "truetype/hack/Hack-Regular.ttf",
    "truetype/andika/Andika-Regular.ttf",
    "opentype/ebgaramond/EBGaramond12-Regular.otf",
    "opentype/league-spartan/LeagueSpartan-Bold.otf",
    "truetype/oxygen/Oxygen-Sans.ttf",
    "truetype/tuffy/Tuffy.ttf",
)
#: For ``segment_numbers``: the faces of segment displays (DSEG: seven bars a digit, and fourteen),
#: which training never draws from.
SEGMENT_FONTS = (
    "truetype/dseg/DSEG7Classic-Regular.ttf",
    "truetype/dseg/DSEG7Classic-Bold.ttf",
    "truetype/dseg/DSEG7Classic-Italic.ttf",
    "truetype/dseg/DSEG7Classic-Light.ttf",
    "truetype/dseg/DSEG7ClassicMini-BoldItalic.ttf",
    "truetype/dseg/DSEG7Modern-Regular.ttf",
    "truetype/dseg/DSEG7Modern-BoldItalic.ttf",
    "truetype/dseg/DSEG7ModernMini-Light.ttf",
    "truetype/dseg/DSEG7Modern-Light.ttf",
    "truetype/dseg/DSEG14Classic-Regular.ttf",
)
#: Letters and symbols for ``font_not_digits``: as ``training.negatives.NOT_DIGIT_CHARS``, Latin and
#: common symbols only (what a handwriting font has).
NOT_DIGIT_CHARS = "ACEFHKLMNPRTUVWXYcefhkmnprtuvwxy#%@*+=<>{}&"
#: For ``font_percent``: a per cent sign alone and after a number (refused as a whole: a number with a
#: mark that is no digit is answered ``not_a_digit``), in every font of the sets.
PERCENT_TEXTS = ("%", "50%", "100%")
#: For ``font_punctuation``: numbers with a decimal point, a colon, a thousands comma, a minus sign
#: (refused: read without it, the number would be another).
PUNCTUATION_TEXTS = ("3.14", "12:30", "1,000", "-25")


@dataclass(frozen=True)
class Sample:
    """One upload: its bytes, the right answer (a number, or ``None``: must be refused as not a digit)
    and a name saying where it came from."""

    data: bytes
    answer: str | None
    name: str


def _png(image: Image.Image | np.ndarray) -> bytes:
    picture = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


# --------------------------------------------------------------------------------- stored font sets


def _text(text: str, font_file: str, height: int, rng: np.random.Generator) -> Image.Image:
    """``text`` typed in a font, about ``height`` pixels of ink tall, dark on light or light on dark."""
    font = ImageFont.truetype(str(FONT_ROOT / font_file), height)
    left, top, right, bottom = font.getbbox(text)
    margin = int(height * rng.uniform(0.3, 0.8))
    canvas = Image.new("L", (right - left + 2 * margin, bottom - top + 2 * margin), 255)
    ImageDraw.Draw(canvas).text((margin - left, margin - top), text, font=font, fill=0)
    return canvas if rng.random() < 0.8 else Image.eval(canvas, lambda v: 255 - v)


def _has(font_file: str, char: str) -> bool:
    from matplotlib.ft2font import FT2Font

    return ord(char) in FT2Font(str(FONT_ROOT / font_file)).get_charmap()


def render_font_sets(seed: int = 0) -> dict[str, list[tuple[str, Image.Image]]]:
    """The font sets as (file name, picture); the name starts with the answer (``x``: not a digit)."""
    rng = np.random.default_rng(seed)
    fonts = HANDWRITING_FONTS + TYPED_FONTS
    sets: dict[str, list[tuple[str, Image.Image]]] = {"font_digits": [], "font_numbers": [], "font_not_digits": []}
    for font_file in fonts:
        stem = Path(font_file).stem
        for digit in "0123456789":
            if _has(font_file, digit):
                sets["font_digits"].append(
                    (f"{digit}_{stem}.png", _text(digit, font_file, int(rng.integers(28, 160)), rng))
                )
        for i in range(2):
            number = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(2, 7))))
            if all(_has(font_file, d) for d in number):
                sets["font_numbers"].append(
                    (f"{number}_{stem}_{i}.png", _text(number, font_file, int(rng.integers(40, 120)), rng))
                )
        chars = [c for c in NOT_DIGIT_CHARS if _has(font_file, c)]
        for i, char in enumerate(rng.choice(chars, size=min(8, len(chars)), replace=False)):
            sets["font_not_digits"].append(
                (f"x_{stem}_{i}.png", _text(str(char), font_file, int(rng.integers(28, 160)), rng))
            )
    return sets


def render_symbol_set(texts: tuple[str, ...], seed: int) -> list[tuple[str, Image.Image]]:
    """A set of pictures to refuse as (file name, picture): each of ``texts`` in each font of the sets
    that has all its characters (``font_percent``: :data:`PERCENT_TEXTS`, seed 1; ``font_punctuation``:
    :data:`PUNCTUATION_TEXTS`, seed 2)."""
    rng = np.random.default_rng(seed)
    pictures = []
    for font_file in HANDWRITING_FONTS + TYPED_FONTS:
        for i, text in enumerate(texts):
            if all(_has(font_file, char) for char in text):
                pictures.append(
                    (f"x_{Path(font_file).stem}_{i}.png", _text(text, font_file, int(rng.integers(40, 160)), rng))
                )
    return pictures


def render_screen_numbers(seed: int = 3, per_font: int = 8) -> list[tuple[str, Image.Image]]:
    """``screen_numbers`` as (file name, picture): ``per_font`` numbers of 1-6 digits in each of
    :data:`SCREEN_FONTS`, 28-140 pixels tall, 80 % dark on light."""
    rng = np.random.default_rng(seed)
    pictures = []
    for font_file in SCREEN_FONTS:
        for i in range(per_font):
            number = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(1, 7))))
            picture = _text(number, font_file, int(rng.integers(28, 141)), rng)
            pictures.append((f"{number}_{Path(font_file).stem}_{i}.png", picture))
    return pictures


#: How ``segment_numbers`` shows its numbers: (name, paper or screen, lit bars, unlit bars' share of the
#: way from the screen to the lit colour; 0: not shown). A calculator's or a clock's LCD shows its
#: unlit bars faintly; an LED display shows none.
DISPLAYS = (
    ("print", (255, 255, 255), (0, 0, 0), 0.0),
    ("lcd", (170, 182, 160), (30, 36, 32), 0.1),
    ("lcd_dark", (25, 30, 40), (150, 230, 255), 0.08),
    ("led_red", (10, 8, 8), (255, 40, 30), 0.0),
    ("led_green", (5, 12, 8), (60, 255, 120), 0.06),
)


def render_segment_numbers(seed: int = 4, per_font: int = 8) -> list[tuple[str, Image.Image]]:
    """``segment_numbers`` as (file name, picture): ``per_font`` numbers of 1-6 digits in each of
    :data:`SEGMENT_FONTS`, 28-140 pixels tall, shown as one of :data:`DISPLAYS` (unlit bars: an 8 in
    each place, as these fonts are made to be used)."""
    rng = np.random.default_rng(seed)
    pictures = []
    for font_file in SEGMENT_FONTS:
        for i in range(per_font):
            number = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(1, 7))))
            name, screen, lit, unlit = DISPLAYS[int(rng.integers(len(DISPLAYS)))]
            font = ImageFont.truetype(str(FONT_ROOT / font_file), int(rng.integers(28, 141)))
            left, top, right, bottom = font.getbbox("8" * len(number))
            margin = int((bottom - top) * rng.uniform(0.3, 0.8))
            picture = Image.new("RGB", (right - left + 2 * margin, bottom - top + 2 * margin), screen)
            pen = ImageDraw.Draw(picture)
            if unlit:
                ghost = tuple(round(s + (c - s) * unlit) for s, c in zip(screen, lit, strict=True))
                pen.text((margin - left, margin - top), "8" * len(number), font=font, fill=ghost)
            pen.text((margin - left, margin - top), number, font=font, fill=lit)
            pictures.append((f"{number}_{Path(font_file).stem}_{name}_{i}.png", picture))
    return pictures


def symbol_sets() -> dict[str, list[tuple[str, Image.Image]]]:
    """The stored sets of typed symbols to refuse, by name (:func:`render_symbol_set`)."""
    return {
        "font_percent": render_symbol_set(PERCENT_TEXTS, seed=1),
        "font_punctuation": render_symbol_set(PUNCTUATION_TEXTS, seed=2),
    }


def write_font_sets(
    directory: Path = STORED, sets: dict[str, list[tuple[str, Image.Image]]] | None = None
) -> dict[str, int]:
    """Render the font sets (``sets``, by default all of them) into ``directory/<set>/``, replacing
    what is there; counts per set."""
    counts = {}
    if sets is None:
        sets = {
            **render_font_sets(),
            "screen_numbers": render_screen_numbers(),
            "segment_numbers": render_segment_numbers(),
            **symbol_sets(),
        }
    for name, pictures in sets.items():
        folder = directory / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()
        for file_name, picture in pictures:
            (folder / file_name).write_bytes(_png(picture))
        counts[name] = len(pictures)
    return counts


def stored(name: str, directory: Path = STORED) -> list[Sample]:
    """A stored set: the answer is the file name up to its first ``_`` (``x``: not a digit)."""
    samples = []
    for path in sorted((directory / name).glob("*.png")):
        answer = path.name.split("_", 1)[0]
        samples.append(Sample(path.read_bytes(), None if answer == "x" else answer, path.name))
    return samples


# -------------------------------------------------------------------------------- sets made at run time


def semi_transparent(digits: np.ndarray, labels: np.ndarray, seed: int = 0) -> list[Sample]:
    """Validation digits drawn on a transparent 280x280 canvas with a 15-60 % opaque brush of any colour."""
    rng = np.random.default_rng(seed)
    samples = []
    for i, (digit, label) in enumerate(zip(digits, labels, strict=True)):
        alpha = np.asarray(Image.fromarray(digit).resize((280, 280), Image.Resampling.BICUBIC), dtype=np.float32)
        canvas = np.zeros((280, 280, 4), dtype=np.uint8)
        canvas[..., :3] = rng.integers(0, 256, 3)
        canvas[..., 3] = np.round(alpha * rng.uniform(0.15, 0.6)).astype(np.uint8)
        samples.append(Sample(_png(canvas), str(int(label)), f"semi_transparent_{i}"))
    return samples


def notebook_pages(digits: np.ndarray, labels: np.ndarray, seed: int = 0) -> list[Sample]:
    """Validation digits written across the printed lines of a notebook page
    (:func:`tests.images.notebook_page`): ruled and squared in turn, lines 30-50 px apart, the page
    turned by up to 2 degrees, a JPEG of quality 75-95."""
    from tests.images import notebook_page

    def page(i: int, digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        paper = "squared" if i % 2 else "ruled"
        return notebook_page(digit, paper, tilt=float(rng.uniform(-2, 2)), spacing=int(rng.integers(30, 51)))

    return _photographed(digits, labels, page, "notebook_page", seed)


def form_boxes(digits: np.ndarray, labels: np.ndarray, seed: int = 0) -> list[Sample]:
    """Validation digits written into a form's printed box (:func:`tests.images.in_boxes`), the page
    turned by up to 2 degrees, a JPEG of quality 75-95."""
    from tests.images import in_boxes

    return _photographed(
        digits, labels, lambda _, d, rng: in_boxes([d], tilt=float(rng.uniform(-2, 2))), "form_box", seed
    )


def circled(digits: np.ndarray, labels: np.ndarray, seed: int = 0) -> list[Sample]:
    """Validation digits with a ring drawn round them by hand (:func:`tests.images.circled`), a JPEG of
    quality 75-95."""
    from tests.images import circled as ringed

    return _photographed(digits, labels, lambda _, d, rng: ringed(d, int(rng.integers(1 << 30))), "circled", seed)


def sloped_numbers(digits: np.ndarray, labels: np.ndarray, seed: int = 0) -> list[Sample]:
    """Numbers of 3 or 4 validation digits written on a line sloping 10-30 degrees up or down
    (:func:`tests.images.sloped`), a JPEG of quality 75-95: one number per 3.5 digits given."""
    from tests.images import sloped

    def picture(number: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
        return sloped(number, float(rng.uniform(10, 30) * rng.choice([-1, 1])))

    return _numbers(digits, labels, (3, 4), picture, "sloped", seed)


def turned_photos(
    digits: np.ndarray,
    labels: np.ndarray,
    seed: int = 0,
    degrees: tuple[float, float] = (5, 30),
    moved: tuple[float, float] | None = None,
) -> list[Sample]:
    """Numbers of 1-4 validation digits on a sheet photographed with the camera turned ``degrees``
    (5-30) either way, the table showing in the corners (:func:`tests.images.turned_sheet`; turned
    0.5-4 degrees, slivers of it: a crooked photo); with ``moved``, the sheet moved that share (least,
    most) of the picture's width towards a side, the table a band along the other; a JPEG of quality
    75-95: one picture per 2.5 digits given."""
    from tests.images import turned_sheet

    def picture(number: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
        angle = float(rng.uniform(*degrees) * rng.choice([-1, 1]))
        offset = (0, 0) if moved is None else _towards_a_side(rng, moved)
        return turned_sheet(number, angle, seed=int(rng.integers(1 << 30)), offset=offset)

    name = "turned" if degrees[0] >= 5 else "crooked" if moved is None else "off_centre"
    return _numbers(digits, labels, (1, 4), picture, name, seed)


def notebook_photos(digits: np.ndarray, labels: np.ndarray, seed: int = 0) -> list[Sample]:
    """Numbers of 1-4 validation digits on a ruled notebook page photographed at an angle, running off the
    frame, a table showing along one side (:func:`tests.images.notebook_photo`), a JPEG of quality 75-95:
    one picture per 2.5 digits given."""
    from tests.images import notebook_photo

    def picture(number: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
        return notebook_photo(number, seed=int(rng.integers(1 << 30)))

    return _numbers(digits, labels, (1, 4), picture, "notebook_photo", seed)


def blank_notebook_photos(count: int = 60, seed: int = 9) -> list[Sample]:
    """Blank ruled notebook pages photographed at an angle (:func:`tests.images.notebook_photo`), a JPEG
    of quality 75-95, all to refuse (``no_digit_found``): the margin line and the table's edge are no 1."""
    from tests.images import notebook_photo

    return _blanks(notebook_photo, count, seed, "blank_notebook")


def squared_photos(digits: np.ndarray, labels: np.ndarray, seed: int = 0) -> list[Sample]:
    """Numbers of 1-4 validation digits on squared paper photographed (:func:`tests.images.squared_photo`:
    grids of four colours, lines 1-4 px wide 14-41 px apart), a JPEG of quality 75-95: one picture per
    2.5 digits given."""
    from tests.images import squared_photo

    def picture(number: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
        return squared_photo(number, seed=int(rng.integers(1 << 30)))

    return _numbers(digits, labels, (1, 4), picture, "squared_photo", seed)


def blank_squared_photos(count: int = 60, seed: int = 12) -> list[Sample]:
    """Blank squared paper photographed (:func:`tests.images.squared_photo`), a JPEG of quality 75-95, all
    to refuse (``no_digit_found``): the grid is no digit."""
    from tests.images import squared_photo

    return _blanks(squared_photo, count, seed, "blank_squared")


def _blanks(photo: Callable[..., np.ndarray], count: int, seed: int, name: str) -> list[Sample]:
    """``count`` pictures of ``photo`` with nothing written (``photo([], seed=...)``), JPEGs of quality
    75-95, all to refuse."""
    from tests.images import jpeg

    rng = np.random.default_rng(seed)
    return [
        Sample(jpeg(photo([], seed=int(rng.integers(1 << 30))), int(rng.integers(75, 96))), None, f"{name}_{i}")
        for i in range(count)
    ]


def _towards_a_side(rng: np.random.Generator, shares: tuple[float, float]) -> tuple[int, int]:
    """An offset (right, down) in pixels moving :func:`tests.images.turned_sheet`'s sheet (800 px wide)
    ``shares`` (least, most) of the width towards one of the four sides, drawn from ``rng``."""
    distance = round(float(rng.uniform(*shares)) * 800)
    return [(distance, 0), (-distance, 0), (0, distance), (0, -distance)][int(rng.integers(4))]


def _a_table(rng: np.random.Generator) -> tuple[int, int, int]:
    """One of the tables a sheet lies on in the photos (:data:`tests.images.TABLES`), drawn from ``rng``."""
    from tests.images import a_table

    return a_table(rng)


def sheets_on_table(digits: np.ndarray, labels: np.ndarray, seed: int = 0) -> list[Sample]:
    """Numbers of 1-4 validation digits on a sheet lying wholly inside the photo on a darker table (wood,
    grey or near black; :func:`tests.images.sheet_on_table`), turned up to 30 degrees either way, 8-45 %
    of the frame, a JPEG of quality 75-95: one picture per 2.5 digits given."""
    from tests.images import sheet_on_table

    def picture(number: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
        degrees, share = float(rng.uniform(-30, 30)), float(rng.uniform(0.08, 0.45))
        table = _a_table(rng)
        return sheet_on_table(number, degrees, share, seed=int(rng.integers(1 << 30)), table=table)

    return _numbers(digits, labels, (1, 4), picture, "sheet", seed)


def shaded_sheets(digits: np.ndarray, labels: np.ndarray, seed: int = 0) -> list[Sample]:
    """Numbers of 1-4 validation digits on a sheet lying wholly inside the photo on a darker table of
    :data:`tests.images.TABLES`, turned up to 15 degrees either way, 15-45 % of the frame, a shadow's edge across
    the photo near its middle (:func:`tests.images.shaded_sheet`), a JPEG of quality 75-95: one picture
    per 2.5 digits given."""
    from tests.images import shaded_sheet

    def picture(number: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
        degrees, share = float(rng.uniform(-15, 15)), float(rng.uniform(0.15, 0.45))
        table = _a_table(rng)
        return shaded_sheet(number, degrees, share, seed=int(rng.integers(1 << 30)), table=table)

    return _numbers(digits, labels, (1, 4), picture, "shaded_sheet", seed)


def sunlit_sheets(digits: np.ndarray, labels: np.ndarray, seed: int = 0) -> list[Sample]:
    """Numbers of 1-3 validation digits on a sheet in direct sunlight: a shadow's edge sharp to 0.5-1.5 px
    across the photo (:func:`tests.images.sunlit_sheet`), the sheet filling the frame or (about half, at
    random) lying on a table, a JPEG of quality 75-95: one picture per 2 digits given."""
    from tests.images import sunlit_sheet

    def picture(number: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
        return sunlit_sheet(number, seed=int(rng.integers(1 << 30)), lying=bool(rng.integers(2)))

    return _numbers(digits, labels, (1, 3), picture, "sunlit_sheet", seed)


def sunlit_blank_sheets(count: int = 60, seed: int = 5) -> list[Sample]:
    """Sheets with nothing written on them in direct sunlight (:func:`tests.images.sunlit_sheet`), half
    filling the frame, half lying on a table, a JPEG of quality 75-95, all to refuse (``no_digit_found``)."""
    from tests.images import jpeg, sunlit_sheet

    rng = np.random.default_rng(seed)
    return [
        Sample(
            jpeg(sunlit_sheet([], int(rng.integers(1 << 30)), lying=i % 2 == 1), int(rng.integers(75, 96))),
            None,
            f"sunlit_blank_{i}",
        )
        for i in range(count)
    ]


def lamp_lit_pages(digits: np.ndarray, labels: np.ndarray, seed: int = 0) -> list[Sample]:
    """Numbers of 1-3 validation digits on a page lying turned on a dark table, a lamp's light falling
    off across the photo, half with a sharp shadow across it (:func:`tests.images.lamp_lit_page`), a JPEG
    of quality 75-95: one picture per 2 digits given."""
    from tests.images import lamp_lit_page

    def picture(number: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
        return lamp_lit_page(number, seed=int(rng.integers(1 << 30)))

    return _numbers(digits, labels, (1, 3), picture, "lamp_lit", seed)


def blank_lamp_lit_pages(count: int = 60, seed: int = 7) -> list[Sample]:
    """Pages with nothing written on them, lying turned on a dark table under a lamp
    (:func:`tests.images.lamp_lit_page`), a JPEG of quality 75-95, all to refuse (``no_digit_found``)."""
    from tests.images import lamp_lit_page

    return _blanks(lamp_lit_page, count, seed, "blank_lamp_lit")


def shadowed_photos(digits: np.ndarray, labels: np.ndarray, seed: int = 0) -> list[Sample]:
    """Numbers of 1-4 validation digits photographed with a shadow cast across them, a hand's (a
    half-plane) or a pen's (a band) (:func:`tests.images.shadowed`), a JPEG of quality 75-95: one
    picture per 2.5 digits given."""
    from tests.images import shadowed

    def picture(number: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
        return shadowed(number, seed=int(rng.integers(1 << 30)))

    return _numbers(digits, labels, (1, 4), picture, "shadowed", seed)


def phone_shadows(digits: np.ndarray, labels: np.ndarray, seed: int = 0) -> list[Sample]:
    """Numbers of 1-4 validation digits photographed with a phone's hard-edged shadow, in turn a block
    in a corner beside the number and over all of the picture but a lit band along one side
    (:func:`tests.images.phone_shadow`), a JPEG of quality 75-95: one picture per 2.5 digits given."""
    from tests.images import phone_shadow

    def picture(number: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
        return phone_shadow(number, str(rng.choice(["corner", "most"])), seed=int(rng.integers(1 << 30)))

    return _numbers(digits, labels, (1, 4), picture, "phone_shadow", seed)


def badges(count: int = 120, seed: int = 0) -> list[Sample]:
    """Screenshots of notification badges and round buttons (:func:`tests.images.badge`): numbers of 1-3
    drawn digits, 16-90 px tall, white on a disc or a pill of one of seven colours, on a light or a dark
    screen reaching 8 px to three times the number's height beyond it, as PNG."""
    from tests.images import badge, png

    colours = [(229, 57, 53), (33, 150, 243), (46, 125, 50), (103, 58, 183), (40, 40, 46), (255, 152, 0), (0, 150, 136)]
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(count):
        text = "".join(str(int(d)) for d in rng.integers(0, 10, int(rng.integers(1, 4))))
        height = int(rng.integers(16, 91))
        screen = (18, 18, 18) if rng.random() < 0.25 else (250, 250, 250)
        margin = int(rng.integers(8, 3 * height + 1))
        picture, _, _ = badge(text, colours[i % len(colours)], screen, height, max(3, height // 7), margin)
        samples.append(Sample(png(picture), text, f"badge_{i}"))
    return samples


def pencil_numbers(count: int = 120, seed: int = 0, lined: bool = False) -> list[Sample]:
    """Numbers of 1-4 digits written in pencil on a page photographed at 800x600 (:func:`tests.images.pencil_photo`:
    strokes 2-5 pixels wide, 100-220 tall, of graphite taking 15-45 % of the light), a JPEG of quality 75-95.
    The digits are :data:`tests.images.STROKES`' drawn ones: the set measures finding faint thin ink.
    ``lined``: on ruled paper with a red margin line (rules a pixel thin, too faint to be ink there)."""
    from tests.images import jpeg, pencil_photo

    rng = np.random.default_rng(seed)
    samples = []
    for i in range(count):
        text = "".join(str(int(d)) for d in rng.integers(0, 10, int(rng.integers(1, 5))))
        picture = pencil_photo(
            text,
            seed=int(rng.integers(1 << 30)),
            height=int(rng.integers(100, 221)),
            pen=int(rng.integers(2, 6)),
            absorb=float(rng.uniform(0.15, 0.45)),
            lined=lined,
        )
        samples.append(Sample(jpeg(picture, int(rng.integers(75, 96))), text, f"{'lined_' if lined else ''}pencil_{i}"))
    return samples


def _numbers(
    digits: np.ndarray,
    labels: np.ndarray,
    counts: tuple[int, int],
    picture: Callable[[list[np.ndarray], np.random.Generator], np.ndarray],
    name: str,
    seed: int,
) -> list[Sample]:
    """Numbers of ``counts`` (fewest, most) consecutive digits, each drawn by its ``picture`` and sent
    as a JPEG of quality 75-95."""
    from tests.images import jpeg

    rng = np.random.default_rng(seed)
    samples, start = [], 0
    while start + 4 <= len(digits):
        count = int(rng.integers(counts[0], counts[1] + 1))
        drawn = picture(list(digits[start : start + count]), rng)
        answer = "".join(str(int(label)) for label in labels[start : start + count])
        samples.append(Sample(jpeg(drawn, int(rng.integers(75, 96))), answer, f"{name}_{start}"))
        start += count
    return samples


def _photographed(
    digits: np.ndarray,
    labels: np.ndarray,
    page: Callable[[int, np.ndarray, np.random.Generator], np.ndarray],
    name: str,
    seed: int,
) -> list[Sample]:
    """Each digit on its ``page`` (made with the set's generator), as a JPEG of quality 75-95."""
    from tests.images import jpeg

    rng = np.random.default_rng(seed)
    samples = []
    for i, (digit, label) in enumerate(zip(digits, labels, strict=True)):
        picture = page(i, digit, rng)
        samples.append(Sample(jpeg(picture, int(rng.integers(75, 96))), str(int(label)), f"{name}_{i}"))
    return samples


Stroke = list[tuple[float, float]]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float, steps: int = 20) -> Stroke:
    angles = np.radians(np.linspace(start, stop, steps))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


#: Digits people write in two or more separate strokes (0-1 canvas units), the pieces apart.
MULTI_STROKE: dict[str, list[list[Stroke]]] = {
    "4": [
        [[(0.52, 0.15), (0.27, 0.58), (0.74, 0.58)], [(0.62, 0.32), (0.62, 0.88)]],  # bar crosses the stem
        [[(0.3, 0.15), (0.28, 0.55), (0.7, 0.55)], [(0.66, 0.18), (0.66, 0.88)]],  # an open 4: stem apart
        [[(0.32, 0.15), (0.3, 0.52), (0.62, 0.52)], [(0.68, 0.2), (0.68, 0.88)]],  # stem detached from the bar
        [[(0.3, 0.15), (0.28, 0.55), (0.58, 0.55)], [(0.66, 0.18), (0.66, 0.88)]],  # the bar stops short
        [[(0.45, 0.12), (0.25, 0.6), (0.6, 0.6)], [(0.68, 0.3), (0.68, 0.9)]],  # a closed 4, stem apart
    ],
    "5": [
        [[(0.36, 0.2), (0.33, 0.45), *_arc(0.5, 0.63, 0.2, 0.2, -130, 150)], [(0.4, 0.18), (0.72, 0.17)]],
        [[(0.36, 0.22), (0.33, 0.45), *_arc(0.5, 0.63, 0.2, 0.2, -130, 150)], [(0.45, 0.15), (0.75, 0.14)]],
        [[(0.36, 0.25), (0.33, 0.45), *_arc(0.5, 0.63, 0.2, 0.2, -130, 150)], [(0.42, 0.14), (0.75, 0.12)]],
    ],
    "7": [
        [[(0.28, 0.18), (0.72, 0.18), (0.45, 0.85)], [(0.42, 0.5), (0.7, 0.5)]],  # a crossed 7
        [[(0.28, 0.2), (0.7, 0.18)], [(0.66, 0.25), (0.45, 0.85)]],  # bar and stem apart
        [[(0.25, 0.15), (0.75, 0.15)], [(0.65, 0.24), (0.45, 0.88)]],
    ],
    "1": [[[(0.42, 0.22), (0.53, 0.14), (0.53, 0.8)], [(0.38, 0.86), (0.68, 0.86)]]],  # a 1 with a foot
    "9": [[_arc(0.48, 0.32, 0.17, 0.16, 0, 360), [(0.68, 0.3), (0.64, 0.88)]]],  # stem apart from the loop
    "6": [[[(0.64, 0.13), (0.44, 0.3), (0.35, 0.52)], _arc(0.5, 0.66, 0.16, 0.18, 0, 360)]],  # loop apart
    "8": [[_arc(0.5, 0.3, 0.15, 0.16, 0, 360), _arc(0.5, 0.67, 0.19, 0.2, 0, 360)]],  # two loops
}


def _draw(strokes: list[Stroke], size: int, width: int, rng: np.random.Generator, jitter: float) -> np.ndarray:
    image = Image.new("L", (size, size), 255)
    pen = ImageDraw.Draw(image)
    dx, dy = rng.normal(0, jitter, 2)
    for stroke in strokes:
        shift = rng.normal(0, jitter, 2)
        points = [((x + shift[0] + dx) * size, (y + shift[1] + dy) * size) for x, y in stroke]
        pen.line(points, fill=0, width=width, joint="curve")
    return np.asarray(image)


def continental_digits(digits: np.ndarray, labels: np.ndarray, per_digit: int = 150, seed: int = 0) -> list[Sample]:
    """Validation 1s and 7s as much of the world writes them, ``per_digit`` of each: a 1 with a long
    flag from its top down to the left (30-60 degrees, 0.2-0.4 of its height), a 7 with a bar across
    its stem (at 45-60 % of its height, 0.5-0.8 of its width). Each digit enlarged to 140-220 pixels,
    dark on light, the stroke added with a pen as wide as the digit's own strokes. Training draws its
    flags and bars otherwise (``training.writing_styles``: on the 28x28 images, before enlarging)."""
    from tests.images import pen_stroke

    rng = np.random.default_rng(seed)
    samples = []
    for digit in (1, 7):
        for i in np.flatnonzero(labels == digit)[:per_digit]:
            size = int(rng.integers(140, 221))
            big = Image.fromarray(255 - digits[i]).resize((size, size), Image.Resampling.BICUBIC)
            ink = np.asarray(big) < 128
            rows, cols = np.nonzero(ink)
            height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
            pen_width = float(ink.sum()) / ink.any(axis=1).sum() * 0.9
            pen = ImageDraw.Draw(big)
            if digit == 1:
                top = rows.min()
                x = float(cols[rows == top].mean())
                length, angle = rng.uniform(0.2, 0.4) * height, math.radians(rng.uniform(30, 60))
                end = (x - length * math.cos(angle), top + length * math.sin(angle))
                pen_stroke(pen, [(x, top + pen_width / 2), end], pen_width, 0)
            else:
                y = int(rows.min() + rng.uniform(0.45, 0.6) * height)
                stem = cols[rows == y]
                x, pen_width = float(stem.mean()), min(pen_width, 0.9 * (stem.max() - stem.min() + 1))
                half = rng.uniform(0.25, 0.4) * width
                pen_stroke(pen, [(x - half, y), (x + half, y + rng.uniform(-0.03, 0.03) * height)], pen_width, 0)
            samples.append(Sample(_png(big), str(digit), f"continental_{digit}_{i}"))
    return samples


def multi_stroke(seed: int = 0, repeats: int = 4) -> list[Sample]:
    """Each of :data:`MULTI_STROKE`'s ways, ``repeats`` times with jittered pieces, pens and sizes."""
    rng = np.random.default_rng(seed)
    samples = []
    for digit, ways in MULTI_STROKE.items():
        for w, strokes in enumerate(ways):
            for r in range(repeats):
                size = int(rng.integers(120, 400))
                picture = _draw(strokes, size, max(2, round(size * rng.uniform(0.03, 0.07))), rng, 0.01)
                samples.append(Sample(_png(picture), digit, f"multi_stroke_{digit}_{w}_{r}"))
    return samples


def hairline(seed: int = 0) -> list[Sample]:
    """:data:`tests.images.STROKES` digits drawn with a 1-2 pixel pen on a 400-800 pixel canvas."""
    from tests.images import STROKES

    rng = np.random.default_rng(seed)
    samples = []
    for digit, strokes in STROKES.items():
        for r in range(3):
            size = int(rng.integers(400, 800))
            picture = _draw(strokes, size, int(rng.integers(1, 3)), rng, 0.005)
            samples.append(Sample(_png(picture), str(digit), f"hairline_{digit}_{r}"))
    return samples


def small_decimals(count: int = 60, seed: int = 4) -> list[Sample]:
    """Decimals (one or two digits, a point, one or two digits) written small with a fine pen on a sheet
    photographed on a table (:func:`tests.images.number_on_sheet`): 110-300 pixels wide in an 800x600
    photo, a pen of 5-10 pixels at 200 high, a JPEG of quality 80-95, all to refuse (``not_a_digit``:
    read without its point, the number would be another)."""
    from tests.images import jpeg, number_on_sheet

    rng = np.random.default_rng(seed)
    samples = []
    for i in range(count):
        whole, fraction = (str(int(rng.integers(0, 10 ** int(rng.integers(1, 3))))) for _ in range(2))
        text = f"{whole}.{fraction}"
        width, pen = int(rng.integers(110, 301)), int(rng.integers(5, 11))
        picture = number_on_sheet(text, width, pen, seed=int(rng.integers(1 << 30)))
        samples.append(Sample(jpeg(picture, int(rng.integers(80, 96))), None, f"small_decimal_{i}_{text}"))
    return samples


def blank_sheets(count: int = 60, seed: int = 3) -> list[Sample]:
    """Sheets with nothing written on them photographed on a table, a JPEG of quality 75-95, all to refuse
    (``no_digit_found``): two in three filling the picture (:func:`tests.images.turned_sheet`), the camera
    turned 0.5-4 degrees (half of them) or 5-20 either way, the sheet moved 0-6 % of the picture's width
    towards a side; one in three lying wholly inside it (:func:`tests.images.sheet_on_table`), 8-50 % of
    it, turned up to 30 degrees either way, on a table of one of :data:`tests.images.TABLES`."""
    from tests.images import jpeg, sheet_on_table, turned_sheet

    rng = np.random.default_rng(seed)
    samples = []
    for i in range(count):
        if i % 3 == 2:
            table = _a_table(rng)
            share, angle = float(rng.uniform(0.08, 0.5)), float(rng.uniform(-30, 30))
            picture = sheet_on_table([], angle, share, seed=int(rng.integers(1 << 30)), table=table)
        else:
            angle = float(rng.uniform(*((0.5, 4) if i % 2 else (5, 20))) * rng.choice([-1, 1]))
            offset = _towards_a_side(rng, (0, 0.06))
            picture = turned_sheet([], angle, seed=int(rng.integers(1 << 30)), offset=offset)
        samples.append(Sample(jpeg(picture, int(rng.integers(75, 96))), None, f"blank_sheet_{i}"))
    return samples


def shapes(count: int = 200, seed: int = 7) -> list[Sample]:
    """Drawn shapes and scribbles (``training.negatives``, a seed training never uses): all to refuse."""
    from training import negatives

    half = count // 2
    pictures = negatives.drawings(negatives.SHAPES, half, seed) + negatives.drawings(
        negatives.SCRIBBLES, count - half, seed
    )
    return [Sample(_png(p), None, f"shape_{i}") for i, p in enumerate(pictures)]


def uci_handwriting() -> list[Sample]:
    """scikit-learn's copy of the UCI optical-recognition digits (43 writers, 8x8, grey levels 0-16),
    each enlarged to 64x64, light on dark."""
    from sklearn.datasets import load_digits

    data = load_digits()
    samples = []
    for i, (image, label) in enumerate(zip(data.images, data.target, strict=True)):
        grey = np.clip(image * 16, 0, 255).astype(np.uint8)
        big = Image.fromarray(grey).resize((64, 64), Image.Resampling.BICUBIC)
        samples.append(Sample(_png(big), str(int(label)), f"uci_{i}"))
    return samples


def all_sets(digits: np.ndarray, labels: np.ndarray) -> Iterator[tuple[str, list[Sample]]]:
    """Every set by name; ``digits``/``labels``: held-out MNIST digits for ``semi_transparent``."""
    for name in STORED_SETS:
        yield name, stored(name)
    yield "semi_transparent", semi_transparent(digits, labels)
    yield "notebook_pages", notebook_pages(digits, labels)
    yield "form_boxes", form_boxes(digits, labels)
    yield "circled", circled(digits, labels)
    yield "sloped_numbers", sloped_numbers(digits, labels)
    yield "turned_photos", turned_photos(digits, labels)
    yield "crooked_photos", turned_photos(digits, labels, seed=1, degrees=(0.5, 4))
    yield "off_centre_photos", turned_photos(digits, labels, seed=2, degrees=(0.5, 4), moved=(0.01, 0.06))
    yield "sheets_on_table", sheets_on_table(digits, labels)
    yield "notebook_photos", notebook_photos(digits, labels)
    yield "squared_photos", squared_photos(digits, labels)
    yield "shaded_sheets", shaded_sheets(digits, labels)
    yield "pencil_numbers", pencil_numbers()
    yield "lined_pencil", pencil_numbers(seed=1, lined=True)
    yield "shadowed_photos", shadowed_photos(digits, labels)
    yield "sunlit_sheets", sunlit_sheets(digits, labels)
    yield "phone_shadows", phone_shadows(digits, labels)
    yield "lamp_lit_pages", lamp_lit_pages(digits, labels)
    yield "badges", badges()
    yield "multi_stroke", multi_stroke()
    yield "hairline", hairline()
    yield "shapes", shapes()
    yield "blank_sheets", blank_sheets()
    yield "blank_notebook_photos", blank_notebook_photos()
    yield "blank_squared_photos", blank_squared_photos()
    yield "sunlit_blank_sheets", sunlit_blank_sheets()
    yield "blank_lamp_lit_pages", blank_lamp_lit_pages()
    yield "small_decimals", small_decimals()
    yield "uci_handwriting", uci_handwriting()


if __name__ == "__main__":
    fonts = HANDWRITING_FONTS + TYPED_FONTS + SCREEN_FONTS + SEGMENT_FONTS
    missing = [font for font in fonts if not (FONT_ROOT / font).exists()]
    if missing:
        sys.exit(f"missing fonts {missing}: apt-get install {' '.join(PACKAGES)}")
    print(write_font_sets())
