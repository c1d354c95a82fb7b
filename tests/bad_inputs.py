"""The bad-input corpus: hostile, broken and unusual uploads with the outcome each must get.

``python -m tests.bad_inputs [OUT]`` writes the files and ``manifest.json`` to ``tests/data/bad_inputs/``
(git-ignored: the corpus is generated, never committed, and holds a 10 MB file). The reliability tests
build it in a temporary folder and send every case through the endpoint, the predict route and the S3
trigger. A case expects either a documented error (code + HTTP status) or a correct prediction where the
input is a valid, if unusual, image.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import sys
import zipfile
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tests import images
from tests.conftest import MNIST_DIR

DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "bad_inputs"
#: The ways an upload reaches the model: InvokeEndpoint, the predict routes, the inbox bucket's trigger.
PATHS = ("endpoint", "api", "s3")
#: A JSON document dropped into the inbox is a file that is not an image (the S3 path reads bytes, not JSON).
_INBOX_JSON = ("s3", "unsupported_media_type", 415)
_NOT_FOR_API = (("api", "unsupported_media_type", 415), ("s3", "unsupported_media_type", 415))


@dataclass(frozen=True)
class Case:
    """One upload. ``number`` is the expected digit string, or ``code``/``status`` the expected error."""

    name: str
    filename: str
    body: bytes
    content_type: str
    number: str | None = None
    code: str | None = None
    status: int | None = None
    #: Only for the JSON route (``{"image": <base64>}``): the body is JSON, not an image.
    json_route: bool = False
    #: Paths whose documented contract answers differently: ``(path, code, status)`` each (README, API).
    differs: tuple[tuple[str, str, int], ...] = ()

    @property
    def is_error(self) -> bool:
        return self.code is not None

    def expected(self, path: str) -> tuple[str | None, str | None, int | None]:
        """``(number, code, status)`` on ``path`` (one of :data:`PATHS`)."""
        if path not in PATHS:
            raise ValueError(f"unknown path {path!r}; known: {PATHS}")
        for where, code, status in self.differs:
            if where == path:
                return None, code, status
        return self.number, self.code, self.status


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(side: int = 20000) -> bytes:
    """A valid 1-bit PNG of ``side`` x ``side`` pixels in a few kB: decoded it would need 400 MB as L."""
    row = b"\x00" + b"\x00" * (side // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")


def zero_size_png() -> bytes:
    """A PNG whose header claims 0 x 0 pixels (invalid by the spec, seen from broken encoders)."""
    header = struct.pack(">IIBBBBB", 0, 0, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IEND", b"")


def bad_crc(png: bytes) -> bytes:
    """Flip one byte inside the first IDAT chunk's data so its CRC no longer matches."""
    at = png.index(b"IDAT") + 8
    return png[:at] + bytes([png[at] ^ 0xFF]) + png[at + 1 :]


def npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def npy_declaring(shape: tuple[int, ...]) -> bytes:
    """An .npy header that declares ``shape`` (float64) followed by a few bytes: no such data is sent."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buffer.getvalue() + bytes(64)


def _save(picture: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def build(mnist_dir: Path = MNIST_DIR) -> list[Case]:
    """Every case of the corpus (deterministic)."""
    digits, labels = images.validation_digits(mnist_dir, count=10)
    seven = digits[list(labels).index(7)]
    three = digits[list(labels).index(3)]
    paper = images.invert(images.resize(seven, 280))  # dark 7 on white paper, like a scan
    good_png = images.png(paper)
    good_jpeg = images.jpeg(paper, quality=90)

    frames = [Image.fromarray(images.invert(images.resize(d, 140))) for d in (seven, three)]
    animated = _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)
    sixteen = Image.fromarray(images.invert(images.resize(seven, 140)).astype(np.uint16) * 257)  # I;16
    cmyk = _save(Image.fromarray(paper).convert("CMYK"), "JPEG", quality=90)
    # Palette PNG: index 0 is the transparent background, indexes 1-15 ink from light to dark grey.
    palette = Image.fromarray((images.resize(seven, 140) // 16).astype(np.uint8), mode="L").convert("P")
    palette.putpalette([channel for k in range(256) for channel in (max(0, 255 - 17 * k),) * 3])
    palette_png = _save(palette, "PNG", transparency=0)
    rotated = Image.fromarray(paper).rotate(90, expand=True)  # stored sideways...
    exif = Image.Exif()
    exif[0x0112] = 6  # ...and tagged "rotate 90 CW to display": upright after exif_transpose
    exif_jpeg = _save(rotated, "JPEG", quality=90, exif=exif.tobytes())
    one_pixel = images.png(np.zeros((1, 1), dtype=np.uint8))
    two_lines = np.concatenate([images.number([seven, three]), images.number([three, seven])])  # "73" over "37"
    zip_buffer = io.BytesIO()
    with zipfile.ZipFile(zip_buffer, "w") as archive:
        archive.writestr("digit.png", good_png)

    error = {
        "unsupported": ("unsupported_media_type", 415),
        "corrupt": ("corrupt_image", 422),
        "none": ("no_digit_found", 422),
        "lines": ("several_lines", 422),
        "unsure": ("low_confidence", 422),
        "large": ("image_too_large", 413),
        "empty": ("empty_body", 400),
    }

    def bad(name: str, filename: str, body: bytes, content_type: str, kind: str) -> Case:
        code, status = error[kind]
        return Case(name, filename, body, content_type, code=code, status=status)

    def good(name: str, filename: str, body: bytes, content_type: str, number: str = "7") -> Case:
        return Case(name, filename, body, content_type, number=number)

    return [
        bad("empty body", "empty.png", b"", "image/png", "empty"),
        bad("plain text", "note.txt", b"this is not an image\n", "application/octet-stream", "unsupported"),
        bad("html", "page.html", b"<!doctype html><html><body><img src=x></body></html>", "image/png", "unsupported"),
        bad(
            "json instead of an image",
            "data.json",
            b'{"image": "iVBORw0KGgo="}',
            "application/octet-stream",
            "unsupported",
        ),
        bad("truncated png", "truncated.png", good_png[: len(good_png) // 2], "image/png", "corrupt"),
        bad("truncated jpeg", "truncated.jpg", good_jpeg[: len(good_jpeg) // 2], "image/jpeg", "corrupt"),
        bad("png with a bad crc", "bad-crc.png", bad_crc(good_png), "image/png", "corrupt"),
        bad("zero-size png", "zero.png", zero_size_png(), "image/png", "corrupt"),
        bad("1x1 image", "one-pixel.png", one_pixel, "image/png", "none"),
        bad("digits on two lines", "two-lines.png", images.png(two_lines), "image/png", "lines"),
        bad("a 2 written over a 0", "overwritten.png", images.png(images.overwritten(0, 2)), "image/png", "unsure"),
        bad("20000x20000 png (decompression bomb)", "bomb.png", bomb_png(), "image/png", "large"),
        bad("10 MB file", "huge.png", good_png + b"\x00" * (10 * 1024 * 1024), "image/png", "large"),
        good("animated gif (first frame)", "animated.gif", animated, "image/gif"),
        good("16-bit png", "sixteen.png", _save(sixteen, "PNG"), "image/png"),
        good("cmyk jpeg", "cmyk.jpg", cmyk, "image/jpeg"),
        good("palette png with transparency", "palette.png", palette_png, "image/png"),
        good("exif-rotated jpeg", "rotated.jpg", exif_jpeg, "image/jpeg"),
        bad(
            "svg",
            "digit.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"><text y="20">7</text></svg>',
            "image/svg+xml",
            "unsupported",
        ),
        bad("pdf", "digit.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "application/pdf", "unsupported"),
        bad("zip", "digit.zip", zip_buffer.getvalue(), "application/zip", "unsupported"),
        good("a .png holding a jpeg", "really-a-jpeg.png", good_jpeg, "image/png"),
        good("wrong content-type", "digit.png", good_png, "image/jpeg"),
        Case(
            "base64 that is not base64",
            "bad.json",
            b'{"image": "not base64 at all!!"}',
            "application/json",
            code="invalid_base64",
            status=400,
            json_route=True,
            differs=(_INBOX_JSON,),
        ),
        Case(
            "deeply nested json",
            "nested.json",
            b"[" * 100_000,
            "application/json",
            code="malformed_json",
            status=400,
            json_route=True,
            differs=(_INBOX_JSON,),
        ),
        Case(
            "valid base64 json",
            "good.json",
            json.dumps({"image": base64.b64encode(good_png).decode()}).encode(),
            "application/json",
            number="7",
            json_route=True,
            differs=(_INBOX_JSON,),
        ),
        # NumPy bodies (the SageMaker SDK's NumpySerializer) are for the endpoint only: the API and the
        # inbox read image files, so there they are files that are not images.
        Case(
            "npy of a pickled object array",
            "objects.npy",
            npy(np.array([{"x": 1}], dtype=object), True),
            "application/x-npy",
            code="invalid_pixels",
            status=400,
            differs=_NOT_FOR_API,
        ),
        Case(
            "npy declaring a huge shape",
            "huge.npy",
            npy_declaring((10**9, 28, 28)),
            "application/x-npy",
            code="invalid_pixels",
            status=400,
            differs=_NOT_FOR_API,
        ),
        Case(
            "npy of the wrong shape",
            "shape.npy",
            npy(np.zeros((3, 5), np.uint8)),
            "application/x-npy",
            code="invalid_pixels",
            status=400,
            differs=_NOT_FOR_API,
        ),
        Case(
            "npy of negative floats",
            "floats.npy",
            npy(-np.ones((28, 28), np.float32)),
            "application/x-npy",
            code="invalid_pixels",
            status=400,
            differs=_NOT_FOR_API,
        ),
        Case(
            "npz that is not a zip",
            "bad.npz",
            b"PK\x03\x04 not really",
            "application/x-npz",
            code="invalid_pixels",
            status=400,
            differs=_NOT_FOR_API,
        ),
        Case("npy of a 7", "seven.npy", npy(seven), "application/x-npy", number="7", differs=_NOT_FOR_API),
        good("unicode in the key", "ziffer-sieben-Ωμέγα-数字.png", good_png, "image/png"),
        good("key with spaces and plus", "my digit + more 7.png", good_png, "image/png"),
    ]


def write(out: Path, cases: list[Case]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    manifest = []
    for case in cases:
        (out / case.filename).write_bytes(case.body)
        entry = {k: v for k, v in asdict(case).items() if k != "body"}
        manifest.append(entry | {"bytes": len(case.body)})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    write(target, build())
    print(f"wrote the corpus to {target}")
