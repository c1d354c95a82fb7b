"""End to end in a real browser: Debian's Chromium, driven by Playwright, against the whole local stack.

The stack is the one ``make up`` runs (:class:`ops.stack.Stack`: MiniStack, provisioning, the local
SageMaker endpoint with the shipped model, ``chalice local``, the S3 event bridge, Streamlit), on free
ports with its own state folder. The test draws a "1" and a "7" with mouse strokes on the canvas,
uploads a real (held-out) MNIST digit through both paths, and finds the uploads on the History page.
Screenshots go to ``tests/artifacts/`` (git-ignored; the README's are copies from there).

Playwright drives ``/usr/bin/chromium`` (``make browser`` installs it); ``playwright install`` is never
needed. Skipped, with the reason, when Chromium is missing.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from playwright.sync_api import expect

from chalicelib.config import load
from chalicelib.store import inbox_prediction_id
from ops.emulator import free_port
from ops.stack import Ports, Stack
from tests import images
from tests.stack_fixtures import MODEL_ARCHIVE

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
#: Milliseconds to wait for a prediction to show (a cold endpoint and the S3 trigger included).
RESULT_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    ports = Ports(aws=free_port(), endpoint=free_port(), api=free_port(), ui=free_port())
    stack = Stack(ports=ports, state_dir=tmp_path_factory.mktemp("browser-stack"), model=MODEL_ARCHIVE)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def browser_page(stack: Stack) -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} missing: run `make browser`")
    from playwright.sync_api import sync_playwright

    expect.set_options(timeout=RESULT_TIMEOUT_MS)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(RESULT_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def ui(stack: Stack, path: str = "") -> str:
    return f"http://127.0.0.1:{stack.ports.ui}/{path}"


def api_call(stack: Stack, method: str, path: str, body: bytes | None = None, content_type: str = "") -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.ports.api}{path}",
        data=body,
        method=method,
        headers={"Content-Type": content_type} if content_type else {},
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.load(resp)


def stack_s3(stack: Stack):
    """A boto3 S3 client for the stack's own emulator."""
    env = stack.env()
    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def wait_idle(page) -> None:
    """Wait until Streamlit has finished the script run that the last action started.

    An action's rerun starts a moment after the action (the canvas sends its image on mouse-up), so give
    it that moment, then wait for the app to report that no script is running.
    """
    page.wait_for_timeout(300)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


def stroke(page, canvas, points: list[tuple[float, float]]) -> None:
    """One mouse stroke through ``points`` (0-1 canvas units), like a person drawing."""
    box = canvas.bounding_box()
    x, y = points[0]
    page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=12)
    page.mouse.up()


def prediction_values(page, screenshot: str) -> list[str]:
    """Wait for the result panel(s) of the current run; the answers shown. Saves a screenshot either way."""
    try:
        page.locator('[data-testid="stMetricValue"]').first.wait_for()
        wait_idle(page)
    finally:
        page.screenshot(path=ARTIFACTS / screenshot, full_page=True)
    return page.locator('[data-testid="stMetricValue"]').all_inner_texts()


@pytest.mark.parametrize(
    ("expected", "live", "strokes"),
    [
        ("1", False, [[(0.52, 0.18), (0.50, 0.50), (0.48, 0.82)]]),
        ("7", True, [[(0.25, 0.22), (0.72, 0.22), (0.60, 0.45), (0.45, 0.85)]]),
    ],
    ids=["1-predict-button", "7-predict-as-I-draw"],
)
def test_draw_a_digit_and_see_it_recognised(stack, browser_page, expected, live, strokes) -> None:
    page = browser_page
    page.goto(ui(stack, "Draw_a_digit"))
    canvas = page.locator("canvas.upper-canvas")
    canvas.wait_for()
    wait_idle(page)
    if live:
        page.get_by_text("Predict as I draw").click()
        wait_idle(page)
    for points in strokes:
        stroke(page, canvas, points)
    wait_idle(page)  # the stroke reached Streamlit (the canvas sends its image on mouse-up)
    if not live:
        page.get_by_role("button", name="Predict", exact=True).click()
    assert prediction_values(page, f"draw-{expected}.png") == [expected]
    assert page.get_by_text("what the model saw").is_visible()


