"""Local SageMaker endpoint: serves ``model.tar.gz`` with its own handlers, no Docker needed.

    python -m model.serve --model model/artifacts/model.tar.gz --port 8080

It does what the SageMaker PyTorch inference container does with the archive (unpack it, put its
``code/`` first on ``sys.path``, import ``inference``, call ``model_fn(model_dir)``) and answers two
HTTP contracts on one port, on 127.0.0.1 unless ``--host`` says otherwise:

* the container contract: ``GET /ping`` (503 until the model is loaded, then 200) and
  ``POST /invocations`` (``Content-Type``/``Accept`` headers; the handler's status and body);
* the SageMaker Runtime API, ``POST /endpoints/{EndpointName}/invocations``, so unchanged boto3 code
  (``boto3.client("sagemaker-runtime").invoke_endpoint(...)`` with
  ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=http://127.0.0.1:8080``) gets the real service's responses,
  headers and errors: a handler's error is a ``ModelError`` (HTTP 424) carrying ``OriginalStatusCode``
  and ``OriginalMessage``; an unknown endpoint name a ``ValidationError``; a body over the service's
  limit the service's HTTP 413.

Concurrent requests are micro-batched (:mod:`model.batching`): ``input_fn`` runs in a thread pool,
one ``predict_many`` call serves a whole batch, ``output_fn`` runs per request. ``GET /metrics``
reports the batch sizes. Logs are JSON lines on stderr, one per invocation.

This module and :mod:`model.batching` are the local server only: they import uvicorn and starlette,
which the SageMaker container does not need (nothing in the handlers imports them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .archive import unpack
from .batching import MicroBatcher

log = logging.getLogger("model.serve")

#: The real service refuses bodies over this size with HTTP 413 "HTTP content length exceeded 5246976 bytes."
MAX_PAYLOAD_BYTES = 5_246_976
#: Bodies are read (and discarded) up to this size before the 413, so that the client sees the answer
#: instead of a reset connection; beyond it the connection is closed.
_DRAIN_LIMIT = 64 * 1024 * 1024
#: Content types whose body the container toolkit hands to ``input_fn`` as ``str`` rather than bytes.
UTF8_CONTENT_TYPES = {"application/json", "text/csv"}
DEFAULT_ACCEPT = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "application/json")
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_ERROR_TYPE = "{}:http://internal.amazon.com/coral/com.amazon.sagemaker/"
_VALIDATION_ERROR_TYPE = "ValidationError:http://internal.amazon.com/coral/com.amazon.coral.validate/"


# --------------------------------------------------------------------------------------------------
# Logging


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``extra={"fields": {...}}`` adds keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


# --------------------------------------------------------------------------------------------------
# The archive and its handlers


@dataclass(frozen=True)
class Handlers:
    """The inference handlers of one archive, bound to its loaded model."""

    model: Any
    input_fn: Callable[[Any, str], Any]
    predict_fn: Callable[[Any, Any], Any]
    predict_many: Callable[[list[Any], Any], list[Any]]
    output_fn: Callable[[Any, str], Any]
    #: The archive's own ``model.errors.InputError`` (not this checkout's: the archive may differ).
    input_error: type[Exception]


def load_handlers(model_dir: Path) -> Handlers:
    """Import ``model_dir/code/inference.py`` as the container does and call its ``model_fn``.

    The archive ships its own copy of the ``model`` package, and its shim does
    ``from model.inference import *``. The ``model`` package this server was started from is dropped
    from ``sys.modules`` first, so that the handlers, and everything they import, come from the archive.
    """
    if not (model_dir / "code" / "inference.py").is_file():
        raise FileNotFoundError(f"{model_dir} has no code/inference.py: not a model.tar.gz for the PyTorch container")
    code = str(model_dir / "code")
    for name in [n for n in sys.modules if n in ("model", "inference") or n.startswith("model.")]:
        del sys.modules[name]
    sys.path.insert(0, code)
    inference = importlib.import_module("inference")
    input_error = importlib.import_module("model.errors").InputError
    model = inference.model_fn(str(model_dir))
    predict_fn = inference.predict_fn
    predict_many = getattr(inference, "predict_many", None) or (
        lambda items, model: [predict_fn(item, model) for item in items]
    )
    return Handlers(model, inference.input_fn, predict_fn, predict_many, inference.output_fn, input_error)


# --------------------------------------------------------------------------------------------------
# The container: one invocation through the handlers


@dataclass
class Outcome:
    """What the container answers for one invocation."""

    status: int
    body: bytes
    content_type: str
    batch_size: int | None = None
    error_code: str | None = None


def _error_outcome(status: int, code: str, message: str) -> Outcome:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return Outcome(status, body, "application/json", error_code=code)


def media_type(header: str) -> str:
    return header.split(";", 1)[0].strip().lower()


@dataclass
class Endpoint:
    """The loaded model behind both HTTP contracts."""

    archive: Path
    endpoint_name: str
    #: Where the model came from (``--model`` as given: a path, s3://..., training-job:NAME, ...).
    source: str | None = None
    variant_name: str = "AllTraffic"
    region: str = "us-east-1"
    account_id: str = "000000000000"
    max_batch_size: int = 16
    max_delay_s: float = 0.005
    handler_threads: int = 2
    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    handlers: Handlers | None = None
    batcher: MicroBatcher | None = None
    statuses: Counter[int] = field(default_factory=Counter)
    load_seconds: float | None = None
    load_failed: bool = False
    _pool: ThreadPoolExecutor | None = None
    _workdir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def ready(self) -> bool:
        return self.batcher is not None

    async def load(self) -> None:
        """Unpack and load in a thread (the port answers /ping with 503 meanwhile), then start batching."""
        started = time.perf_counter()
        self._workdir = tempfile.TemporaryDirectory(prefix="digits-endpoint-")
        model_dir = Path(self._workdir.name)

        def _load() -> Handlers:
            return load_handlers(unpack(self.archive, model_dir))

        handlers = await asyncio.to_thread(_load)
        self.handlers = handlers
        self._pool = ThreadPoolExecutor(max_workers=self.handler_threads, thread_name_prefix="handler")
        batcher = MicroBatcher(
            lambda items: handlers.predict_many(items, handlers.model),
            lambda item: handlers.predict_fn(item, handlers.model),
            self.max_batch_size,
            self.max_delay_s,
        )
        batcher.start()
        self.batcher = batcher
        self.load_seconds = time.perf_counter() - started

    async def close(self) -> None:
        if self.batcher is not None:
            await self.batcher.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._workdir is not None:
            self._workdir.cleanup()

    async def invoke(self, body: bytes, content_type: str | None, accept: str | None, request_id: str) -> Outcome:
        """``input_fn`` -> (micro-batched) ``predict_fn`` -> ``output_fn``, as the container runs them."""
        handlers, batcher, pool = self.handlers, self.batcher, self._pool
        assert handlers is not None and batcher is not None and pool is not None
        loop = asyncio.get_running_loop()
        content_type = content_type or DEFAULT_CONTENT_TYPE
        accept = accept if accept and accept != "*/*" else DEFAULT_ACCEPT
        payload: bytes | str = body
        if media_type(content_type) in UTF8_CONTENT_TYPES:
            with contextlib.suppress(UnicodeDecodeError):  # not UTF-8: input_fn gets the bytes and says why
                payload = body.decode("utf-8")
        batch_size = None
        try:
            with batcher.arriving():
                data = await loop.run_in_executor(pool, handlers.input_fn, payload, content_type)
            prediction, batch_size = await batcher.submit(data)
            result = await loop.run_in_executor(pool, handlers.output_fn, prediction, accept)
        except handlers.input_error as exc:
            error: Any = exc  # the archive's InputError: code, message, status, to_dict()
            return Outcome(error.status, json.dumps(error.to_dict()).encode(), "application/json", batch_size,
                           error.code)
        except Exception:
            log.error("handler failed", exc_info=True, extra={"fields": {"request_id": request_id}})
            return _error_outcome(
                500, "internal_error", f"The model failed on this request; the endpoint log has the details "
                f"(request id {request_id})."
            )
        if isinstance(result, tuple):  # the toolkit lets output_fn name the type: (body, content_type)
            response_body, response_type = result
        else:  # else the type is the Accept header, when it names one type
            response_body, response_type = result, accept if "*" not in accept and "," not in accept else DEFAULT_ACCEPT
        if isinstance(response_body, str):
            response_body = response_body.encode("utf-8")
        return Outcome(200, bytes(response_body), response_type, batch_size)

    # SageMaker Runtime API shapes (botocore/data/sagemaker-runtime/2017-05-13/service-2.json)

    def log_stream_arn(self) -> str:
        return f"arn:aws:logs:{self.region}:{self.account_id}:log-group:/aws/sagemaker/Endpoints/{self.endpoint_name}"

    def model_error(self, outcome: Outcome, request_id: str) -> Response:
        """The service's answer when the container returns 4xx/5xx: ModelError, HTTP 424."""
        original = outcome.body.decode("utf-8", "replace")
        kind = "client" if outcome.status < 500 else "server"
        logs_url = (
            f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region={self.region}"
            f"#logEventViewer:group=/aws/sagemaker/Endpoints/{self.endpoint_name}"
        )
        body = {
            "ErrorCode": "CLIENT_ERROR_FROM_MODEL" if kind == "client" else "INTERNAL_FAILURE_FROM_MODEL",
            "LogStreamArn": self.log_stream_arn(),
            "Message": f'Received {kind} error ({outcome.status}) from primary with message "{original}". '
                       f"See {logs_url} in account {self.account_id} for more information.",
            "OriginalMessage": original,
            "OriginalStatusCode": outcome.status,
        }
        return JSONResponse(body, 424, headers=_aws_headers(request_id, _ERROR_TYPE.format("ModelError")))


