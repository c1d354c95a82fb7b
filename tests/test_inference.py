"""The SageMaker handlers with the shipped model: what people send is read right, the handlers keep
the container's contract, and every bad input gets its documented error.

Accuracy is measured on held-out validation digits (never trained on) turned into the pictures people
actually upload; the hand-drawn digits and numbers must be read exactly.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import tarfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.contract import STATUSES, InputError
from model.inference import IMAGE_CONTENT_TYPES, LoadedModel
from ops.archive import DEFAULT_ARCHIVE, load_archive
from tests import images

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
SET_SIZE = 30


@pytest.fixture(scope="module")
def loaded() -> tuple[LoadedModel, object]:
    return load_archive(DEFAULT_ARCHIVE)


@pytest.fixture(scope="module")
def digits(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return images.validation_digits(mnist_dir, SET_SIZE)


def read(loaded, body: bytes | str, content_type: str = "image/png") -> dict:
    """``transform_fn``, as the serving stack calls it; the parsed JSON response."""
    model, handlers = loaded
    answer, _ = handlers.transform_fn(model, body, content_type, "application/json")
    return json.loads(answer)


def numbers(loaded, bodies: list[bytes]) -> list[str]:
    """The number read from each body, all in one forward pass (``predict_many``)."""
    model, handlers = loaded
    predictions = handlers.predict_many([handlers.input_fn(body, "application/x-image") for body in bodies], model)
    return ["".join(str(int(p.argmax())) for p in prediction.probabilities) for prediction in predictions]


def error_of(loaded, body: bytes | str, content_type: str) -> InputError:
    _, handlers = loaded
    with pytest.raises(InputError) as info:
        handlers.input_fn(body, content_type)
    return info.value


# ------------------------------------------------------------------------------------------ accuracy

TRANSFORMS: dict[str, Callable[[np.ndarray], bytes]] = {
    "mnist_as_png": images.png,
    "enlarged_dark_on_light": lambda d: images.png(images.invert(images.resize(d, 280))),
    "canvas_alpha_black_stroke": lambda d: images.png(images.alpha_only(d, (0, 0, 0))),
    "canvas_alpha_white_stroke": lambda d: images.png(images.alpha_only(d, (255, 255, 255))),
    "off_centre_large_canvas": lambda d: images.png(images.invert(images.place(d, (1000, 800), (820, 620), 5))),
    "tiny_14px": lambda d: images.png(images.invert(images.resize(d, 14))),
    "tiny_10px": lambda d: images.png(images.invert(images.resize(d, 10))),
    "noisy_jpeg_q15": lambda d: images.jpeg(images.invert(images.resize(d, 200)), 15),
    "paper_photo_uneven_light": lambda d: images.jpeg(images.paper_photo(d, seed=int(d.sum()) % 1000), 80),
    # Written across the printed lines of a notebook: 4 and 22 of 30 read right before they were taken out.
    "ruled_notebook_page": lambda d: images.jpeg(images.notebook_page(d, "ruled", tilt=1.0), 85),
    "squared_notebook_page": lambda d: images.jpeg(images.notebook_page(d, "squared", tilt=-1.5), 85),
    # Written into a form's printed box: 8 of 30 read before the box was told from the digit.
    "in_a_form_box": lambda d: images.jpeg(images.in_boxes([d], tilt=1.5), 85),
}


@pytest.mark.parametrize("transform", list(TRANSFORMS))
def test_transformed_validation_digits_are_read(transform: str, loaded, digits) -> None:
    pictures, labels = digits
    got = numbers(loaded, [TRANSFORMS[transform](d) for d in pictures])
    correct = sum(g == str(label) for g, label in zip(got, labels, strict=True))
    assert correct / len(labels) >= 0.95, (transform, got, labels.tolist())


def test_a_number_written_into_a_forms_boxes_is_read(loaded, digits) -> None:
    """One digit per printed box of a form's field (the boxes one component of lines): each box's digit
    is read, left to right; before, the boxes and the digits were one mark, refused."""
    pictures, labels = digits
    # Rows of four in wide boxes, and rows of six in small boxes with thick lines that the digits touch
    # (a new user's form: its lines were taken for a digit's strokes, or the digits touching them lost).
    rows = [(i, 4, 140, 2) for i in range(0, 28, 4)] + [(i, 6, 80, 4) for i in range(0, 24, 6)]
    bodies = [
        images.jpeg(images.in_boxes(list(pictures[i : i + n]), tilt=0.8 * (i % 3 - 1), cell=cell, line=line), 85)
        for i, n, cell, line in rows
    ]
    truths = ["".join(str(label) for label in labels[i : i + n]) for i, n, _, _ in rows]
    assert sum(got == truth for got, truth in zip(numbers(loaded, bodies), truths, strict=True)) >= 10


def test_huge_photo_is_read(loaded, digits) -> None:
    pictures, labels = digits
    bodies = [images.jpeg(images.invert(images.resize(d, 3000)), 85) for d in pictures[:10]]
    got = numbers(loaded, bodies)
    assert sum(g == str(label) for g, label in zip(got, labels[:10], strict=True)) >= 9


def test_hand_drawn_digits_are_read_exactly(loaded) -> None:
    for width in (12, 18, 30):  # thin, medium and thick brushes
        bodies = [images.png(images.draw_strokes(images.STROKES[k], width=width)) for k in range(10)]
        assert numbers(loaded, bodies) == [str(k) for k in range(10)], width
    white_on_black = images.draw_strokes(images.STROKES[7], color=(255, 255, 255, 255), background=(0, 0, 0, 255))
    assert numbers(loaded, [images.png(white_on_black)]) == ["7"]


def test_fine_pen_photos_are_read_exactly(loaded) -> None:
    bodies = [images.jpeg(images.pen_photo(images.STROKES[k], seed=k), 80) for k in range(10)]
    assert numbers(loaded, bodies) == [str(k) for k in range(10)]


def test_sheet_of_paper_on_a_table_is_read(loaded, digits) -> None:
    """The table around the sheet is darker than the paper but is not the digit."""
    pen = [images.jpeg(images.on_table(images.pen_photo(images.STROKES[k], seed=k), seed=k), 85) for k in range(10)]
    assert numbers(loaded, pen) == [str(k) for k in range(10)]
    pictures, labels = digits
    mnist = [images.jpeg(images.on_table(images.paper_photo(d, seed=i)), 85) for i, d in enumerate(pictures[:10])]
    assert sum(g == str(label) for g, label in zip(numbers(loaded, mnist), labels[:10], strict=True)) >= 9


@pytest.mark.parametrize("text", ["2026", "1234567890", "417", "11", "90"])
def test_drawn_numbers_are_read_exactly(text: str, loaded) -> None:
    response = read(loaded, images.png(images.draw_number(text)))
    assert response["number"] == text
    assert response["digit"] == (int(text) if len(text) == 1 else None)
    boxes = [d["box"] for d in response["digits"]]
    assert [b[0] for b in boxes] == sorted(b[0] for b in boxes)


def test_drawn_numbers_whose_digits_touch_are_read_or_refused(loaded) -> None:
    """Written quickly, digits run into each other: one mark, cut where the network reads digits
    (before cuts: "2026" read as "202", "1234567890" as "1236890"; "507" is one mark of three). At
    this spacing a cut is not always sure enough, and a mark the network reads as no digit is then
    refused rather than guessed (measured on 60 random numbers at spacing 0.45: 58 read right, 2
    refused; at 0.4, 47 right, 10 refused, 3 misread): of these six, five touch, five or more read
    right, none misread."""
    _, handlers = loaded
    answers, touching = {}, 0
    for text in ("2026", "1234567890", "56", "79", "1357", "507"):
        body = images.png(images.draw_number(text, spacing=0.45))
        touching += len(handlers.input_fn(body, "image/png")) < len(text)  # digits touch: fewer marks
        answer = read(loaded, body)
        answers[text] = answer.get("number", answer.get("error", {}).get("code"))
    assert touching >= 5
    assert sum(got == text for text, got in answers.items()) >= 5, answers
    assert set(answers.values()) <= set(answers) | {"not_a_digit"}, answers


def test_touching_digits_the_network_reads_as_one_are_cut(loaded) -> None:
    """Two 4s whose bars run into each other read as one 4 at 0.80-0.88, their cut at 0.95: the cut is
    taken (measured on 60 random numbers at spacing 0.5: 57 read right before, 60 after; "44" at 0.5
    with twelve seeds: 3 before, 12 after)."""
    for text, seed, spacing in (("44", 1, 0.5), ("744", 4, 0.55), ("944", 3, 0.5)):
        assert read(loaded, images.png(images.draw_number(text, seed=seed, spacing=spacing)))["number"] == text


def test_numbers_drawn_with_ordinary_spacing_are_read(loaded) -> None:
    """Digits apart, however close (spacing 0.5 of a digit's width and more): every digit found."""
    rng = np.random.default_rng(7)
    texts = ["".join(str(d) for d in rng.integers(0, 10, int(rng.integers(3, 8)))) for _ in range(20)]
    bodies = [images.png(images.draw_number(text, spacing=spacing)) for text in texts for spacing in (0.5, 0.8)]
    assert numbers(loaded, bodies) == [text for text in texts for _ in (0.5, 0.8)]


def test_touching_mnist_digits_are_read_as_numbers(loaded, mnist_dir) -> None:
    """Pairs of validation digits whose strokes run into each other (2 pixels of overlap at MNIST's
    scale): measured 80 % of 300 read right; 43 % when a mark was always read as one digit."""
    pictures, labels = images.validation_digits(mnist_dir, 80, seed=5)
    bodies, truths = [], []
    for i in range(0, 80, 2):
        strip = images.number(list(pictures[i : i + 2]), gap=-2)
        bodies.append(images.png(images.invert(images.resize(strip, (strip.shape[1] * 5, strip.shape[0] * 5)))))
        truths.append(f"{labels[i]}{labels[i + 1]}")
    right = sum(got == truth for got, truth in zip(numbers(loaded, bodies), truths, strict=True))
    assert right >= 28, f"{right} of 40 touching pairs read right"


def test_a_1_written_against_its_neighbour_is_cut(loaded, mnist_dir) -> None:
    """A 1 touching its neighbour ("41", "17") is one mark narrower than tall, which used to be read
    as the other digit alone; the network's "digits that touch" output now says when to cut it too
    (measured on these 40: 21 read right before, 26-27 with it; on 240 such pairs 177 -> 197-200)."""
    pictures, labels = images.validation_digits(mnist_dir, 1000, seed=11)
    ones, others, other_labels = pictures[labels == 1][:20], pictures[labels != 1][:20], labels[labels != 1][:20]
    bodies, truths = [], []
    for one, other, label in zip(ones, others, other_labels, strict=True):
        for pair, text in (([other, one], f"{label}1"), ([one, other], f"1{label}")):
            strip = images.number(pair, gap=-2)
            bodies.append(images.png(images.invert(images.resize(strip, (strip.shape[1] * 5, strip.shape[0] * 5)))))
            truths.append(text)
    right = sum(got == truth for got, truth in zip(numbers(loaded, bodies), truths, strict=True))
    assert right >= 25, f"{right} of 40 pairs with a 1 read right"


def test_wide_single_digits_are_not_cut(loaded, mnist_dir) -> None:
    """Every digit at least as wide as tall may be cut in two if the network is unsure of it: a digit
    read right as one with some confidence must stay one (measured: 4 of 3,000 renderings of 1,500
    digits cut, all of digits read as one with confidence under 0.45; one of them right; with the
    "digits that touch" output, 2 of 3,000, both renderings of one 2 drawn like a check mark, read
    as one at 0.46 given a digit, 0.32 no digit, 0.12 digits that touch, and cut as "71" by both
    networks). Marks narrower than tall offer cuts too, tried only when read as digits that touch."""
    from model.preprocess import Digit

    model, handlers = loaded
    pictures, labels = images.validation_digits(mnist_dir, 400, seed=3)
    found = [handlers.input_fn(images.png(images.invert(images.resize(p, 280))), "image/png") for p in pictures]
    wide = [(digits, label) for digits, label in zip(found, labels, strict=True) if digits[0].cuts is not None]
    assert len(wide) >= 30
    as_read = handlers.predict_many([digits for digits, _ in wide], model)
    whole = handlers.predict_many([[Digit(d.pixels, d.box) for d in digits] for digits, _ in wide], model)
    cut = [i for i, p in enumerate(as_read) if len(p.digits) != 1]
    assert len(cut) <= 1, cut
    surely_right = [
        i for i in cut if whole[i].probabilities[0].max() >= 0.5 and whole[i].probabilities[0].argmax() == wide[i][1]
    ]
    assert not surely_right  # only a misread, or a digit read as one at under 0.5, is cut


def test_a_cut_is_taken_only_when_the_network_is_much_surer_of_its_parts() -> None:
    from model.inference import best_reading

    whole = np.array([[0.96, 0.04] + [0.0] * 8])
    sure_parts = np.array([[0.05, 0.95] + [0.0] * 8, [0.95, 0.05] + [0.0] * 8])
    assert best_reading([whole, sure_parts]) == 0  # less sure than the whole
    # a sure whole (0.85, 0.9) is cut only into parts surer than it and at least 0.9 sure
    assert best_reading([np.array([[0.85, 0.15] + [0.0] * 8]), sure_parts]) == 1
    assert best_reading([np.array([[0.85, 0.15] + [0.0] * 8]), sure_parts * 0.94]) == 0  # 0.89
    ones = np.array([[0.02, 0.98] + [0.0] * 8] * 2)
    assert best_reading([np.array([[0.85, 0.15] + [0.0] * 8]), ones]) == 0  # never 1s only
    unsure_whole = np.array([[0.4, 0.35, 0.25] + [0.0] * 7])
    weaker = np.array([[0.2, 0.8] + [0.0] * 8, [0.7, 0.3] + [0.0] * 8])
    assert best_reading([unsure_whole]) == 0
    assert best_reading([unsure_whole, weaker, sure_parts]) == 2  # the surest cut
    assert best_reading([unsure_whole, weaker]) == 1
    blurry = np.array([[0.55, 0.45] + [0.0] * 8, [0.45, 0.55] + [0.0] * 8])
    assert best_reading([unsure_whole, blurry]) == 0  # 1.4 times surer, but not 0.6 sure


def test_a_part_read_as_a_1_lying_on_its_side_is_no_cut() -> None:
    """A piece of a 7's bar in a number turned 31 degrees on the page was read as a 1 (scaled into the
    20x20 box, a flat stroke looks upright) and the 7 as "11" ("67" answered "611"): a part of a cut
    read as a 1 must be taller than wide."""
    from model.inference import _lying_one
    from model.preprocess import Digit

    one = np.array([0.02, 0.9] + [0.01] * 8)
    seven = np.array([0.02, 0.05, 0.03, 0.0, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0])
    blank = np.zeros((28, 28), np.uint8)
    upright, flat = Digit(blank, (0, 0, 40, 100)), Digit(blank, (0, 0, 92, 72))
    assert _lying_one((flat, upright), np.stack([one, one]))
    assert not _lying_one((upright, upright), np.stack([one, one]))  # "11" written touching
    assert not _lying_one((flat, upright), np.stack([seven, one]))  # a flat 7 is a 7's shape


def test_a_mark_read_as_no_digit_is_cut_only_into_sure_parts_and_never_into_ones_only() -> None:
    """Touching digits and letters both read as no digit as a whole: the parts decide. A letter's
    strokes (m, n, H) each read as a 1, a scribble's pieces as unsure digits."""
    from model.inference import SURE_PARTS_OF_NO_DIGIT, best_reading

    def row(digit: int, sure: float, no_digit: float = 0.0) -> list[float]:
        out = [(1 - sure) / 9] * 10 + [no_digit]
        out[digit] = sure
        return out

    no_digit = np.array([[0.01] * 10 + [0.9]])
    touching = np.array([row(2, 0.85), row(3, 0.8)])
    assert best_reading([no_digit, touching]) == 1
    ones = np.array([row(1, 0.95), row(1, 0.9), row(1, 0.9)])
    assert best_reading([no_digit, ones]) == 0
    assert best_reading([no_digit, ones, touching]) == 2
    unsure = SURE_PARTS_OF_NO_DIGIT - 0.04
    scribble = np.array([row(6, unsure), row(3, unsure)])
    assert best_reading([no_digit, scribble]) == 0
    assert best_reading([np.array([row(5, 0.3, 0.2)]), scribble]) == 1  # a digit-like whole: 0.6 is enough
    assert best_reading([np.array([row(5, 0.3, 0.2)]), ones]) == 1  # "111" written touching


def test_a_mark_read_as_a_symbol_rather_than_as_digits_that_touch_is_not_cut() -> None:
    """With the twelfth output, "digits that touch": the network says whether a mark it reads as no
    digit is a symbol (a % cut at its slash is a loop with a tail, a 9, and a tail with a loop, a 6)
    or digits run together; only the second is cut, however sure the pieces read."""
    from model.inference import best_reading

    def row(digit: int, sure: float) -> list[float]:
        out = [(1 - sure) / 9] * 10 + [0.0, 0.0]
        out[digit] = sure
        return out

    pieces = np.array([row(9, 0.9), row(6, 0.85)])
    symbol = np.array([[0.005] * 10 + [0.85, 0.1]])
    assert best_reading([symbol, pieces]) == 0
    run_together = np.array([[0.005] * 10 + [0.4, 0.55]])
    assert best_reading([run_together, pieces]) == 1
    as_likely_touching = np.array([[0.005] * 10 + [0.5, 0.45]])  # no digit at 0.5, touching close behind
    assert best_reading([as_likely_touching, pieces]) == 0


def test_a_cut_through_what_another_reading_sees_as_a_symbol_is_not_taken() -> None:
    """A 0 run into a % ("0%"), read whole as digits that touch: one cut reads a 0 and a symbol (the
    % at 0.96), another cuts the % too and reads "096", each part 0.9 sure. The second is not taken:
    two of its parts lie within the symbol's columns. Without the columns, it would be."""
    from model.inference import best_reading

    def row(digit: int, sure: float) -> list[float]:
        out = [(1 - sure) / 9] * 10 + [0.0, 0.0]
        out[digit] = sure
        return out

    whole = np.array([[0.01] * 10 + [0.23, 0.67]])
    zero_and_symbol = np.array([row(0, 0.95), [0.004] * 10 + [0.96, 0.0]])
    zero_nine_six = np.array([row(0, 0.95), row(9, 0.93), row(6, 0.92)])
    options = [whole, zero_and_symbol, zero_nine_six]
    assert best_reading(options) == 2
    spans = [[(110, 245)], [(110, 164), (170, 245)], [(110, 164), (170, 207), (207, 245)]]
    assert best_reading(options, spans) == 0
    unsure_symbol = np.array([row(0, 0.95), [0.01] * 10 + [0.75, 0.15]])  # under SURE_SYMBOL: may be a piece
    assert best_reading([whole, unsure_symbol, zero_nine_six], spans) == 2
    elsewhere = [[(110, 245)], [(110, 164), (170, 245)], [(110, 150), (150, 180), (180, 245)]]
    assert best_reading(options, elsewhere) == 2  # only one part within the symbol's columns


def test_mnist_number_and_broken_digit(loaded, digits) -> None:
    pictures, labels = digits
    strip = images.number(list(pictures[10:14]))
    enlarged = images.resize(strip, (strip.shape[1] * 4, strip.shape[0] * 4))
    assert read(loaded, images.jpeg(images.invert(enlarged), 85))["number"] == "".join(map(str, labels[10:14]))
    broken = [images.png(images.resize(images.broken(d), 140)) for d in pictures[:10]]
    assert sum(g == str(label) for g, label in zip(numbers(loaded, broken), labels[:10], strict=True)) >= 8


SHARED_CASES = ROOT.parent / "shared" / "cases"


@pytest.mark.parametrize("name", ["a5_canvas_black_alpha30_2.png", "a5_canvas_orange_alpha30_2.png"])
def test_semi_transparent_canvas_drawings_are_read(name: str, loaded) -> None:
    """Every stroke pixel at alpha ~77 of 255 (a 30 % brush): the handlers and the CLI read the 2."""
    from ops.predict import predict_files

    body = (SHARED_CASES / name).read_bytes()
    assert read(loaded, body)["digit"] == 2
    assert read(loaded, json.dumps({"image": base64.b64encode(body).decode()}), "application/json")["digit"] == 2
    assert predict_files([str(SHARED_CASES / name)])[0]["digit"] == 2


def test_blank_canvas_is_not_a_digit(loaded) -> None:
    for body in (
        images.png(np.zeros((280, 280, 4), np.uint8)),
        images.png(images.blank()),
        images.png(images.noise()),
        images.jpeg(images.paper_photo(np.zeros((28, 28), np.uint8))),
    ):
        assert error_of(loaded, body, "image/png").code == "no_digit_found"


# -------------------------------------------------------------------------------------------- input_fn


def test_every_image_content_type_is_accepted(loaded, digits) -> None:
    picture = images.invert(images.resize(digits[0][7], 112))
    bodies = {
        "image/png": images.png(picture),
        "image/jpeg": images.jpeg(picture),
        "image/webp": images.encode(picture, "WEBP"),
        "image/gif": images.encode(picture, "GIF"),
        "image/bmp": images.encode(picture, "BMP"),
        "image/tiff": images.encode(picture, "TIFF"),
    }
    for content_type in sorted(IMAGE_CONTENT_TYPES):
        body = bodies.get(content_type, bodies["image/png"])
        assert read(loaded, body, content_type)["digit"] == 7, content_type
    assert read(loaded, bodies["image/jpeg"], "image/png")["digit"] == 7  # the declared type is a hint


def test_json_bodies(loaded, digits) -> None:
    picture, label = digits[0][3], int(digits[1][3])
    encoded = base64.b64encode(images.png(images.invert(images.resize(picture, 140)))).decode()
    assert read(loaded, json.dumps({"image": encoded}), "application/json")["digit"] == label
    assert (
        read(
            loaded,
            json.dumps({"image": "data:image/png;base64," + encoded}).encode(),
            "application/json; charset=utf-8",
        )["digit"]
        == label
    )
    pixels = read(loaded, json.dumps({"pixels": picture.tolist()}), "application/json")
    assert pixels["digit"] == label and pixels["digits"][0]["box"] == [0, 0, 28, 28]
    several = read(loaded, json.dumps({"pixels": [d.tolist() for d in digits[0][:3]]}), "application/json")
    assert several["number"] == "".join(map(str, digits[1][:3]))
    # pixels are given to the network as they are: the model input is exactly what was sent
    shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(pixels["model_input"]))))
    assert np.array_equal(shown, picture)


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        (b"", "image/png", "empty_body"),
        ("", "application/json", "empty_body"),
        (b"{not json", "application/json", "malformed_json"),
        (b"\xff\xfe\x00garbage", "application/json", "malformed_json"),
        (b"[1, 2, 3]", "application/json", "malformed_json"),
        (b"{}", "application/json", "malformed_json"),
        (b'{"image": "aGVsbG8=", "pixels": []}', "application/json", "malformed_json"),
        (b'{"image": "***not base64***"}', "application/json", "invalid_base64"),
        (b'{"image": "data:image/png,not-base64-data"}', "application/json", "invalid_base64"),
        (b'{"image": 7}', "application/json", "invalid_request"),
        (b'{"image": ""}', "application/json", "empty_body"),
        (b'{"image": "aGVsbG8gd29ybGQ="}', "application/json", "unsupported_media_type"),  # "hello world"
        (b'{"pixels": [[1, 2], [3, 4]]}', "application/json", "invalid_pixels"),
        (b'{"pixels": "abc"}', "application/json", "invalid_pixels"),
        (json.dumps({"pixels": [[300] * 28] * 28}).encode(), "application/json", "invalid_pixels"),
        (json.dumps({"pixels": [[-1] * 28] * 28}).encode(), "application/json", "invalid_pixels"),
        (json.dumps({"pixels": [[0] * 28] * 28}).encode(), "application/json", "no_digit_found"),
        (json.dumps({"pixels": [[[9] * 28] * 28] * 17}).encode(), "application/json", "invalid_pixels"),
        (b"hello", "text/plain", "unsupported_media_type"),
        (b"a,b\n1,2", "text/csv", "unsupported_media_type"),
        (b"<html></html>", "image/png", "unsupported_media_type"),
        (b"%PDF-1.4", "application/octet-stream", "unsupported_media_type"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png", "corrupt_image"),
    ],
)
def test_bad_input_gets_its_error(body: bytes | str, content_type: str, code: str, loaded) -> None:
    error = error_of(loaded, body, content_type)
    assert error.code == code, error.message
    assert error.status == STATUSES[code]
    assert error.to_dict() == {"error": {"code": code, "message": error.message}}