@pytest.mark.parametrize("path", ["Instant: POST /predict", "Event-driven: S3 inbox → trigger → DynamoDB"])
def test_upload_a_digit_through_each_path(stack, browser_page, mnist_dir, tmp_path, path) -> None:
    pictures, labels = images.validation_digits(mnist_dir, count=10)
    label = int(labels[8])
    scan = tmp_path / f"mnist-{label}.png"
    scan.write_bytes(images.png(images.invert(images.resize(pictures[8], 280))))  # a big dark-on-light scan

    page = browser_page
    page.goto(ui(stack, "Upload_an_image"))
    page.get_by_text(path).click()
    page.locator("input[type=file]").set_input_files(str(scan))
    page.get_by_text(scan.name).wait_for()
    wait_idle(page)
    page.get_by_role("button", name="Predict", exact=True).click()
    source = "s3" if path.startswith("Event") else "api"
    assert prediction_values(page, f"upload-{source}.png") == [str(label)]
    assert page.get_by_text(f"via {source}").is_visible()


def test_history_lists_both_paths_with_their_images(stack, browser_page, mnist_dir) -> None:
    pictures, labels = images.validation_digits(mnist_dir, count=10)
    scan = images.png(images.invert(images.resize(pictures[3], 280)))
    api_record = api_call(stack, "POST", "/predict", scan, "image/png")
    key = f"inbox/browser-test/history-{int(labels[3])}.png"
    put = stack_s3(stack).put_object(Bucket=load("local").inbox_bucket, Key=key, Body=scan, ContentType="image/png")
    s3_id = inbox_prediction_id(load("local").inbox_bucket, key, put["ETag"].strip('"'))

    page = browser_page
    page.goto(ui(stack, "History"))
    page.get_by_text(f"s3://{load('local').inbox_bucket}/{key}").wait_for()  # the trigger has recorded it
    wait_idle(page)
    listed = api_call(stack, "GET", "/predictions?limit=10")["items"]
    assert [r["prediction_id"] for r in listed[:2]] == [s3_id, api_record["prediction_id"]]  # newest first
    main = page.locator("[data-testid='stMain']")
    expect(main.locator("[data-testid='stPopover']")).to_have_count(len(listed))  # one "Details" per prediction
    # per prediction: the stored image (a thumbnail read from S3) and the 28x28 model input; images arrive
    # from Streamlit's media endpoint after the script run, hence the waiting assertion
    expect(main.locator("[data-testid='stImage'] img")).to_have_count(2 * len(listed))
    page.screenshot(path=ARTIFACTS / "history.png", full_page=True)


def test_home_shows_every_part_up_and_counts_today(stack, browser_page) -> None:
    """Last, so that its counts (and the README's screenshot) include the predictions made above."""
    page = browser_page
    page.goto(ui(stack))
    page.get_by_text("Predictions today").wait_for()
    wait_idle(page)
    expect(page.locator("[data-testid='stGraphVizChart'] svg")).to_have_count(1)  # the pipeline diagram
    page.screenshot(path=ARTIFACTS / "home.png", full_page=True)
    body = page.locator("[data-testid='stMain']").inner_text()
    for part in ("API", "Model endpoint", "Predictions table", "Inbox bucket", "Results bucket"):
        assert f"up\n{part}:" in body or f"up {part}:" in body, body
    shown = page.locator("[data-testid='stMetricValue']").all_inner_texts()
    listed = api_call(stack, "GET", "/predictions?limit=100")["items"]
    assert shown == [str(sum(r["source"] == source for r in listed)) for source in ("api", "s3")]
