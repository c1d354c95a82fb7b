"""What the service answers, with the shipped model, beyond MNIST: digits typed in handwriting-like
and other fonts training never saw, numbers, semi-transparent canvases, digits written in separate
strokes, hairlines, handwriting from other writers (scikit-learn's UCI digits), and things that are
not digits (letters and symbols in those fonts, drawn shapes and scribbles), which must be refused.

The sets are :mod:`bench.recognition_sets` (``tests/bench/`` holds the font renderings); the floors
below sit a little under what the shipped model measures (``bench/results/recognition.json``), so a
model or preprocessing change that loses ground fails here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from bench import recognition_sets
from bench.recognition_bench import answers, summarise
from model.contract import STATUSES
from model.preprocess import Digit
from ops.archive import DEFAULT_ARCHIVE, load_archive
from tests import images

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def loaded() -> tuple[object, object]:
    return load_archive(DEFAULT_ARCHIVE)


@pytest.fixture(scope="module")
def digits(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return images.validation_digits(mnist_dir, 100)


def score(name: str, samples: list[recognition_sets.Sample], loaded) -> dict:
    return summarise(samples, answers(samples, loaded))


#: Per set, the least share read right (digit sets) or refused (not-a-digit sets).
FLOORS = {
    "font_digits": 0.97,
    "font_numbers": 0.88,
    "screen_numbers": 0.9,
    "segment_numbers": 0.3,
    "font_not_digits": 0.93,
    "font_percent": 0.84,
    "font_punctuation": 0.83,
    "multi_stroke": 0.95,
    "hairline": 0.97,
    "continental_digits": 0.92,
    "shapes": 0.95,
    "blank_sheets": 0.95,
    "uci_handwriting": 0.95,
    "notebook_pages": 0.97,
    "form_boxes": 0.97,
    "circled": 0.93,
    "sloped_numbers": 0.96,
    "turned_photos": 0.92,
    "crooked_photos": 0.92,
    "off_centre_photos": 0.92,
    "sheets_on_table": 0.85,
    "pencil_numbers": 0.9,
    "lined_pencil": 0.78,
    "shadowed_photos": 0.75,
    "phone_shadows": 0.9,
    "badges": 0.95,
    "notebook_photos": 0.85,
    "blank_notebook_photos": 0.7,
    "squared_photos": 0.9,
    "blank_squared_photos": 0.9,
    "lamp_lit_pages": 0.75,
    "blank_lamp_lit_pages": 0.65,
}


@pytest.mark.parametrize("name", recognition_sets.STORED_SETS)
def test_font_sets(name: str, loaded) -> None:
    result = score(name, recognition_sets.stored(name), loaded)
    key = "refused" if name in ("font_not_digits", "font_percent", "font_punctuation") else "read_right"
    assert result[key] >= FLOORS[name], result


def test_digits_in_fonts_are_seldom_refused(loaded) -> None:
    result = score("font_digits", recognition_sets.stored("font_digits"), loaded)
    assert result["refused_as_not_a_digit"] <= 0.01, result


def test_digits_written_in_separate_strokes_are_one_digit(loaded) -> None:
    result = score("multi_stroke", recognition_sets.multi_stroke(), loaded)
    assert result["read_right"] >= FLOORS["multi_stroke"], result


def test_flagged_1s_and_crossed_7s_are_read(loaded, mnist_dir: Path) -> None:
    """A 1 written with a long flag and a 7 with a bar across its stem, as in much of the world: the
    network trained on MNIST alone read a fifth of the 1s as 7s and an eighth of the 7s as 4s and 9s
    (docs/recognition.md)."""
    samples = recognition_sets.continental_digits(*images.validation_digits(mnist_dir, 600), per_digit=60)
    result = score("continental_digits", samples, loaded)
    assert result["read_right"] >= FLOORS["continental_digits"], result


def test_hairline_digits(loaded) -> None:
    result = score("hairline", recognition_sets.hairline(), loaded)
    assert result["read_right"] >= FLOORS["hairline"], result


def test_shapes_and_scribbles_are_refused(loaded) -> None:
    result = score("shapes", recognition_sets.shapes(), loaded)
    assert result["refused"] >= FLOORS["shapes"], result


def test_blank_sheets_photographed_on_a_table_are_blank(loaded) -> None:
    """Nothing written: the table's slivers and bands are no digits (30 % were read as a number, most
    as a 1, and the rest refused as not a digit; docs/model.md, step 3)."""
    samples = recognition_sets.blank_sheets(count=30)
    result = score("blank_sheets", samples, loaded)
    assert result["refused"] >= FLOORS["blank_sheets"], result
    assert result["refused_as_not_a_digit"] <= 0.1, result  # refused as blank: no_digit_found


def test_notebook_pages_photographed_at_an_angle(loaded, digits) -> None:
    """A ruled page photographed at an angle, running off the frame, a table along one side: the table
    along the far side was fitted as the paper, the page read as light ink and its number lost, and a blank
    page's slanting margin line read as a 1 (86.0 % of the bench's numbers read, 23.3 % of its blank pages
    read as a number; docs/model.md, step 3)."""
    result = score("notebook_photos", recognition_sets.notebook_photos(*digits), loaded)
    assert result["read_right"] >= FLOORS["notebook_photos"], result
    blank = score("blank_notebook_photos", recognition_sets.blank_notebook_photos(count=30), loaded)
    assert blank["refused"] >= FLOORS["blank_notebook_photos"], blank


def test_pages_lying_turned_under_a_lamp(loaded, digits) -> None:
    """A page lying turned on a dark table, a lamp's light falling off across the photo, half with a sharp
    shadow across it: the shadow's look took the page's edge for a shadow's, a turned page's margin line
    ended nowhere, two digits turned with the page were read upright (on two draws 81.7 % of 290 numbers read,
    67.5 % of 120 blank pages refused, before; docs/model.md, step 3)."""
    result = score("lamp_lit_pages", recognition_sets.lamp_lit_pages(*digits), loaded)
    assert result["read_right"] >= FLOORS["lamp_lit_pages"], result
    blank = score("blank_lamp_lit_pages", recognition_sets.blank_lamp_lit_pages(count=30), loaded)
    assert blank["refused"] >= FLOORS["blank_lamp_lit_pages"], blank


def test_numbers_on_squared_paper_photographed(loaded, digits) -> None:
    """Squared paper photographed close, its grid's lines 1-4 px wide: the lines stood out of the ink
    where the light was brightest, a grid's crossings were left as specks, strokes along a line were lost
    with it (81 % of this set's numbers read; docs/model.md, step 3); a blank page stays blank."""
    result = score("squared_photos", recognition_sets.squared_photos(*digits), loaded)
    assert result["read_right"] >= FLOORS["squared_photos"], result
    blank = score("blank_squared_photos", recognition_sets.blank_squared_photos(count=30), loaded)
    assert blank["refused"] >= FLOORS["blank_squared_photos"], blank


def test_handwriting_of_other_writers(loaded) -> None:
    result = score("uci", recognition_sets.uci_handwriting(), loaded)
    assert result["read_right"] >= FLOORS["uci_handwriting"], result
    assert result["refused_as_not_a_digit"] <= 0.012, result


def test_digits_on_notebook_pages_are_read(loaded, digits) -> None:
    """Written across the printed lines of ruled or squared paper (docs/model.md, step 3)."""
    result = score("notebook", recognition_sets.notebook_pages(*digits), loaded)
    assert result["read_right"] >= FLOORS["notebook_pages"], result


def test_digits_in_form_boxes_are_read(loaded, digits) -> None:
    """Written into a form's printed box (docs/model.md, step 4)."""
    result = score("form boxes", recognition_sets.form_boxes(*digits), loaded)
    assert result["read_right"] >= FLOORS["form_boxes"], result


def test_circled_digits_are_read(loaded, digits) -> None:
    """With a ring drawn round them by hand (docs/model.md, step 4), circled 1s among them."""
    result = score("circled", recognition_sets.circled(*digits), loaded)
    assert result["read_right"] >= FLOORS["circled"], result


def test_semi_transparent_canvases_read_like_opaque_ones(loaded, digits) -> None:
    result = score("semi", recognition_sets.semi_transparent(*digits), loaded)
    assert result["read_right"] >= 0.97, result


def _drawing(kind: str, size: int = 280) -> bytes:
    """What people draw to test a digit recogniser: a star, a heart, a smiley, a scribble, a cat."""
    canvas = Image.new("L", (size, size), 255)
    pen = ImageDraw.Draw(canvas)
    c, r, w = size / 2, size * 0.35, size // 25
    if kind == "star":
        return images.png(images.star(size))
    if kind == "heart":
        t = np.linspace(0, 2 * np.pi, 80)
        x, y = 16 * np.sin(t) ** 3, -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        pen.line([(c + 7 * a, c + 7 * b) for a, b in zip(x, y, strict=True)], fill=0, width=w, joint="curve")
    elif kind == "smiley":
        pen.ellipse((c - r, c - r, c + r, c + r), outline=0, width=w)
        for dx in (-0.35, 0.35):
            pen.ellipse((c + dx * r - w, c - 0.3 * r - w, c + dx * r + w, c - 0.3 * r + w), fill=0)
        pen.arc((c - 0.6 * r, c - 0.5 * r, c + 0.6 * r, c + 0.6 * r), 20, 160, fill=0, width=w)
    elif kind == "scribble":  # a pen going round and across, the way people fill a box
        t = np.linspace(0, 6 * np.pi, 300)
        x, y = np.sin(1.3 * t) + 0.4 * np.sin(4.1 * t + 1), np.sin(0.9 * t + 0.5) + 0.4 * np.cos(3.7 * t)
        pen.line(
            [(c + 0.6 * r * a, c + 0.6 * r * b) for a, b in zip(x, y, strict=True)], fill=0, width=w, joint="curve"
        )
    elif kind == "cat":
        pen.ellipse((c - r, c - 0.7 * r, c + r, c + r), outline=0, width=w)
        pen.line([(c - r * 0.9, c - 0.3 * r), (c - 0.7 * r, c - 1.1 * r), (c - 0.3 * r, c - 0.65 * r)], fill=0, width=w)
        pen.line([(c + r * 0.9, c - 0.3 * r), (c + 0.7 * r, c - 1.1 * r), (c + 0.3 * r, c - 0.65 * r)], fill=0, width=w)
        for dx in (-0.35, 0.35):
            pen.ellipse((c + dx * r - w, c - w, c + dx * r + w, c + w), fill=0)
    elif kind == "letter":
        pen.line([(c - r * 0.6, c + r), (c, c - r), (c + r * 0.6, c + r)], fill=0, width=w)  # an A
        pen.line([(c - r * 0.3, c + r * 0.2), (c + r * 0.3, c + r * 0.2)], fill=0, width=w)
    return images.png(np.asarray(canvas))


def answer(loaded, body: bytes) -> dict:
    """The endpoint's answer to an image, as the serving stack calls the handlers (``transform_fn``)."""
    model, handlers = loaded
    return json.loads(handlers.transform_fn(model, body, "image/png", "application/json")[0])


@pytest.mark.parametrize("kind", ["star", "heart", "smiley", "scribble", "cat", "letter"])
def test_a_drawing_that_is_no_digit_is_refused_with_its_own_code(kind: str, loaded) -> None:
    assert answer(loaded, _drawing(kind))["error"]["code"] == "not_a_digit"
    assert STATUSES["not_a_digit"] == 422


def test_a_digit_written_over_another_is_refused_as_unsure_not_guessed(loaded) -> None:
    """A 2 written over a 0 (a correction) was answered "2" at probability 0.25, stored as a success:
    under the confidence floor the answer is a refusal naming both readings (docs/recognition.md)."""
    error = answer(loaded, images.png(images.overwritten(0, 2)))["error"]
    assert error["code"] == "low_confidence" and STATUSES["low_confidence"] == 422
    assert re.search(r"it reads \d with probability 0\.\d\d or \d with 0\.\d\d", error["message"]), error
    assert "under the confidence floor 0.30" in error["message"]
    assert answer(loaded, images.png(images.draw_strokes(images.STROKES[2])))["number"] == "2"  # the 2 alone


def test_percent_signs_are_refused_not_read_as_96(loaded) -> None:
    """Typed % signs (from the letters and symbols of tests/bench) were answered "96": one mark read as
    no digit, cut into pieces read as a 9 and a 6 at 0.8-0.9. Of 107 fonts installed here, a % read
    "96" in 46 before the "digits that touch" output (docs/model.md, step 4)."""
    for name in ("x_CabinSketch-Regular_5.png", "x_FreeSerifBold_2.png", "x_Lato-Black_0.png"):
        body = (recognition_sets.STORED / "font_not_digits" / name).read_bytes()
        assert answer(loaded, body)["error"]["code"] == "not_a_digit", name


def test_a_percent_sign_run_into_the_digit_before_it_is_refused_not_read_as_digits(loaded) -> None:
    """ "50%" typed in Lobster: the 0 runs into the %, one mark read as digits that touch, and the cut
    through the % read "096" ("5096"), though another cut read the 0 and the % apart, the % as a
    symbol at 0.96. A cut is not taken where another reading sees a symbol (docs/model.md, step 4);
    these 12 pictures were all answered as numbers before."""
    fonts = Path(__file__).resolve().parent.parent / "training" / "fonts"
    for font in ("lobster.otf", "LobsterTwo-Italic.otf"):
        for text in ("50%", "100%"):
            for size in (60, 100, 150):
                body = images.png(images.typed(text, str(fonts / font), size))
                assert answer(loaded, body).get("error", {}).get("code") == "not_a_digit", (font, text, size)


def test_a_percent_sign_typed_apart_is_refused_not_read_as_digits(loaded) -> None:
    """A % whose rings are marks apart from its slash (Open Sans Condensed Bold, Liberation Sans): each
    mark read as a digit, "%" was answered "010" and "100%" "10040"; joined, the network reads a
    symbol (docs/model.md, step 4). Where it is less sure of the symbol than ``SURE_SYMBOL`` (the
    shipped network, at 0.80, on Liberation Sans' "100%"), the marks are read apart and the one across
    the slash is unsure: refused all the same, as ``low_confidence``."""
    percent = recognition_sets.STORED / "font_percent"
    assert answer(loaded, (percent / "x_OpenSans-CondBold_0.png").read_bytes())["error"]["code"] == "not_a_digit"
    reply = answer(loaded, (percent / "x_LiberationSans-Regular_2.png").read_bytes())
    assert "number" not in reply and reply["error"]["code"] in ("not_a_digit", "low_confidence"), reply


def test_a_number_with_one_mark_that_is_no_digit_is_refused(loaded) -> None:
    """ "12" then a star: the whole picture is refused (a number without the star would be one nobody wrote)."""
    number = 255 - images.draw_number("12", height=200)[..., 3]
    picture = np.concatenate([number, images.star(200)], axis=1)
    error = answer(loaded, images.png(picture))["error"]
    assert error["code"] == "not_a_digit" and "mark 3 of 3" in error["message"]
    assert answer(loaded, images.png(number))["number"] == "12"


def test_a_number_with_punctuation_is_refused_and_read_without_it(loaded) -> None:
    """A decimal point or a colon is not dropped as a speck: "3.14" is refused (it was answered 314),
    and the same digits without it are read."""
    for text in ("3.14", "12:30"):
        error = answer(loaded, images.png(images.draw_number(text)))["error"]
        assert error["code"] == "not_a_digit" and "between digits" in error["message"], text
        digits = text.replace(".", "").replace(":", "")
        assert answer(loaded, images.png(images.draw_number(digits)))["number"] == digits


def test_a_decimal_point_written_small_with_a_fine_pen_is_not_dropped(loaded) -> None:
    """A new user's "3.14" on a sheet photographed on a table was answered 314 at 0.94: its point, a
    few working pixels, fell under the speck limit (a share of the largest mark). A solid dot low in the
    gap between two digits is punctuation whatever its size (docs/model.md, step 4). Each of these was
    read without its point before."""
    for text, width, pen, seed in (("3.14", 330, 8, 0), ("2.5", 250, 8, 1), ("10.75", 420, 8, 2), ("0.5", 330, 12, 3)):
        photo = images.jpeg(images.number_on_sheet(text, width, pen, seed), quality=85)
        error = answer(loaded, photo)["error"]
        assert error["code"] == "not_a_digit" and "between digits" in error["message"], text
        digits = text.replace(".", "")
        assert answer(loaded, images.jpeg(images.number_on_sheet(digits, width, pen, seed), 85))["number"] == digits


def test_a_decimal_point_written_small_in_a_whole_page_photo_is_not_dropped(loaded) -> None:
    """A new user's decimals 110-250 pixels wide on a sheet in an 800x600 photo were answered without
    their point (3.14 read 314 at 0.91-0.96): reduced to the working size, the digits are about a dozen
    pixels tall and the point under the 2 a dot needs. A number that small is looked at again closer for
    punctuation, and a point seen is not undone by a second look (the sheets lying turned: read turned
    level, the number was read without it; docs/model.md, step 4). Each of these was read without its
    point before; the same digits without it are read as before."""
    cases = (("3.14", 150, 8, 5, 0), ("0.5", 200, 5, 6, 0), ("12.5", 250, 8, 7, 0), ("40.1", 180, 6, 9, 0))
    # ... and wider, 240-300 pixels with a fine pen (digits 21-25 working pixels tall: looked at closer
    # since 2026-12-03)
    cases += (("3.8", 240, 5, 0, 0), ("8.6", 280, 5, 1, 0), ("0.2", 300, 5, 0, 0))
    for text, width, pen, seed, degrees in (*cases, ("7.25", 120, 8, 8, 25), ("0.5", 90, 8, 4, 30)):
        photo = images.jpeg(images.number_on_sheet(text, width, pen, seed, degrees), 85)
        error = answer(loaded, photo)["error"]
        assert error["code"] == "not_a_digit" and "between digits" in error["message"], text
        digits = text.replace(".", "")
        assert (
            answer(loaded, images.jpeg(images.number_on_sheet(digits, width, pen, seed, degrees), 85))["number"]
            == digits
        )


def test_numbers_on_a_slope_are_read(loaded, digits) -> None:
    """Numbers of 3-4 digits written on a line sloping 10-30 degrees, read turned level (docs/model.md,
    step 4)."""
    result = score("sloped", recognition_sets.sloped_numbers(*digits), loaded)
    assert result["read_right"] >= FLOORS["sloped_numbers"], result


def test_photos_of_a_turned_sheet_are_read(loaded, digits) -> None:
    """Numbers of 1-4 digits on a sheet photographed with the camera turned 5-30 degrees, the table in
    the corners (docs/model.md, step 4)."""
    result = score("turned", recognition_sets.turned_photos(*digits), loaded)
    assert result["read_right"] >= FLOORS["turned_photos"], result


def test_numbers_on_a_sheet_photographed_a_little_crooked_are_read(loaded, digits) -> None:
    """Turned 0.5-4 degrees, the table shows as slivers a pixel or a few deep (docs/model.md, step 3)."""
    result = score("crooked", recognition_sets.turned_photos(*digits, seed=1, degrees=(0.5, 4)), loaded)
    assert result["read_right"] >= FLOORS["crooked_photos"], result


def test_numbers_on_a_crooked_sheet_off_centre_are_read(loaded, digits) -> None:
    """Turned 0.5-4 degrees and moved 1-6 % of the width towards a side: a band of table along one side
    joined to slivers along the next (docs/model.md, step 3)."""
    samples = recognition_sets.turned_photos(*digits, seed=2, degrees=(0.5, 4), moved=(0.01, 0.06))
    result = score("off_centre", samples, loaded)
    assert result["read_right"] >= FLOORS["off_centre_photos"], result


def test_numbers_on_a_sheet_lying_on_a_table_are_read(loaded, digits) -> None:
    """A sheet wholly inside the photo on a darker table, turned up to 30 degrees, 8-45 % of the frame:
    read alone, the table in its box's corners painted as its paper (docs/model.md, step 3)."""
    result = score("sheets_on_table", recognition_sets.sheets_on_table(*digits), loaded)
    assert result["read_right"] >= FLOORS["sheets_on_table"], result
    assert result["misread"] <= 0.05, result


def test_a_shadows_edge_across_a_sheet_and_the_table_is_divided_out_on_a_second_look(loaded, digits) -> None:
    """A hand's or a wall's shadow across a sheet lying on a table and the table: the lit part was read
    alone, or the shadow as ink, and the picture refused (37.5 % read). A refused photo is read again with
    the shadow's straight edge divided out (model.shadow_edge; docs/model.md, step 3), and so is one read
    unsure (the edge read as a stroke: 13.5 % of these misread without that, 8.1 % with it)."""
    result = score("shaded_sheets", recognition_sets.shaded_sheets(*digits), loaded)
    assert result["read_right"] >= 0.85, result
    assert result["misread"] <= 0.1, result


def test_a_sharp_shadow_across_paper_filling_the_photo_is_divided_out(loaded, digits) -> None:
    """Direct sunlight: a shadow's edge sharp to a pixel or so across the photo (the bench's ``sunlit_*``
    sets). Across paper filling the picture the shadow's look found no edge (it wanted the sheet and the
    table on its lit side), and the shaded part, the first look's lone mark, was read as a 1 or a 7 (12 of
    60 blank sheets; 6 of the first 30 here). An edge with one even surface on each side is taken when no
    edge with two is found (model.shadow_edge._paper_alone; docs/model.md, step 3)."""
    blank = score("sunlit_blank_sheets", recognition_sets.sunlit_blank_sheets(count=30), loaded)
    assert blank["refused"] >= 0.9, blank
    result = score("sunlit_sheets", recognition_sets.sunlit_sheets(*digits), loaded)
    assert result["read_right"] >= 0.75, result
    assert result["misread"] <= 0.12, result


def test_a_second_look_is_taken_only_when_the_first_is_refused_or_unsure(loaded, digits) -> None:
    """A picture read surely at the first look is answered so (the second look never runs), and a second
    look refused too leaves the first look's refusal: a blank page stays ``no_digit_found``."""
    model, handlers = loaded
    body = images.png(images.invert(images.resize(digits[0][0], 280)))
    read = handlers.input_fn(body, "image/png")

    def never() -> list:
        raise AssertionError("a second look at a picture read at the first")

    read.second_looks = (never,)
    assert handlers.predict_many([read], model)[0].digits
    star = handlers.input_fn(images.png(images.star()), "image/png")  # as a second look's reading
    star.first_look = handlers.InputError("no_digit_found", "no digit found (the first look)")
    with pytest.raises(handlers.InputError, match="the first look") as refused:
        handlers.output_fn(handlers.predict_many([star], model)[0], "application/json")
    assert refused.value.code == "no_digit_found"


def test_a_lone_line_a_second_look_finds_on_a_blank_picture_is_no_digit(loaded, monkeypatch) -> None:
    """A blank page's edge or printed line that the first look left out (``no_digit_found``), found by the
    shadow's second look as one line-shaped mark, was answered as a 1 (2 of 40 blank notebook pages of a
    probe, photographed at an angle, a dark rim along the page's edge): the first look's answer stands."""
    handlers = loaded[1]
    found = {"shadow_edge": [Digit(np.zeros((28, 28), np.uint8), (100, 0, 112, 300))]}

    def looks(data: bytes, shadow_edge: bool = False, sheet_level: bool = False, pair_level: bool = False) -> list:
        if sheet_level or pair_level:
            raise handlers.NoSecondLook
        if shadow_edge:
            return found["shadow_edge"]
        raise handlers.InputError("no_digit_found", "no digit found (the first look)")

    monkeypatch.setattr(handlers, "preprocess", looks)
    with pytest.raises(handlers.InputError, match="the first look"):
        handlers.input_fn(images.png(images.blank()), "image/png")
    found["shadow_edge"] = [Digit(np.zeros((28, 28), np.uint8), (100, 0, 300, 300))]  # no line: read
    assert len(handlers.input_fn(images.png(images.blank()), "image/png")) == 1


def test_nothing_is_turned_level_where_the_first_look_found_no_digit(loaded, monkeypatch) -> None:
    """Two digits on a slope (``pair_level``) or a sheet lying turned (``sheet_level``) are turned level
    only where reading them upright was refused as marks: where the first look found no digit, its marks
    were edges (a shadow's across a blank sheet on a table: trial 28's, turned level and read "11" at
    0.92; a blank ruled page turned level, its margin line read "1" or with the rules "5", 2 of 60
    `blank_lamp_lit_pages`) or none."""
    handlers = loaded[1]
    pair = [
        Digit(np.zeros((28, 28), np.uint8), (100, 0, 160, 100)),
        Digit(np.zeros((28, 28), np.uint8), (200, 0, 260, 100)),
    ]
    taken = []

    def looks(data: bytes, shadow_edge: bool = False, sheet_level: bool = False, pair_level: bool = False) -> list:
        if pair_level or sheet_level:
            taken.append("pair_level" if pair_level else "sheet_level")
            return pair
        if shadow_edge:
            raise handlers.NoSecondLook
        raise handlers.InputError("no_digit_found", "no digit found (the first look)")

    monkeypatch.setattr(handlers, "preprocess", looks)
    with pytest.raises(handlers.InputError, match="the first look"):
        handlers.input_fn(images.png(images.blank()), "image/png")
    assert taken == []


def test_a_blank_sheet_with_a_shadows_edge_across_it_is_blank(loaded) -> None:
    """The edge was the mark, refused as not a digit ("looks like a letter, symbol, shape or scribble":
    a new user's blank sheets); with the shadow taken out nothing is left: ``no_digit_found``."""
    for seed, degrees in ((1, 0), (2, 8), (6, 0), (9, 8)):
        photo = images.jpeg(images.shaded_sheet([], degrees, 0.4, seed=seed), 85)
        assert answer(loaded, photo)["error"]["code"] == "no_digit_found", (seed, degrees)


def test_a_blank_sheet_whose_shadow_edge_reads_as_a_1_is_blank(loaded, digits) -> None:
    """The edge was the lone mark, read as a 1 at the first look (a new user's trial: 5 of 24 blank
    shaded sheets): a lone mark in a photo is looked at with the shadow's edge divided out, and nothing
    left is ``no_digit_found``. Each of these was answered 1 before; a digit on such a sheet is read."""
    for seed, degrees in ((3, 0), (3, 8), (4, 0), (5, 8), (10, 0)):
        photo = images.jpeg(images.shaded_sheet([], degrees, 0.4, seed=seed), 85)
        assert answer(loaded, photo)["error"]["code"] == "no_digit_found", (seed, degrees)
    images_, labels = digits
    for k in range(5):
        photo = images.jpeg(images.shaded_sheet([images_[k]], 0, 0.4, seed=3 + k), 85)
        assert answer(loaded, photo).get("number") == str(labels[k]), k


def test_a_blank_sheet_on_a_dark_table_whose_shadow_reads_as_a_1_is_blank(loaded) -> None:
    """Blank sheets on the darkest table, a shadow's edge across them and the table (the bench's
    ``shaded_sheets`` without the digits): the shaded part was the first look's lone mark, read as a 1 at
    0.87-0.93, and with the edge divided out the marks left were too small or faint for a digit, read
    closer, or a line along the edge, or where it crosses the sheet's edge (4 of 120 read 1; a hard edge
    leaves a line: docs/model.md, step 3). The lone mark gone, nothing left, or one line the first look
    did not see, is ``no_digit_found``; the shadow's look is not taken again."""
    rng = np.random.default_rng(21)
    for k in range(30):
        table = images.a_table(rng)
        degrees, share = float(rng.uniform(-15, 15)), float(rng.uniform(0.15, 0.45))
        sheet = images.shaded_sheet([], degrees, share, seed=int(rng.integers(1 << 30)), table=table)
        photo = images.jpeg(sheet, int(rng.integers(75, 96)))
        assert answer(loaded, photo)["error"]["code"] == "no_digit_found", k


@pytest.mark.parametrize(("seed", "quality"), [(625500707, 86), (285905249, 85), (736609717, 82), (367866957, 83)])
def test_a_lone_slanting_line_a_second_look_finds_on_a_blank_page_is_no_digit(seed: int, quality: int, loaded) -> None:
    """Blank pages lying turned under a lamp, no digit found at the first look: a second look found one
    mark, the page's edge or margin line slanting with the page, and it was read as a 1. A lone line at
    any slant (``is_straight``), not only upright or level (``is_line``), is no answer there."""
    photo = images.jpeg(images.lamp_lit_page([], seed=seed), quality)
    assert answer(loaded, photo)["error"]["code"] == "no_digit_found"


@pytest.mark.parametrize("k", [2, 3, 18, 29, 37, 43])
def test_two_digits_on_a_slope_read_wrong_upright_are_read_turned_level(k: int, loaded, digits) -> None:
    """Two digits written on a sheet photographed turned 22-31 degrees: read upright, each digit turned
    past what the network learnt, the number was refused or misread (45 refused, 67 read 611, 89 read
    601). The first look turns only numbers of three marks or more level (two centres do not tell a
    slope from the digits' shapes); a second look, taken only when the first is refused or unsure,
    turns two marks on a slope level (``pair_level``)."""
    pictures, labels = digits
    degrees = (22 + (k % 4) * 3) * (1 if k % 2 else -1)
    photo = images.jpeg(images.turned_sheet(list(pictures[2 * k : 2 * k + 2]), degrees, seed=k), 85)
    assert answer(loaded, photo).get("number") == f"{labels[2 * k]}{labels[2 * k + 1]}"


@pytest.mark.parametrize(("seed", "quality"), [(127864392, 84), (366793889, 80), (491742290, 86), (992982137, 77)])
def test_a_pages_edge_against_a_dark_table_is_no_shadows_edge(seed: int, quality: int, loaded) -> None:
    """Blank pages lying turned on a dark table under a lamp (the bench's ``blank_lamp_lit_pages``; a new
    user's trial: a blank ruled page turned 25 degrees, "1" at 0.94): the shadow's look took the page's
    edge against the table for a shadow's and lifted the table to the paper's light, or divided out a
    sharp shadow whose median profile left a hairline along its edge; either was read as a 1 where the
    first look found no digit. A step deeper than a shadow's (``EDGE_DEEPEST``) is no shadow's edge, and
    the marks lying along a divided edge are what the division left of it."""
    photo = images.jpeg(images.lamp_lit_page([], seed=seed), quality)
    assert answer(loaded, photo)["error"]["code"] == "no_digit_found"


@pytest.mark.parametrize(("seed", "quality"), [(525075279, 75), (663080602, 92), (920948314, 95)])
def test_a_turned_pages_margin_line_ends_at_the_pages_edge(seed: int, quality: int, loaded) -> None:
    """A blank ruled page lying turned on a table is read alone, the table beyond its edges painted as its
    paper; its margin line, slanting with it from edge to edge, ended nowhere in the picture read and was
    read as a 1. The table beyond the page is where a margin line ends (``find_digits``'s ``beyond``), as
    the table taken out of a photo is."""
    photo = images.jpeg(images.lamp_lit_page([], seed=seed), quality)
    assert answer(loaded, photo)["error"]["code"] == "no_digit_found"


@pytest.mark.parametrize("degrees", [0, 5, -8])
def test_a_card_with_a_number_written_large_on_it_is_read_alone(degrees: float, loaded) -> None:
    """A card on a wood table, a number written on it with a thick pen nearly edge to edge (a new user's
    58, 164 and 4096: refused as not a digit in 14 of 15 photos, the card read as one mark). Its strokes,
    enclosed by the card, are 14-22 % of its box: more than a sheet's writing, so the card was taken for
    a mark that is no sheet (a thick 0's hole) and, with its holes, for one turned, and a rectangle
    holding writing as long as 4096's (over twice as wide as tall) for a bar. What a card encloses counts
    as the card when it is a rectangle, holding writing it may be any length (sheets.SHEET_WRITTEN,
    _writing_across; docs/model.md, step 3)."""
    for text in ("58", "164", "4096", "23"):
        photo = images.jpeg(images.card_on_table(text, degrees, seed=len(text)), 88)
        assert answer(loaded, photo).get("number") == text, (text, answer(loaded, photo))


@pytest.mark.parametrize(("degrees", "upright"), [(0, False), (8, False), (-15, False), (0, True)])
def test_a_strip_of_paper_across_the_photo_is_read_alone(degrees: float, upright: bool, loaded) -> None:
    """A receipt or a ticket running from edge to edge of the photo on a dark table (a new user's probe:
    6 of 14 read; from top to bottom read 1 at 0.93 whatever was written on it, across and slanting
    refused as one mark 800 pixels wide; ``tests.images.strip_on_table``: 4 of 24 read). A region that
    crosses the picture is tried as a sheet lying turned whatever share of its box it fills, and one
    holding writing (marks a quarter of its width long: the strip's width, not its length) may be as long
    as it is (docs/model.md, step 3)."""
    for text in ("60", "2535", "14", "4"):
        photo = images.jpeg(images.strip_on_table(text, degrees, seed=len(text), upright=upright), 88)
        assert answer(loaded, photo).get("number") == text, (text, answer(loaded, photo))


def test_a_sheet_lying_turned_far_is_read_either_way_its_number_is_written(loaded, digits) -> None:
    """A sheet lying askew on a table: people write along its edges, or upright before them. The first
    look reads the writing upright in the picture; refused, a sheet turned 12 degrees or more is read
    again turned level (docs/model.md, step 3). Turned 30-36 degrees, numbers written along the sheet
    were read 4 of 15 times at 36 degrees."""
    images_, labels = digits
    right = 0
    for k in range(10):
        number = images_[2 * k : 2 * k + 2]
        degrees = (30, -33, 36, -36, 34)[k % 5]
        photo = images.jpeg(images.sheet_on_table(list(number), degrees, 0.3, seed=k), 88)
        right += answer(loaded, photo).get("number") == "".join(str(d) for d in labels[2 * k : 2 * k + 2])
    assert right >= 7, right
    for text, degrees in (("14", 30), ("3", -28)):  # written upright on the turned sheet: the first look
        photo = images.jpeg(images.number_on_sheet(text, 160, 12, seed=1, degrees=degrees), 88)
        assert answer(loaded, photo)["number"] == text


def test_a_sheet_lying_turned_40_degrees_is_a_sheet(loaded, digits) -> None:
    """From 38 degrees a sheet filled under half its box and was taken for one mark, refused as not a
    digit (a new user's 729, 58 and 264 on sheets turned 35-40 degrees; trial 20's 6082 read 0). A
    sheet turned any way fills 0.44 of its box or more (``SHEET_FILL``): read alone, turned level when
    its number runs along it. Turned 40 degrees either way, 4 of these 10 were read before, now 10."""
    images_, labels = digits
    right = 0
    for k in range(10):
        photo = images.jpeg(images.sheet_on_table(list(images_[2 * k : 2 * k + 2]), (40, -40)[k % 2], 0.3, seed=k), 88)
        right += answer(loaded, photo).get("number") == "".join(str(d) for d in labels[2 * k : 2 * k + 2])
    assert right >= 8, right
    for seed, degrees in ((0, 42), (1, -40)):
        blank = images.jpeg(images.sheet_on_table([], degrees, 0.3, seed=seed), 85)
        assert answer(loaded, blank)["error"]["code"] == "no_digit_found", (seed, degrees)


def test_numbers_with_a_shadow_cast_across_them_are_read(loaded, digits) -> None:
    """Numbers photographed with a hand's or a pen's shadow across them (docs/model.md, step 3)."""
    result = score("shadowed", recognition_sets.shadowed_photos(*digits), loaded)
    assert result["read_right"] >= FLOORS["shadowed_photos"], result


def test_numbers_written_in_pencil_are_read(loaded) -> None:
    """Numbers in faint thin pencil lines on a photographed page (docs/model.md, step 3)."""
    result = score("pencil", recognition_sets.pencil_numbers(), loaded)
    assert result["read_right"] >= FLOORS["pencil_numbers"], result


def test_numbers_written_in_pencil_beside_a_margin_line_are_read(loaded) -> None:
    """Pencil on ruled paper whose red margin line is ink and its rules are not (docs/model.md, step 3)."""
    result = score("lined", recognition_sets.pencil_numbers(seed=1, lined=True), loaded)
    assert result["read_right"] >= FLOORS["lined_pencil"], result


def test_numbers_beside_or_inside_a_phone_shadow_are_read(loaded, digits) -> None:
    """A phone's hard-edged shadow in a corner beside the number, or over all but a lit band
    (docs/model.md, step 3)."""
    result = score("phone", recognition_sets.phone_shadows(*digits), loaded)
    assert result["read_right"] >= FLOORS["phone_shadows"], result


def test_numbers_on_badges_and_round_buttons_are_read(loaded) -> None:
    """Screenshots of notification badges and round buttons, light and dark screens (docs/model.md, step 3)."""
    result = score("badges", recognition_sets.badges(), loaded)
    assert result["read_right"] >= FLOORS["badges"], result