def test_error_codes_match_the_contract() -> None:
    contract = (ROOT / "docs" / "contracts.md").read_text()
    for code, status in STATUSES.items():
        assert f"`{code}` {status}" in contract, code


def test_oversized_image_is_refused(loaded) -> None:
    assert error_of(loaded, b"\xff\xd8\xff" + bytes(6_000_000), "image/jpeg").code == "image_too_large"


def test_sixteen_digit_strip_is_read_in_order(loaded, digits) -> None:
    """The most digits one image may hold, side by side in a wide strip (848x120 px)."""
    strip = images.number(list(digits[0][:16]))
    body = images.png(images.invert(images.resize(strip, (strip.shape[1] * 2, strip.shape[0] * 2))))
    assert numbers(loaded, [body]) == ["".join(map(str, digits[1][:16]))]


# ----------------------------------------------------------------------------------- predict, output


def test_predict_many_matches_one_by_one(loaded, digits) -> None:
    model, handlers = loaded
    data = [handlers.input_fn(images.png(images.invert(images.resize(d, 100))), "image/png") for d in digits[0][:6]]
    data.append(handlers.input_fn(images.png(images.draw_number("417")), "image/png"))
    data.insert(2, handlers.input_fn(images.png(images.draw_number("2026", spacing=0.45)), "image/png"))  # cut
    data.insert(5, handlers.input_fn(images.png(images.draw_number("56", spacing=0.45)), "image/png"))  # cut
    together = handlers.predict_many(data, model)
    assert len(together) == len(data)
    assert [len(p.digits) for p in together][2] == 4 and [len(p.digits) for p in together][5] == 2
    for item, batched in zip(data, together, strict=True):
        alone = handlers.predict_fn(item, model)
        assert [d.box for d in alone.digits] == [d.box for d in batched.digits]
        assert np.allclose(alone.probabilities, batched.probabilities, atol=1e-5)
    assert handlers.predict_many([], model) == []


