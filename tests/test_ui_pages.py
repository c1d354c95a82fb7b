"""The Streamlit pages, run by ``streamlit.testing.v1.AppTest`` against the running local stack.

No mocks: the pages call the real API (``chalice local`` + the local SageMaker endpoint with the shipped
model), which is all they call: inbox uploads go to the emulator's bucket through the API's presigned
forms, thumbnails come through its presigned URLs, and the S3 event bridge records the uploads.
AppTest runs each script in this process, so the UI client reads this process's environment
(``local_ui`` points it at the stack).

What AppTest cannot do: draw on the canvas (a Components v2 element; AppTest renders it as an
``UnknownElement`` and cannot send it strokes). The Draw page is checked for rendering and for its
"nothing drawn yet" answer here; drawing itself is tested in a real browser (``tests/test_browser.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests import images
from tests.stack_fixtures import MODEL_ARCHIVE
from ui import client
from ui.components import confidence_histogram, digit_counts, feedback_accuracy, model_input_image

UI = Path(__file__).resolve().parent.parent / "ui"
TIMEOUT = 60


def page(name: str) -> AppTest:
    return AppTest.from_file(str(UI / name), default_timeout=TIMEOUT)


@pytest.fixture(scope="module")
def local_ui(local_stack) -> Iterator[object]:
    """The UI client pointed at the test stack's API, and at nothing else: no AWS endpoint that answers and
    no AWS credentials, so any direct AWS call of the UI would fail its page."""
    mp = pytest.MonkeyPatch()
    mp.setenv("DIGITS_API_URL", local_stack.api_url)
    mp.delenv("DIGITS_API_AUTH", raising=False)
    mp.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # the discard port: nothing listens
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        mp.delenv(name, raising=False)
    try:
        yield local_stack
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def scans(mnist_dir: Path) -> dict[int, np.ndarray]:
    """One held-out MNIST digit per class, rendered big (280 px) and dark on light: a scan."""
    pictures, labels = images.validation_digits(mnist_dir, count=10)
    return {int(label): images.invert(images.resize(p, 280)) for p, label in zip(pictures, labels, strict=True)}


@pytest.fixture(scope="module")
def digits(scans: dict[int, np.ndarray]) -> dict[int, bytes]:
    """The scans as PNG files."""
    return {label: images.png(scan) for label, scan in scans.items()}


def markdown_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def elements(node: object, type_: str) -> list:
    """Every element of ``type_`` under ``node`` (also those AppTest has no collection for, like charts)."""
    found = [node] if getattr(node, "type", None) == type_ else []
    for child in getattr(node, "children", {}).values():
        found += elements(child, type_)
    return found


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


# -- unit: statistics behind the History page ----------------------------------------------------------


@pytest.mark.unit
def test_history_statistics_count_only_succeeded_predictions() -> None:
    records = [
        {"status": "succeeded", "digit": 7, "number": "7", "confidence": 0.99, "feedback_label": 7},
        {"status": "succeeded", "digit": 1, "number": "1", "confidence": 0.55, "feedback_label": 7},
        {"status": "succeeded", "digit": None, "number": "42", "confidence": 0.91},
        {"status": "succeeded", "digit": 3, "number": "3", "confidence": 1.0},
        {"status": "rejected", "error_code": "no_digit_found"},
    ]
    assert confidence_histogram(records)["predictions"] == [0, 0, 0, 0, 0, 1, 0, 0, 0, 3]
    assert digit_counts(records)["predictions"] == [0, 1, 0, 1, 0, 0, 0, 1, 0, 0]
    accuracy = feedback_accuracy(records)
    assert (accuracy.predictions, accuracy.with_feedback, accuracy.confirmed) == (4, 2, 1)
    assert accuracy.judged_accuracy == 0.5
    assert accuracy.implied_accuracy == 0.75
    assert feedback_accuracy([]).implied_accuracy is None


@pytest.mark.unit
def test_content_type_prefers_the_browser_then_the_name() -> None:
    assert client.content_type_for("a.png", "image/png") == "image/png"
    assert client.content_type_for("a.webp", None) == "image/webp"
    assert client.content_type_for("a.jpg", "application/octet-stream") == "image/jpeg"
    assert client.content_type_for("noext", None) == "application/octet-stream"


@pytest.mark.unit
def test_prod_requests_are_signed_for_the_iam_authorizer(monkeypatch) -> None:
    """``DIGITS_API_AUTH=iam``: SigV4 for ``execute-api`` with the caller's credentials, body included."""
    import requests

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    url = "https://abc.execute-api.us-east-1.amazonaws.com/api/predict"
    request = requests.Request("POST", url, data=b"\x89PNG", headers={"Content-Type": "image/png"}).prepare()
    signed = client._sign(request)
    authorization = signed.headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-east-1/execute-api/aws4_request" in authorization
    assert "SignedHeaders=" in authorization and "X-Amz-Date" in signed.headers


