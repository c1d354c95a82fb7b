"""The HTTP routes, in-process (Chalice's test client) against the emulator and the real local endpoint."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import boto3
import numpy as np
import pytest
import requests

from chalicelib.media import MAX_IMAGE_BYTES
from tests import images
from tests.stack_fixtures import MODEL_ARCHIVE
from tests.test_s3_trigger import s3_event

pytestmark = pytest.mark.integration

RESPONSE_FIELDS = {
    "prediction_id",
    "digit",
    "number",
    "confidence",
    "probabilities",
    "digits",
    "top_k",
    "model_input",
    "model_version",
    "created_at",
    "latency_ms",
}


@pytest.fixture(scope="module")
def digits(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return images.validation_digits(mnist_dir, count=10)


def post_image(client, body: bytes, content_type: str = "image/png"):
    return client.http.post("/predict", headers={"Content-Type": content_type}, body=body)


def post_json(client, path: str, payload: object):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.http.post(path, headers={"Content-Type": "application/json"}, body=body)


def error_of(response) -> tuple[int, str]:
    body = json.loads(response.body)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert "Traceback" not in body["error"]["message"]
    return response.status_code, body["error"]["code"]


def count_records(provisioned) -> int:
    table = boto3.resource("dynamodb").Table(provisioned.predictions_table)
    return table.scan(Select="COUNT")["Count"]  # test-only check; the service never scans


def test_predict_recognises_real_digits_and_stores_them(chalice_client, digits, provisioned):
    pictures, labels = digits
    correct = 0
    for picture, label in zip(pictures, labels, strict=True):
        response = post_image(chalice_client, images.png(picture))
        assert response.status_code == 200, response.body
        body = json.loads(response.body)
        assert set(body) >= RESPONSE_FIELDS
        correct += body["digit"] == int(label)
    assert correct >= 9, f"{correct}/10 digits right"
    # The last one is durable: record, image and result JSON.
    stored = json.loads(chalice_client.http.get(f"/predictions/{body['prediction_id']}").body)
    assert stored == body and stored["status"] == "succeeded" and stored["source"] == "api"
    s3 = boto3.client("s3")
    assert s3.get_object(Bucket=provisioned.results_bucket, Key=body["image_key"])["Body"].read() == images.png(picture)
    assert json.loads(s3.get_object(Bucket=provisioned.results_bucket, Key=body["result_key"])["Body"].read()) == body


def test_declared_type_is_a_hint_the_bytes_decide(chalice_client, digits):
    pictures, labels = digits
    photo = images.jpeg(images.invert(images.resize(pictures[7], 112)), quality=85)
    for content_type in ("image/png", "application/octet-stream", "image/jpeg"):
        response = post_image(chalice_client, photo, content_type)
        assert response.status_code == 200, response.body
        assert json.loads(response.body)["digit"] == int(labels[7])


def test_predict_json_takes_base64_and_data_urls(chalice_client, digits):
    pictures, labels = digits
    encoded = base64.b64encode(images.png(pictures[2])).decode()
    for image in (encoded, f"data:image/png;base64,{encoded}"):
        response = post_json(chalice_client, "/predict/json", {"image": image})
        assert response.status_code == 200, response.body
        assert json.loads(response.body)["digit"] == int(labels[2])


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"", "image/png", (400, "empty_body")),
        (b"%PDF-1.4 not an image", "image/png", (415, "unsupported_media_type")),
        (b"<html><body>hello</body></html>", "image/png", (415, "unsupported_media_type")),
        (b"\x89PNG\r\n\x1a\n but then garbage", "image/png", (422, "corrupt_image")),
        (b"hello", "text/plain", (415, "unsupported_media_type")),  # refused by the route itself
    ],
)
def test_bad_uploads_get_specific_errors_and_change_nothing(chalice_client, provisioned, body, content_type, expected):
    before = count_records(provisioned)
    response = post_image(chalice_client, body, content_type)
    assert error_of(response) == expected
    assert count_records(provisioned) == before


def test_a_bare_post_is_told_the_image_is_missing(chalice_client, provisioned):
    """No body and no Content-Type (``curl -X POST .../predict``): the missing image is what to fix."""
    before = count_records(provisioned)
    response = chalice_client.http.post("/predict")
    assert error_of(response) == (400, "empty_body")
    assert "--data-binary" in json.loads(response.body)["error"]["message"]
    assert error_of(chalice_client.http.post("/predict", headers={"Content-Type": "application/json"})) == (
        415,
        "unsupported_media_type",
    )  # a type named by the caller is still the thing to fix
    assert count_records(provisioned) == before


def test_a_wrong_content_type_is_told_what_the_route_takes(chalice_client):
    """Each route's 415 names what that route takes, and where the other kind of body goes."""
    png = images.png(images.draw_strokes(images.STROKES[7]))
    as_json = chalice_client.http.post("/predict", headers={"Content-Type": "application/json"}, body=b"{}")
    assert "POST /predict takes the image itself" in json.loads(as_json.body)["error"]["message"]
    as_image = chalice_client.http.post("/predict/json", headers={"Content-Type": "image/png"}, body=png)
    message = json.loads(as_image.body)["error"]["message"]
    assert error_of(as_image) == (415, "unsupported_media_type")
    assert "POST /predict/json takes application/json" in message and "POST it to /predict" in message