def test_output_follows_the_contract(loaded, digits) -> None:
    model, _handlers = loaded
    single = read(loaded, images.png(images.draw_strokes(images.STROKES[7])))
    assert set(single) == {
        "digit",
        "number",
        "confidence",
        "probabilities",
        "top_k",
        "digits",
        "model_input",
        "model_version",
    }
    assert single["digit"] == 7 and single["number"] == "7"
    assert len(single["probabilities"]) == 10 and abs(sum(single["probabilities"]) - 1) < 1e-3
    assert single["confidence"] == max(single["probabilities"]) == single["digits"][0]["confidence"]
    assert next(k["digit"] for k in single["top_k"]) == 7 and len(single["top_k"]) == 3
    assert [k["probability"] for k in single["top_k"]] == sorted(
        (k["probability"] for k in single["top_k"]), reverse=True
    )
    assert (
        single["model_version"]
        == model.version
        == json.loads((ROOT / "model" / "artifacts" / "metadata.json").read_text())["version"]
    )
    x0, y0, x1, y1 = single["digits"][0]["box"]
    assert 0 <= x0 < x1 <= 280 and 0 <= y0 < y1 <= 280

    several = read(loaded, images.png(images.draw_number("417")))
    assert several["digit"] is None and several["number"] == "417"
    assert several["confidence"] == min(d["confidence"] for d in several["digits"])
    assert several["probabilities"] == several["digits"][0]["probabilities"]
    strip = Image.open(io.BytesIO(base64.b64decode(several["model_input"])))
    assert strip.format == "PNG" and strip.size == (28 * 3, 28) and strip.mode == "L"


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "",
        "*/*",
        "application/json",
        "application/json; charset=utf-8",
        "text/html, application/json;q=0.9",
        "application/*",
    ],
)
def test_json_accept_values(accept: str | None, loaded) -> None:
    model, handlers = loaded
    prediction = handlers.predict_fn(
        handlers.input_fn(images.png(images.draw_strokes(images.STROKES[1])), "image/png"), model
    )
    assert json.loads(handlers.output_fn(prediction, accept)[0])["digit"] == 1