def _aws_headers(request_id: str, error_type: str | None = None) -> dict[str, str]:
    headers = {"x-amzn-RequestId": request_id}
    if error_type:
        headers["x-amzn-ErrorType"] = error_type
    return headers


async def read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` (read and dropped up to a cap)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _DRAIN_LIMIT:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _DRAIN_LIMIT:
            break
        if size <= limit:
            chunks.append(chunk)
    return b"".join(chunks) if size <= limit else None


# --------------------------------------------------------------------------------------------------
# HTTP


Handler = Callable[[Request], Awaitable[Response]]


def _logged(handler: Handler, level: int = logging.INFO) -> Handler:
    """One JSON log line per request: method, path, status, latency, batch size and the like."""

    async def wrapper(request: Request) -> Response:
        started = time.perf_counter()
        request.state.fields = {}
        response = await handler(request)
        endpoint: Endpoint = request.app.state.endpoint
        endpoint.statuses[response.status_code] += 1
        if log.isEnabledFor(level):
            fields = {
                "method": request.method,
                "path": request.url.path,
                "status": response.status_code,
                "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                **request.state.fields,
            }
            log.log(level, "request", extra={"fields": fields})
        return response

    return wrapper


async def ping(request: Request) -> Response:
    endpoint: Endpoint = request.app.state.endpoint
    if endpoint.ready:
        return Response(b"\n", 200, media_type="text/plain")
    return Response(b"loading\n", 503, media_type="text/plain")


async def metrics(request: Request) -> Response:
    endpoint: Endpoint = request.app.state.endpoint
    return JSONResponse(
        {
            "ready": endpoint.ready,
            "load_seconds": endpoint.load_seconds,
            "endpoint_name": endpoint.endpoint_name,
            "model_source": endpoint.source,
            "max_batch_size": endpoint.max_batch_size,
            "max_batch_delay_ms": endpoint.max_delay_s * 1000,
            "responses": {str(status): n for status, n in sorted(endpoint.statuses.items())},
            "batching": endpoint.batcher.stats.as_dict() if endpoint.batcher else None,
        }
    )


async def _run_invocation(request: Request, request_id: str) -> Outcome | None:
    """Read the body and run it through the handlers; None when the body is too large."""
    endpoint: Endpoint = request.app.state.endpoint
    body = await read_body(request, endpoint.max_payload_bytes)
    fields = request.state.fields
    fields.update(request_id=request_id, content_type=request.headers.get("content-type"))
    if attributes := request.headers.get("x-amzn-sagemaker-custom-attributes"):
        fields["custom_attributes"] = attributes
    if body is None:
        fields["error_code"] = "payload_too_large"
        return None
    fields["bytes_in"] = len(body)
    outcome = await endpoint.invoke(body, request.headers.get("content-type"), request.headers.get("accept"),
                                    request_id)
    fields.update(batch_size=outcome.batch_size)
    if outcome.error_code:
        fields["error_code"] = outcome.error_code
    return outcome


async def container_invocations(request: Request) -> Response:
    """The container contract: the handler's own status, body and content type."""
    endpoint: Endpoint = request.app.state.endpoint
    request_id = str(uuid.uuid4())
    if not endpoint.ready:
        await read_body(request, 0)
        outcome = _error_outcome(503, "model_not_ready", "The model is still loading; retry shortly.")
        return Response(outcome.body, outcome.status, media_type=outcome.content_type)
    outcome = await _run_invocation(request, request_id)
    if outcome is None:
        outcome = _error_outcome(
            413, "payload_too_large", f"The request body exceeds {endpoint.max_payload_bytes} bytes."
        )
    return Response(outcome.body, outcome.status, media_type=outcome.content_type)


async def runtime_invoke_endpoint(request: Request) -> Response:
    """SageMaker Runtime ``InvokeEndpoint``: the service's headers and error shapes around the container."""
    endpoint: Endpoint = request.app.state.endpoint
    request_id = str(uuid.uuid4())
    name = request.path_params["endpoint_name"]
    request.state.fields["endpoint"] = name
    if name != endpoint.endpoint_name:
        await read_body(request, 0)
        message = f"Endpoint {name} of account {endpoint.account_id} not found."
        return JSONResponse({"message": message}, 400, headers=_aws_headers(request_id, _VALIDATION_ERROR_TYPE))
    if not endpoint.ready:
        await read_body(request, 0)
        return JSONResponse(
            {"message": f"Model for endpoint {name} is not ready yet; retry shortly."}, 429,
            headers=_aws_headers(request_id, _ERROR_TYPE.format("ModelNotReadyException")),
        )
    outcome = await _run_invocation(request, request_id)
    if outcome is None:  # the service itself refuses it: no error type header, botocore reports code "413"
        message = f"HTTP content length exceeded {endpoint.max_payload_bytes} bytes."
        return JSONResponse({"message": message}, 413, headers=_aws_headers(request_id))
    if outcome.status >= 400:
        return endpoint.model_error(outcome, request_id)
    headers = {**_aws_headers(request_id), "x-Amzn-Invoked-Production-Variant": endpoint.variant_name}
    if endpoint.source:  # the Runtime API's CustomAttributes: the container's note to the caller, verbatim
        headers["X-Amzn-SageMaker-Custom-Attributes"] = "model_source=" + quote(endpoint.source, safe=":/@-._~")
    return Response(outcome.body, 200, headers=headers, media_type=outcome.content_type)


def create_app(endpoint: Endpoint, on_load_failure: Callable[[], None] | None = None) -> Starlette:
    """The ASGI app; the model loads in the background once the server runs (``/ping`` says when)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async def load() -> None:
            try:
                await endpoint.load()
            except Exception:
                endpoint.load_failed = True
                log.critical("model failed to load from %s", endpoint.archive, exc_info=True)
                if on_load_failure:
                    on_load_failure()
                return
            log.info(
                "model loaded",
                extra={"fields": {"archive": str(endpoint.archive), "load_seconds": round(endpoint.load_seconds, 3),
                                  "endpoint_name": endpoint.endpoint_name}},
            )

        task = asyncio.create_task(load())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await endpoint.close()

    app = Starlette(
        routes=[
            Route("/ping", _logged(ping, logging.DEBUG), methods=["GET"]),
            Route("/metrics", _logged(metrics, logging.DEBUG), methods=["GET"]),
            Route("/invocations", _logged(container_invocations), methods=["POST"]),
            Route("/endpoints/{endpoint_name}/invocations", _logged(runtime_invoke_endpoint), methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.endpoint = endpoint
    return app


# --------------------------------------------------------------------------------------------------
# CLI


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve model.tar.gz as a local SageMaker endpoint")
    parser.add_argument("--model", required=True,
                        help="model.tar.gz, s3://BUCKET/KEY, training-job:NAME or tuning-job:NAME (docs/models.md)")
    parser.add_argument("--model-source", help="where the model came from, as reported to callers (default --model)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--endpoint-name", default="digits-local",
                        help="the only name InvokeEndpoint accepts (others: ValidationError, as in AWS)")
    parser.add_argument("--max-batch-size", type=int, default=16, help="1 disables batching")
    parser.add_argument("--max-batch-delay-ms", type=float, default=5.0,
                        help="how long a batch waits for more requests that are already on their way")
    parser.add_argument("--handler-threads", type=int, default=os.cpu_count() or 2,
                        help="threads running input_fn/output_fn (decoding, preprocessing, encoding)")
    parser.add_argument("--torch-threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", 1)),
                        help="intra-op threads per forward pass (OMP_NUM_THREADS); requests already run in "
                             "parallel, and more threads than free cores stall each other")
    parser.add_argument("--max-payload-bytes", type=int, default=MAX_PAYLOAD_BYTES)
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level.upper())
    os.environ["OMP_NUM_THREADS"] = str(args.torch_threads)  # read when the handlers import torch
    from ops.model_source import ModelSourceError, resolve  # here: the model package ships without ops/boto3

    try:
        archive = resolve(args.model)
    except ModelSourceError as exc:
        log.critical(str(exc))
        return 2
    endpoint = Endpoint(
        archive=archive.resolve(),
        endpoint_name=args.endpoint_name,
        source=args.model_source or args.model,
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        max_batch_size=args.max_batch_size,
        max_delay_s=args.max_batch_delay_ms / 1000,
        handler_threads=args.handler_threads,
        max_payload_bytes=args.max_payload_bytes,
    )
    server: uvicorn.Server | None = None

    def stop_server() -> None:
        if server is not None:
            server.should_exit = True

    config = uvicorn.Config(
        create_app(endpoint, on_load_failure=stop_server), host=args.host, port=args.port,
        log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    log.info("starting", extra={"fields": {"url": f"http://{args.host}:{args.port}", "archive": str(args.model),
                                           "endpoint_name": args.endpoint_name, "pid": os.getpid()}})
    server.run()
    return 1 if endpoint.load_failed else 0


if __name__ == "__main__":
    sys.exit(main())