def test_no_digit_is_422_and_too_large_is_413(chalice_client, provisioned):
    before = count_records(provisioned)
    assert error_of(post_image(chalice_client, images.png(images.blank()))) == (422, "no_digit_found")
    assert error_of(post_image(chalice_client, images.png(images.star()))) == (422, "not_a_digit")
    huge = images.png(images.blank((28, 28), 0)) + b"\x00" * MAX_IMAGE_BYTES
    assert error_of(post_image(chalice_client, huge)) == (413, "image_too_large")
    assert count_records(provisioned) == before


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"", (400, "empty_body")),
        (b"{not json", (400, "malformed_json")),
        (b"[1, 2]", (400, "malformed_json")),
        ({}, (400, "invalid_request")),
        ({"image": 5}, (400, "invalid_request")),
        ({"image": "%%%not base64%%%"}, (400, "invalid_base64")),
        ({"image": base64.b64encode(b"just text").decode()}, (415, "unsupported_media_type")),
    ],
)
def test_bad_json_requests(chalice_client, payload, expected):
    assert error_of(post_json(chalice_client, "/predict/json", payload)) == expected


def test_a_refusal_names_what_held_the_bytes(chalice_client):
    """The JSON route's body is JSON: a text file sent as its image is the field's fault, not the body's."""
    response = post_json(chalice_client, "/predict/json", {"image": base64.b64encode(b"just text").decode()})
    assert json.loads(response.body)["error"]["message"].startswith('the "image" field is not an image;')
    response = chalice_client.http.post("/predict", headers={"Content-Type": "image/png"}, body=b"just text")
    assert json.loads(response.body)["error"]["message"].startswith("the body is not an image;")
    for body in ({"picture": "..."}, {"image": None}):  # the field is missing, not wrong
        response = post_json(chalice_client, "/predict/json", body)
        assert '"image" is missing or null' in json.loads(response.body)["error"]["message"]


def test_listing_pages_newest_first(chalice_client, digits):
    pictures, _ = digits
    made = [json.loads(post_image(chalice_client, images.png(p)).body)["prediction_id"] for p in pictures[:5]]
    seen, cursor = [], None
    for _ in range(10):
        query = "/predictions?limit=2&source=api" + (f"&cursor={cursor}" if cursor else "")
        response = chalice_client.http.get(query)
        assert response.status_code == 200, response.body
        page = json.loads(response.body)
        assert len(page["items"]) <= 2
        seen += [item["prediction_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if len(seen) >= 5 or cursor is None:
            break
    assert seen[:5] == list(reversed(made))
    times = [item["created_at"] for item in json.loads(chalice_client.http.get("/predictions?limit=50").body)["items"]]
    assert times == sorted(times, reverse=True)


def test_a_full_last_page_has_no_cursor(aws, chalice_client, digits):
    """``limit=N`` with exactly N records left: N items and ``next_cursor: null`` (shared case)."""
    pictures, _ = digits
    made = [json.loads(post_image(chalice_client, images.png(p)).body)["prediction_id"] for p in pictures[:3]]
    newest_first = list(reversed(made))
    for query, expected in (("limit=3", newest_first), ("limit=2&source=api", newest_first[:2])):
        page = json.loads(chalice_client.http.get(f"/predictions?{query}").body)
        assert [item["prediction_id"] for item in page["items"]] == expected
    cursor = page["next_cursor"]
    assert cursor
    last = json.loads(chalice_client.http.get(f"/predictions?limit=1&source=api&cursor={cursor}").body)
    assert [item["prediction_id"] for item in last["items"]] == newest_first[2:] and last["next_cursor"] is None
    assert json.loads(chalice_client.http.get("/predictions?limit=3").body)["next_cursor"] is None


def test_listing_filters(chalice_client, digits):
    pictures, labels = digits
    post_image(chalice_client, images.png(pictures[6]))
    page = json.loads(chalice_client.http.get(f"/predictions?digit={int(labels[6])}&status=succeeded&limit=5").body)
    assert page["items"] and all(i["digit"] == int(labels[6]) and i["status"] == "succeeded" for i in page["items"])


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=abc",
        "limit=1000",
        "digit=12",
        "digit=-1",
        "source=email",
        "status=ok",
        "cursor=garbage",
        "colour=red",
        "source=",
        "limit=&digit=3",
        "corrected=yes",
        "source_key=inbox/a.png&source=api",
    ],
)
def test_bad_listing_parameters_are_400(chalice_client, query):
    status, code = error_of(chalice_client.http.get(f"/predictions?{query}"))
    assert status == 400 and code in ("invalid_parameter", "invalid_cursor")