def test_npy_accept_answers_the_probabilities(loaded) -> None:
    model, handlers = loaded
    prediction = handlers.predict_fn(handlers.input_fn(images.png(images.draw_number("47")), "image/png"), model)
    body, content_type = handlers.output_fn(prediction, "application/x-npy, application/json")
    probabilities = np.load(io.BytesIO(body), allow_pickle=False)
    assert content_type == "application/x-npy" and probabilities.dtype == np.float32
    assert probabilities.shape == (2, 10) and probabilities.argmax(axis=1).tolist() == [4, 7]


def test_other_accept_is_406(loaded) -> None:
    model, handlers = loaded
    prediction = handlers.predict_fn(
        handlers.input_fn(images.png(images.draw_strokes(images.STROKES[1])), "image/png"), model
    )
    for accept in ("text/csv", "image/png", "application/x-npz"):
        with pytest.raises(InputError) as info:
            handlers.output_fn(prediction, accept)
        assert (info.value.code, info.value.status) == ("unsupported_accept", 406)


# ------------------------------------------------------------------------------ the container's view

CONTAINER = textwrap.dedent(
    """
    import json, sys
    model_dir = sys.argv[1]
    # As the SageMaker container: only the archive's code/ (never this checkout) provides the handlers.
    sys.path[:] = [model_dir + "/code"] + [p for p in sys.path[1:] if "site-packages" in p or "/lib/python" in p]
    import inference
    import model
    assert inference.__file__.startswith(model_dir) and model.__file__.startswith(model_dir), model.__file__
    loaded = inference.model_fn(model_dir)
    assert not hasattr(inference, "input_fn")  # the toolkit refuses transform_fn next to input_fn & co.

    class Context:  # TorchServe's, as far as the handlers use it
        def set_response_status(self, code, phrase=""):
            self.status = code

    out = {}
    for name, content_type in (("image", "image/png"), ("json", "application/json"), ("text", "image/png")):
        body = open(f"{model_dir}/../{name}", "rb").read()
        if content_type == "application/json":
            body = body.decode()  # the toolkit hands JSON over as str
        context = Context()
        answer, answer_type = inference.transform_fn(loaded, body, content_type, "application/json", context)
        out[name] = [getattr(context, "status", 200), answer_type, json.loads(answer)]
    print(json.dumps(out))
    """
)


