"""Smoke test of the running stack as ``make up`` starts it: real HTTP to ``chalice local``."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
import requests

from tests import images

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def digits(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return images.validation_digits(mnist_dir, count=10)


def test_curl_style_predict_returns_the_digit(local_stack, digits):
    pictures, labels = digits
    response = requests.post(
        f"{local_stack.api_url}/predict",
        data=images.png(pictures[7]),
        headers={"Content-Type": "image/png"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["digit"] == int(labels[7]) and response.headers["X-Request-Id"]
    stored = requests.get(f"{local_stack.api_url}/predictions/{body['prediction_id']}", timeout=10).json()
    assert stored["prediction_id"] == body["prediction_id"]


def test_json_route_and_listing(local_stack, digits):
    pictures, labels = digits
    encoded = base64.b64encode(images.png(pictures[1])).decode()
    response = requests.post(f"{local_stack.api_url}/predict/json", json={"image": encoded}, timeout=30)
    assert response.status_code == 200 and response.json()["digit"] == int(labels[1])
    listing = requests.get(f"{local_stack.api_url}/predictions", params={"limit": 1}, timeout=10).json()
    assert listing["items"][0]["prediction_id"] == response.json()["prediction_id"]


def test_errors_over_http(local_stack):
    response = requests.post(
        f"{local_stack.api_url}/predict", data=b"hello", headers={"Content-Type": "text/plain"}, timeout=10
    )
    assert response.status_code == 415 and response.json()["error"]["code"] == "unsupported_media_type"
    response = requests.post(f"{local_stack.api_url}/predict", timeout=10)  # no body, no Content-Type
    assert response.status_code == 400 and response.json()["error"]["code"] == "empty_body"
    response = requests.get(f"{local_stack.api_url}/predictions/unknown", timeout=10)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_health(local_stack):
    response = requests.get(f"{local_stack.api_url}/health", timeout=10)
    assert response.status_code == 200 and response.json()["model_version"]