def test_image_url_serves_the_stored_image(chalice_client, digits):
    pictures, _ = digits
    png = images.png(pictures[3])
    prediction_id = json.loads(post_image(chalice_client, png).body)["prediction_id"]
    response = chalice_client.http.get(f"/predictions/{prediction_id}/image")
    assert response.status_code == 200, response.body
    body = json.loads(response.body)
    assert body["prediction_id"] == prediction_id and body["expires_in"] > 0
    image = requests.get(body["url"], timeout=10)  # presigned: no credentials of the caller's own
    assert image.status_code == 200 and image.content == png
    for unknown in ("00000000-0000-4000-8000-000000000000", "nope"):
        assert error_of(chalice_client.http.get(f"/predictions/{unknown}/image")) == (404, "not_found")


def test_stats_count_predictions_per_day_and_source(chalice_client, digits):
    pictures, _ = digits
    before = json.loads(chalice_client.http.get("/stats?days=3").body)["days"]
    assert [set(day) for day in before] == [{"date", "api", "s3", "total"}] * 3
    assert before == sorted(before, key=lambda day: day["date"])
    assert all(day["total"] == day["api"] + day["s3"] for day in before)
    post_image(chalice_client, images.png(pictures[8]))
    today = json.loads(chalice_client.http.get("/stats?days=1").body)["days"]
    assert [day["date"] for day in today] == [before[-1]["date"]]
    assert (today[0]["api"], today[0]["s3"]) == (before[-1]["api"] + 1, before[-1]["s3"])
    assert len(json.loads(chalice_client.http.get("/stats").body)["days"]) == 7
    for query in ("days=0", "days=32", "days=x", "since=today"):
        assert error_of(chalice_client.http.get(f"/stats?{query}")) == (400, "invalid_parameter")


def send_form(upload: dict, data: bytes, filename: str = "image.png") -> requests.Response:
    """What a client does with ``POST /uploads``' answer: a multipart form straight to S3."""
    return requests.post(upload["url"], data=upload["fields"], files={"file": (filename, data)}, timeout=10)


def test_uploads_go_to_the_inbox_and_name_their_record(chalice_client, provisioned, digits):
    pictures, labels = digits
    response = post_json(chalice_client, "/uploads", {"filename": "../my six.png", "content_type": "image/png"})
    assert response.status_code == 201, response.body
    upload = json.loads(response.body)
    assert upload["upload_id"].endswith("-my_six.png") and "/" not in upload["upload_id"]
    assert upload["key"] == f"{provisioned.inbox_prefix}uploads/{upload['upload_id']}"
    assert upload["max_bytes"] == MAX_IMAGE_BYTES and upload["expires_in"] > 0
    path = f"/uploads/{upload['upload_id']}"
    assert error_of(chalice_client.http.get(path)) == (404, "not_found")  # nothing uploaded yet

    assert send_form(upload, images.png(pictures[6])).status_code in (200, 201, 204)
    pending = json.loads(chalice_client.http.get(path).body)
    assert pending["prediction"] is None and pending["key"] == upload["key"]
    chalice_client.lambda_.invoke("handle_inbox_upload", s3_event(provisioned, upload["key"]))
    done = json.loads(chalice_client.http.get(path).body)
    assert done["prediction_id"] == pending["prediction_id"] == done["prediction"]["prediction_id"]
    assert done["prediction"]["digit"] == int(labels[6]) and done["prediction"]["source_key"] == upload["key"]