def test_archive_ships_this_checkouts_handlers() -> None:
    """The archive holds the weights, the metadata and exactly the model package, as it is in this checkout.
    (After changing model/*.py, ``python -m training.package`` repacks the archive, same weights.)"""
    package = sorted(path.name for path in (ROOT / "model").glob("*.py"))
    with tarfile.open(DEFAULT_ARCHIVE) as tar:
        assert sorted(tar.getnames()) == sorted(
            ["model.pt", "metadata.json", "code/inference.py", *(f"code/model/{name}" for name in package)]
        )
        for name in package:
            shipped = tar.extractfile(f"code/model/{name}").read()  # type: ignore[union-attr]
            assert shipped == (ROOT / "model" / name).read_bytes(), f"{name} in model.tar.gz is out of date"
    assert package == [
        "__init__.py",
        "components.py",
        "contract.py",
        "cuts.py",
        "decoding.py",
        "digits.py",
        "exceptions.py",
        "frames.py",
        "grey_levels.py",
        "grouping.py",
        "inference.py",
        "ink.py",
        "margin_line.py",
        "network.py",
        "npy.py",
        "paper.py",
        "preprocess.py",
        "printed_lines.py",
        "punctuation.py",
        "refusal.py",
        "rendering.py",
        "shadow_edge.py",
        "shadows.py",
        "sheets.py",
        "tables.py",
    ]


@pytest.mark.slow
def test_archive_handlers_in_a_fresh_process(tmp_path: Path, digits) -> None:
    """Unpack model.tar.gz and drive its own code/inference.py the way the container does."""
    with tarfile.open(DEFAULT_ARCHIVE) as tar:
        tar.extractall(tmp_path / "model", filter="data")
    (tmp_path / "image").write_bytes(images.png(images.draw_number("90")))
    (tmp_path / "json").write_text(json.dumps({"pixels": digits[0][5].tolist()}))
    (tmp_path / "text").write_bytes(b"not an image")
    result = subprocess.run(
        [sys.executable, "-c", CONTAINER, str(tmp_path / "model")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["image"][:2] == [200, "application/json"] and out["image"][2]["number"] == "90"
    assert out["json"][2]["digit"] == int(digits[1][5])
    assert out["text"][:2] == [415, "application/json"]
    assert out["text"][2]["error"]["code"] == "unsupported_media_type"