# -- pages against the stack ---------------------------------------------------------------------------


@pytest.mark.integration
def test_home_shows_the_status_of_every_part_and_counts_today(local_ui, digits) -> None:
    at = page("Home.py").run()
    no_exception(at)
    before = {m.label: int(m.value) for m in at.metric}
    text = markdown_text(at)
    for part in ("API", "Model endpoint", "Predictions table", "Inbox bucket", "Results bucket"):
        assert f":green-badge[up] **{part}**" in text, text
    assert "model " in text and "digits-local" in text
    assert f"from `{MODEL_ARCHIVE}`" in text  # where the served model came from (docs/models.md)
    assert [link.label for link in at.page_link] == ["Upload an image", "Draw a digit", "History"]

    client.predict(digits[3])
    at.run()
    after = {m.label: int(m.value) for m in at.metric}
    assert after["instant (API)"] == before["instant (API)"] + 1
    assert after["event-driven (S3)"] == before["event-driven (S3)"]


@pytest.mark.integration
def test_home_says_when_the_api_is_down(local_ui, monkeypatch) -> None:
    monkeypatch.setenv("DIGITS_API_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    at = page("Home.py").run()
    no_exception(at)
    text = markdown_text(at)
    assert ":red-badge[down] **API**" in text and "did not answer" in text
    assert ":green-badge[up]" not in text  # the API is the UI's only way in: nothing else was checked
    assert "Counts unavailable" in "\n".join(w.value for w in at.warning)


def upload(at: AppTest, path_label: str, files: list[tuple[str, bytes, str]]) -> AppTest:
    at.radio[0].set_value(path_label)
    at.file_uploader[0].set_value(files)
    at.run()
    next(b for b in at.button if b.label == "Predict").click()
    return at.run()


INSTANT = "Instant: POST /predict"
EVENT = "Event-driven: S3 inbox → trigger → DynamoDB"


@pytest.mark.integration
@pytest.mark.parametrize("path_label", [INSTANT, EVENT])
def test_upload_predicts_each_file_and_shows_what_the_model_saw(local_ui, digits, scans, path_label) -> None:
    files = [("seven.png", digits[7], "image/png"), ("two.jpg", images.jpeg(scans[2]), "image/jpeg")]
    at = upload(page("pages/1_Upload_an_image.py").run(), path_label, files)
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert [m.value for m in at.metric] == ["7", "2"]
    # the 28x28 model input, enlarged, and a bar chart of the ten probabilities, per file
    assert len(at.image) == 2
    assert len(elements(at.main, "vega_lite_chart")) == 2
    source = "s3" if path_label == EVENT else "api"
    captions = "\n".join(c.value for c in at.caption)
    assert f"via **{source}**" in captions


@pytest.mark.integration
def test_a_number_shows_every_digit_and_offers_no_single_digit_correction(local_ui, mnist_dir) -> None:
    pictures, labels = images.validation_digits(mnist_dir, count=10)
    number = images.number([pictures[3], pictures[5], pictures[7]])
    picture = images.invert(images.resize(number, (number.shape[1] * 4, number.shape[0] * 4)))
    expected = "".join(str(int(labels[i])) for i in (3, 5, 7))
    at = upload(page("pages/1_Upload_an_image.py").run(), INSTANT, [("number.png", images.png(picture), "image/png")])
    no_exception(at)
    assert [m.value for m in at.metric] == [expected]
    assert "digits: " in "\n".join(c.value for c in at.caption)
    assert not [b for b in at.button if b.label == "Send correction"]  # feedback is one digit, 0-9


@pytest.mark.integration
def test_upload_explains_rejected_files_on_both_paths(local_ui) -> None:
    blank = images.png(images.blank())
    not_an_image = b"<html><body>not a digit</body></html>"
    noise = np.random.default_rng(0).integers(0, 256, (1000, 1500, 3), dtype=np.uint8)
    too_large = images.png(noise)  # incompressible: about 4.5 MB
    assert len(too_large) > client.MAX_UPLOAD_BYTES
    for path_label in (INSTANT, EVENT):
        files = [
            ("blank.png", blank, "image/png"),
            ("page.png", not_an_image, "image/png"),
            ("huge.png", too_large, "image/png"),
            ("star.png", images.png(images.star()), "image/png"),
        ]
        at = upload(page("pages/1_Upload_an_image.py").run(), path_label, files)
        no_exception(at)
        errors = [e.value for e in at.error]
        assert len(errors) == 4, errors
        assert "No digit found" in errors[0] and "`no_digit_found`" in errors[0]
        assert "not an image we can read" in errors[1] and "`unsupported_media_type`" in errors[1]
        assert "too large" in errors[2] and "`image_too_large`" in errors[2]
        assert "does not look like a digit" in errors[3] and "`not_a_digit`" in errors[3]
        assert not at.metric


@pytest.mark.integration
def test_a_correction_is_sent_as_feedback(local_ui, digits) -> None:
    at = upload(page("pages/1_Upload_an_image.py").run(), INSTANT, [("four.png", digits[4], "image/png")])
    prediction_id = at.session_state["upload_outcomes"][0].prediction["prediction_id"]
    at.segmented_control(key="feedback-label-upload-0").set_value(9).run()
    next(b for b in at.button if b.label == "Send correction").click().run()
    no_exception(at)
    assert client.get_prediction(prediction_id)["feedback_label"] == 9
    assert "corrected to **9**" in "\n".join(c.value for c in at.caption)


@pytest.mark.integration
def test_draw_page_renders_the_canvas_and_asks_for_a_drawing(local_ui) -> None:
    at = page("pages/2_Draw_a_digit.py").run()
    no_exception(at)
    assert at.slider[0].label == "Pen width"
    assert at.get_by_key("canvas-0") is not None  # the canvas component (not drawable here)
    next(b for b in at.button if b.label == "Predict").click().run()
    assert [i.value for i in at.info] == ["Draw a digit first."]
    next(b for b in at.button if b.label == "Clear").click().run()
    no_exception(at)
    assert at.session_state["canvas_generation"] == 1


@pytest.mark.integration
def test_history_lists_predictions_of_both_paths_newest_first(local_ui, digits) -> None:
    api_record = client.predict(digits[5])
    upload_ = client.upload_to_inbox(digits[6], "six.png", "image/png")
    s3_record = client.wait_for_record(upload_.upload_id, timeout=30)
    assert s3_record["status"] == "succeeded"

    at = page("pages/3_History.py").run()
    no_exception(at)
    text = markdown_text(at)
    assert text.index("### 6") < text.index("### 5")  # newest first
    assert f"s3://{local_ui.config.inbox_bucket}/{upload_.key}" in "\n".join(c.value for c in at.caption)
    assert len(at.image) >= 4  # thumbnails and model inputs of both

    at.segmented_control(key="history_source").set_value("s3").run()
    no_exception(at)
    text = markdown_text(at)
    assert "### 6" in text and "instant (API)" not in text
    assert "event-driven (S3)" in text

    at.segmented_control(key="history_source").set_value(None).run()
    at.selectbox[0].set_value(5).run()
    text = markdown_text(at)
    assert "### 5" in text and "### 6" not in text
    assert api_record["prediction_id"]

    client.send_feedback(api_record["prediction_id"], 3)  # "Corrected only": GET /predictions?corrected=true
    at.selectbox[0].set_value(None).run()
    at.toggle(key="history_corrected").set_value(True).run()
    no_exception(at)
    assert "corrected to **3**" in markdown_text(at)
    assert f"s3://{local_ui.config.inbox_bucket}/{upload_.key}" not in "\n".join(c.value for c in at.caption)


def test_a_record_with_a_broken_model_input_shows_no_picture_instead_of_failing() -> None:
    assert model_input_image({"model_input": "iVBORw0KGgo="}) is None  # a PNG signature and nothing else
    assert model_input_image({"model_input": "not base64!"}) is None
    assert model_input_image({}) is None