def test_upload_forms_refuse_what_the_service_would(chalice_client):
    upload = json.loads(post_json(chalice_client, "/uploads", b"").body)  # no body: a form all the same
    too_large = send_form(upload, b"\x89PNG" + b"\x00" * MAX_IMAGE_BYTES)
    assert too_large.status_code == 400 and "EntityTooLarge" in too_large.text
    assert send_form(upload, b"").status_code == 400
    assert error_of(post_json(chalice_client, "/uploads", {"content_type": "text/html"})) == (
        415,
        "unsupported_media_type",
    )
    assert error_of(post_json(chalice_client, "/uploads", {"filename": 5})) == (400, "invalid_request")
    for unknown in ("0123456789abcdef-never.png", "not-an-upload-id", "0123456789abcdef-..%2F..%2Fx"):
        assert error_of(chalice_client.http.get(f"/uploads/{unknown}")) == (404, "not_found")


def test_unknown_prediction_is_404_json(chalice_client):
    for prediction_id in ("00000000-0000-4000-8000-000000000000", "nope"):
        assert error_of(chalice_client.http.get(f"/predictions/{prediction_id}")) == (404, "not_found")


def test_feedback_round_trip(chalice_client, digits):
    pictures, _ = digits
    prediction_id = json.loads(post_image(chalice_client, images.png(pictures[0])).body)["prediction_id"]
    response = post_json(chalice_client, f"/predictions/{prediction_id}/feedback", {"label": 8})
    assert response.status_code == 200, response.body
    assert json.loads(response.body)["feedback_label"] == 8
    stored = json.loads(chalice_client.http.get(f"/predictions/{prediction_id}").body)
    assert stored["feedback_label"] == 8 and stored["feedback_at"]
    for bad in ({"label": 10}, {"label": "3"}, {"label": True}, {"label": 2.5}, {}):
        assert error_of(post_json(chalice_client, f"/predictions/{prediction_id}/feedback", bad)) == (
            400,
            "invalid_label",
        )
    assert json.loads(chalice_client.http.get(f"/predictions/{prediction_id}").body)["feedback_label"] == 8
    unknown = "00000000-0000-4000-8000-000000000000"
    assert error_of(post_json(chalice_client, f"/predictions/{unknown}/feedback", {"label": 1})) == (404, "not_found")


def test_health_reports_endpoint_table_and_model_version(chalice_client):
    response = chalice_client.http.get("/health")
    assert response.status_code == 200, response.body
    body = json.loads(response.body)
    assert body["status"] == "ok" and body["model_version"] and body["stage"] == "local"
    assert body["model_source"] == str(MODEL_ARCHIVE)  # what the endpoint was started with (docs/models.md)
    assert set(body["checks"]) == {"endpoint", "table", "inbox_bucket", "results_bucket"}
    assert all(check["ok"] for check in body["checks"].values())


def test_endpoint_down_is_503_with_retry_after_and_recovers(chalice_client, endpoint_server, digits):
    pictures, labels = digits
    endpoint_server.stop()
    try:
        response = post_image(chalice_client, images.png(pictures[1]))
        assert error_of(response) == (503, "endpoint_unavailable")
        assert int(response.headers["Retry-After"]) > 0
        health = chalice_client.http.get("/health")
        assert health.status_code == 503
        assert json.loads(health.body)["checks"]["endpoint"]["ok"] is False
    finally:
        endpoint_server.start()
    response = post_image(chalice_client, images.png(pictures[1]))
    assert response.status_code == 200 and json.loads(response.body)["digit"] == int(labels[1])


def test_wrong_method_and_unexpected_errors_keep_the_error_shape(chalice_client, chalice_app, monkeypatch):
    status, code = error_of(chalice_client.http.get("/predict"))
    assert status == 405 and code == "method_not_allowed"

    def broken(*_: object, **__: object):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(type(chalice_app.service.store), "list", broken)  # fault injection: an unexpected bug
    response = chalice_client.http.get("/predictions")
    assert error_of(response) == (500, "internal_error")
    assert "secret" not in response.body.decode()
    assert response.headers["X-Request-Id"] in json.loads(response.body)["error"]["message"]
