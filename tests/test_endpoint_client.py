"""The InvokeEndpoint wrapper against the real local endpoint server: answers, the model's errors
mapped back to ours, and unavailability as a retryable 503."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from chalicelib import endpoint_client
from chalicelib.config import load
from chalicelib.endpoint_client import EndpointClient
from chalicelib.errors import EndpointUnavailable, ImageRejected
from ops.emulator import free_port
from tests import images
from tests.stack_fixtures import MODEL_ARCHIVE

pytestmark = pytest.mark.integration


@pytest.fixture
def client(endpoint_server) -> EndpointClient:
    return EndpointClient(load("local").endpoint_name)


@pytest.fixture
def fresh_runtime_client() -> Iterator[None]:
    """A new container's client (it is created once per process, from the environment at that time)."""
    endpoint_client.runtime_client.cache_clear()
    yield
    endpoint_client.runtime_client.cache_clear()


def test_predict_returns_the_contract(client: EndpointClient, mnist_dir):
    pictures, labels = images.validation_digits(mnist_dir, count=10)
    prediction = client.predict(images.png(pictures[3]), "image/png")
    result = prediction.result
    assert result["digit"] == int(labels[3]) and result["number"] == str(labels[3])
    assert len(result["probabilities"]) == 10 and abs(sum(result["probabilities"]) - 1) < 1e-3
    assert result["model_version"] and prediction.latency_ms > 0


def test_probe_is_a_real_inference(client: EndpointClient):
    probe = client.probe()
    assert probe.result["model_version"] and probe.model_source == str(MODEL_ARCHIVE)  # the endpoint's --model


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [("blank", 422, "no_digit_found"), (b"\x89PNG\r\n\x1a\nbroken", 422, "corrupt_image")],
)
def test_model_errors_come_back_as_our_codes(client: EndpointClient, body, status: int, code: str):
    data = images.png(images.blank()) if body == "blank" else body
    with pytest.raises(ImageRejected) as info:
        client.predict(data, "image/png")
    assert (info.value.status, info.value.code) == (status, code)
    assert info.value.message and "Traceback" not in info.value.message


def test_unknown_endpoint_is_unavailable(endpoint_server):
    with pytest.raises(EndpointUnavailable) as info:
        EndpointClient("no-such-endpoint").probe()
    assert info.value.status == 503 and info.value.code == "endpoint_not_found" and info.value.retry_after


def test_unreachable_endpoint_is_503_after_bounded_retries(
    endpoint_server, fresh_runtime_client, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(EndpointUnavailable) as info:
        EndpointClient("digits-local").probe()
    assert info.value.status == 503 and info.value.retry_after == endpoint_client.RETRY_AFTER_S
    assert time.monotonic() - started < 30  # three attempts with backoff, never unbounded


def test_client_is_created_once_per_container(endpoint_server, fresh_runtime_client):
    assert endpoint_client.runtime_client() is endpoint_client.runtime_client()
    config = endpoint_client.runtime_client().meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": endpoint_client.MAX_ATTEMPTS}
    assert (config.connect_timeout, config.read_timeout) == (
        endpoint_client.CONNECT_TIMEOUT_S,
        endpoint_client.READ_TIMEOUT_S,
    )
