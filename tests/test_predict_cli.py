"""``python -m ops.predict``: one JSON line per file, errors per file, exit status, another model."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from ops.archive import DEFAULT_ARCHIVE
from tests import images

pytestmark = [pytest.mark.unit, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str) -> tuple[int, list[dict], str]:
    result = subprocess.run(
        [sys.executable, "-m", "ops.predict", *args], capture_output=True, text=True, timeout=300, cwd=ROOT, check=False
    )
    return result.returncode, [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def test_files_are_read_in_order_with_per_file_errors(tmp_path: Path) -> None:
    seven = tmp_path / "seven.png"
    seven.write_bytes(images.png(images.draw_strokes(images.STROKES[7])))
    number = tmp_path / "number.jpg"
    number.write_bytes(images.jpeg(images.pen_photo(images.STROKES[4], seed=1)))
    drawn = tmp_path / "year.webp"
    drawn.write_bytes(images.encode(images.draw_number("2026"), "WEBP", lossless=True))
    blank = tmp_path / "blank.png"
    blank.write_bytes(images.png(images.blank()))
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    body = tmp_path / "request.json"
    body.write_text(json.dumps({"pixels": images.resize(images.draw_strokes(images.STROKES[1])[..., 3], 28).tolist()}))
    missing = tmp_path / "missing.png"
    huge = tmp_path / "huge.png"
    huge.write_bytes(images.png(images.blank()) + bytes(6_000_000))  # over the limit: its own size is said

    files = list(map(str, (seven, number, drawn, blank, notes, body, missing, huge)))
    code, lines, _ = run_cli(*files)
    assert code == 1  # some files failed
    assert [line["file"] for line in lines] == files
    assert lines[0]["digit"] == 7 and len(lines[0]["probabilities"]) == 10 and lines[0]["model_version"]
    assert lines[1]["number"] == "4"
    assert lines[2]["number"] == "2026" and lines[2]["digit"] is None and len(lines[2]["digits"]) == 4
    assert lines[3]["error"]["code"] == "no_digit_found"
    assert lines[4]["error"]["code"] == "unsupported_media_type"
    assert lines[5]["digit"] == 1
    assert lines[6]["error"]["code"] == "unreadable_file"
    assert lines[7]["error"]["code"] == "image_too_large"
    assert f"is {huge.stat().st_size:,} bytes" in lines[7]["error"]["message"]
    assert all(set(line["error"]) == {"code", "message"} for line in lines if "error" in line)


def test_success_exits_zero_and_another_model_can_be_named(tmp_path: Path) -> None:
    unpacked = tmp_path / "model"
    with tarfile.open(DEFAULT_ARCHIVE) as tar:
        tar.extractall(unpacked, filter="data")
    image = tmp_path / "nine.png"
    image.write_bytes(images.png(images.draw_strokes(images.STROKES[9])))
    code, lines, _ = run_cli("--model", str(unpacked), str(image))
    assert code == 0 and lines[0]["digit"] == 9
    code, lines, stderr = run_cli("--model", str(tmp_path / "nope.tar.gz"), str(image))
    assert code == 2 and not lines and "no model archive" in stderr
