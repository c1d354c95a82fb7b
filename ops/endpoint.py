"""Local SageMaker endpoint: the SageMaker Runtime API in front of a model container, no Docker needed.

    python -m ops.endpoint --model model/artifacts/model.tar.gz --port 8080          # in-process container
    python -m ops.endpoint --container-url http://127.0.0.1:9080 --port 8080         # the real serving stack
    python -m ops.endpoint --model M --follow .local/models/registry.json            # switch on promotion

It answers, on 127.0.0.1 unless ``--host`` says otherwise:

* the SageMaker Runtime API, ``POST /endpoints/{EndpointName}/invocations``, so unchanged boto3 code
  (``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=http://127.0.0.1:8080``) gets the real service's responses,
  headers and errors: a container's 4xx/5xx becomes a ``ModelError`` (HTTP 424) carrying
  ``OriginalStatusCode`` and ``OriginalMessage``; an unknown endpoint name a ``ValidationError``; a body
  over :data:`~model.contract.INVOKE_ENDPOINT_MAX_BYTES` the service's own HTTP 413;
* the container contract, ``GET /ping`` and ``POST /invocations`` (in-process container only).

Behind it, either container:

* in-process (``--model``): the archive unpacked, its ``code/inference.py`` imported and ``model_fn``
  called, as the serving stack does; each request goes through the archive's ``transform_fn`` the way
  the ``sagemaker-inference`` toolkit calls it (:meth:`InProcessContainer.invoke`);
* the real SageMaker PyTorch serving stack, TorchServe + the toolkit (``--container-url``, started by
  :mod:`ops.serving_stack`): requests are forwarded to its ``/invocations``.

With ``--follow REGISTRY`` (in-process container only; ``make up`` passes the local model registry of
:mod:`training.feedback.registry`) the endpoint watches that JSON file and, when its ``current`` entry
names another archive, loads it next to the serving model and then switches to it in one assignment:
requests in flight finish on the old model, the next ones get the new one, none fails. An archive that
does not load leaves the old model serving.

``tests/test_serving_conformance.py`` runs both side by side on the same cases: same status, same body.
Logs are JSON lines on stderr, one per invocation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol
from urllib.parse import quote

import psutil
import requests
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from model.contract import INVOKE_ENDPOINT_MAX_BYTES, JSON, error_body
from ops.archive import unpack
from ops.model_source import ModelSourceError, resolve
from ops.supervise import EXIT_NO_RESTART, START_SECS

log = logging.getLogger("ops.endpoint")

#: TorchServe's own cap on a request body (its ``max_request_size`` default): it answers 413 itself.
TORCHSERVE_MAX_REQUEST_BYTES = 6_553_500
#: Bodies are read (and discarded) up to this size before the 413, so that the client sees the answer
#: instead of a reset connection; beyond it the connection is closed.
_DRAIN_LIMIT = 64 * 1024 * 1024
#: Content types whose body the toolkit decodes to ``str`` (UTF-8) before the handlers see it; it
#: compares the whole header, so ``application/json; charset=utf-8`` stays bytes.
TOOLKIT_UTF8_TYPES = ("application/json", "text/csv")
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
# Containers


#: Where the archives are unpacked: ``<tmp>/digits-endpoint-*/model``, next to ``owner.pid``.
WORKDIR_PREFIX = "digits-endpoint-"
OWNER_FILE = "owner.pid"


def owned_workdir() -> tempfile.TemporaryDirectory[str]:
    """A temporary folder for an unpacked archive, marked with this process's id. An endpoint that is
    killed (SIGKILL, OOM) cannot clean up its folders, so the folders of dead owners go first."""
    remove_orphaned_workdirs()
    workdir = tempfile.TemporaryDirectory(prefix=WORKDIR_PREFIX)
    (Path(workdir.name) / OWNER_FILE).write_text(str(os.getpid()))
    return workdir


def remove_orphaned_workdirs(root: Path | None = None) -> list[Path]:
    """Remove the unpacked-archive folders under ``root`` (the temporary directory) whose owner process
    is gone; a folder without an owner's id is left alone. Returns the folders removed."""
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*"):
        try:
            pid = int((folder / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if not psutil.pid_exists(pid):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


@dataclass(frozen=True)
class Outcome:
    """What a container answers for one invocation."""

    status: int
    body: bytes
    content_type: str


class Container(Protocol):
    ready: bool
    load_failed: bool

    async def load(self) -> None: ...
    async def close(self) -> None: ...
    async def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Outcome: ...


def import_handlers(model_dir: Path, source: Path | None = None) -> ModuleType:
    """Import ``model_dir/code/inference.py`` as the serving stack does (``code/`` first on ``sys.path``).

    The archive ships its own copy of the ``model`` package: it is imported with the process's own
    ``model`` modules set aside and ``code/`` first on ``sys.path``, so that the handlers and everything
    they import are the archive's; then the process's modules are put back, and each archive loaded (one
    served, one swapped in) keeps its own. ``source``: the archive ``model_dir`` was unpacked from, for
    the message when it has no handlers."""
    code = str(model_dir / "code")
    if not (model_dir / "code" / "inference.py").is_file():
        raise FileNotFoundError(
            f"{source or model_dir} has no code/inference.py: not a model.tar.gz for the PyTorch container"
        )

    def handler_modules() -> list[str]:
        return [n for n in sys.modules if n in ("model", "inference") or n.startswith("model.")]

    own = {name: sys.modules.pop(name) for name in handler_modules()}
    sys.path.insert(0, code)
    try:
        return importlib.import_module("inference")
    finally:
        sys.path.remove(code)
        for name in handler_modules():
            del sys.modules[name]
        sys.modules.update(own)


class _RequestContext:
    """The part of TorchServe's per-request ``context`` that handlers use: the response status."""

    def __init__(self) -> None:
        self.status = 200

    def set_response_status(self, code: int = 200, phrase: str = "", idx: int = 0) -> None:
        self.status = code


@dataclass
class InProcessContainer:
    """The archive's handlers in this process, called as the ``sagemaker-inference`` toolkit calls them."""

    archive: Path
    default_accept: str = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", JSON)
    ready: bool = False
    load_failed: bool = False
    load_seconds: float | None = None
    #: The handlers module and its loaded model, replaced together (one assignment) by :meth:`swap`.
    _served: tuple[ModuleType, Any] | None = None
    _workdirs: list[tempfile.TemporaryDirectory[str]] = field(default_factory=list)

    async def load(self) -> None:
        started = time.perf_counter()
        self._served = await self._load(self.archive)
        self.load_seconds = time.perf_counter() - started
        self.ready = True

    async def _load(self, archive: Path) -> tuple[ModuleType, Any]:
        workdir = owned_workdir()
        self._workdirs.append(workdir)  # kept until close: a retired model's files may still be read
        model_dir = unpack(archive, Path(workdir.name) / "model")
        handlers = await asyncio.to_thread(import_handlers, model_dir, archive)
        return handlers, await asyncio.to_thread(handlers.model_fn, str(model_dir))

    async def swap(self, archive: Path) -> None:
        """Serve ``archive`` from now on: loaded first (while the current model keeps answering), then
        switched to in one assignment; requests already running finish on the old model. Raises (and
        changes nothing) when the archive does not load."""
        started = time.perf_counter()
        served = await self._load(archive)
        self._served, self.archive = served, archive
        self.load_seconds = time.perf_counter() - started

    async def close(self) -> None:
        for workdir in self._workdirs:
            workdir.cleanup()

    def _transform(self, body: bytes, content_type: str | None, accept: str | None) -> Outcome:
        """``sagemaker_inference.transformer.Transformer.transform`` for one request, what it does in order."""
        if not accept or accept == "*/*":
            accept = self.default_accept
        payload: bytes | str = body
        if content_type in TOOLKIT_UTF8_TYPES:
            try:
                payload = body.decode("utf-8")
            except UnicodeDecodeError as exc:  # the toolkit's answer: 500, the message (and a traceback), no type
                return Outcome(500, f"{exc}\n".encode(), "")
        context = _RequestContext()
        assert self._served is not None
        handlers, model = self._served  # one read: a swap in between cannot mix two models
        try:
            result = handlers.transform_fn(model, payload, content_type, accept, context)
        except Exception as exc:  # the toolkit's answer to a handler that raises: 500 and the message
            log.error("transform_fn raised", exc_info=True)
            return Outcome(500, f"{exc}\n".encode(), "")
        response, response_type = result if isinstance(result, tuple) else (result, accept)
        if isinstance(response, str):
            response = response.encode("utf-8")
        return Outcome(context.status, bytes(response), response_type)

    async def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Outcome:
        return await asyncio.to_thread(self._transform, body, content_type, accept)


@dataclass
class RemoteContainer:
    """A container serving ``/ping`` and ``/invocations`` elsewhere: the real SageMaker serving stack."""

    url: str
    ready: bool = False
    load_failed: bool = False
    _session: requests.Session = field(default_factory=requests.Session)

    async def load(self) -> None:
        self.ready = True

    async def close(self) -> None:
        self._session.close()

    def _forward(self, body: bytes, content_type: str | None, accept: str | None) -> Outcome:
        headers = {k: v for k, v in (("Content-Type", content_type), ("Accept", accept)) if v}
        try:
            response = self._session.post(f"{self.url}/invocations", data=body, headers=headers, timeout=60)
        except requests.RequestException as exc:
            log.error("container at %s unreachable: %s", self.url, exc)
            return Outcome(503, b"the model container is not reachable\n", "text/plain")
        return Outcome(response.status_code, response.content, response.headers.get("content-type", JSON))

    async def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Outcome:
        return await asyncio.to_thread(self._forward, body, content_type, accept)


# --------------------------------------------------------------------------------------------------
# The endpoint: SageMaker Runtime API shapes (botocore/data/sagemaker-runtime/2017-05-13/service-2.json)


@dataclass
class Endpoint:
    container: Container
    endpoint_name: str
    #: Where the model came from (``--model`` as given: a path, s3://..., training-job:NAME, ...).
    source: str | None = None
    #: When the serving model was promoted (``--follow``: the registry's ``promoted_at``), ISO-8601 UTC.
    promoted_at: str | None = None
    variant_name: str = "AllTraffic"
    region: str = "us-east-1"
    account_id: str = "000000000000"
    statuses: Counter[int] = field(default_factory=Counter)

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
            "LogStreamArn": f"arn:aws:logs:{self.region}:{self.account_id}:log-group:/aws/sagemaker/Endpoints/"
            f"{self.endpoint_name}",
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


Handler = Callable[[Request], Awaitable[Response]]


def _logged(handler: Handler, level: int = logging.INFO) -> Handler:
    """One JSON log line per request: method, path, status, latency and the like."""

    async def wrapper(request: Request) -> Response:
        started = time.perf_counter()
        request.state.fields = {}
        response = await handler(request)
        request.app.state.endpoint.statuses[response.status_code] += 1
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
    if endpoint.container.ready:
        return Response(b"\n", 200, media_type="text/plain")
    return Response(b"loading\n", 503, media_type="text/plain")


async def metrics(request: Request) -> Response:
    endpoint: Endpoint = request.app.state.endpoint
    return JSONResponse(
        {
            "ready": endpoint.container.ready,
            "endpoint_name": endpoint.endpoint_name,
            "container": type(endpoint.container).__name__,
            "model_source": endpoint.source,
            "responses": {str(status): n for status, n in sorted(endpoint.statuses.items())},
        }
    )


async def _invoke(request: Request, limit: int) -> Outcome | None:
    """Read the body and run it through the container; None when the body is over ``limit``."""
    endpoint: Endpoint = request.app.state.endpoint
    body = await read_body(request, limit)
    fields = request.state.fields
    fields.update(content_type=request.headers.get("content-type"))
    if attributes := request.headers.get("x-amzn-sagemaker-custom-attributes"):
        fields["custom_attributes"] = attributes
    if body is None:
        fields["error_code"] = "payload_too_large"
        return None
    fields["bytes_in"] = len(body)
    outcome = await endpoint.container.invoke(body, request.headers.get("content-type"), request.headers.get("accept"))
    if outcome.status >= 400 and outcome.content_type.startswith(JSON):
        with contextlib.suppress(ValueError, KeyError, TypeError):
            fields["error_code"] = json.loads(outcome.body)["error"]["code"]
    return outcome


async def container_invocations(request: Request) -> Response:
    """The container contract: the handler's own status, body and content type."""
    endpoint: Endpoint = request.app.state.endpoint
    if not endpoint.container.ready:
        await read_body(request, 0)
        body = json.dumps(error_body("model_not_ready", "The model is still loading; retry shortly."))
        return Response(body, 503, media_type=JSON)
    outcome = await _invoke(request, TORCHSERVE_MAX_REQUEST_BYTES)
    if outcome is None:
        body = json.dumps({"code": 413, "type": "RequestTooLarge", "message": "Request too large"})
        return Response(body, 413, media_type=JSON)
    return Response(outcome.body, outcome.status, media_type=outcome.content_type or None)


async def runtime_invoke_endpoint(request: Request) -> Response:
    """SageMaker Runtime ``InvokeEndpoint``: the service's headers and error shapes around the container."""
    endpoint: Endpoint = request.app.state.endpoint
    request_id = str(uuid.uuid4())
    name = request.path_params["endpoint_name"]
    request.state.fields.update(endpoint=name, request_id=request_id)
    if name != endpoint.endpoint_name:
        await read_body(request, 0)
        message = f"Endpoint {name} of account {endpoint.account_id} not found."
        return JSONResponse({"message": message}, 400, headers=_aws_headers(request_id, _VALIDATION_ERROR_TYPE))
    if not endpoint.container.ready:
        await read_body(request, 0)
        return JSONResponse(
            {"message": f"Model for endpoint {name} is not ready yet; retry shortly."},
            429,
            headers=_aws_headers(request_id, _ERROR_TYPE.format("ModelNotReadyException")),
        )
    outcome = await _invoke(request, INVOKE_ENDPOINT_MAX_BYTES)
    if outcome is None:  # the service itself refuses it: no error type header, botocore reports code "413"
        message = f"HTTP content length exceeded {INVOKE_ENDPOINT_MAX_BYTES} bytes."
        return JSONResponse({"message": message}, 413, headers=_aws_headers(request_id))
    if outcome.status >= 400:
        return endpoint.model_error(outcome, request_id)
    headers = {**_aws_headers(request_id), "x-Amzn-Invoked-Production-Variant": endpoint.variant_name}
    # The Runtime API's CustomAttributes: the container's note to the caller, verbatim.
    attributes = [
        f"{k}={quote(v, safe=':/@-._~')}"
        for k, v in (("model_source", endpoint.source), ("promoted_at", endpoint.promoted_at))
        if v
    ]
    if attributes:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = ";".join(attributes)
    return Response(outcome.body, 200, headers=headers, media_type=outcome.content_type)


async def follow(endpoint: Endpoint, registry: Path, interval: float = 0.5) -> None:
    """Serve the ``current`` archive of the model registry file ``registry`` whenever it changes (forever).

    The file is replaced atomically by its writer, so each read sees a whole version of it."""
    container = endpoint.container
    assert isinstance(container, InProcessContainer)
    seen: tuple[int, int] | None = None
    while True:
        try:
            stat = registry.stat()
            signature = (stat.st_mtime_ns, stat.st_size)
            if signature != seen:
                seen = signature
                current = json.loads(registry.read_text())["current"]
                archive = Path(current["archive"]).resolve()
                if archive != container.archive.resolve():
                    log.info("switching model", extra={"fields": {"archive": str(archive)}})
                    await container.swap(archive)
                    log.info(
                        "model switched",
                        extra={"fields": {"archive": str(archive), "load_seconds": container.load_seconds}},
                    )
                endpoint.source = current.get("source") or str(archive)
                endpoint.promoted_at = current.get("promoted_at")
        except FileNotFoundError:
            pass
        except Exception:  # a bad registry entry or archive: keep serving what serves now
            log.error("not switching model: %s stays", container.archive, exc_info=True)
        await asyncio.sleep(interval)


def create_app(
    endpoint: Endpoint, on_load_failure: Callable[[], None] | None = None, registry: Path | None = None
) -> Starlette:
    """The ASGI app; the container loads in the background once the server runs (``/ping`` says when),
    then, with ``registry``, follows that model registry file (:func:`follow`)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async def load() -> None:
            try:
                await endpoint.container.load()
            except Exception as exc:
                endpoint.container.load_failed = True
                if isinstance(exc, (OSError, ValueError)):  # the archive's own fault, said in one line
                    log.critical("model failed to load", extra={"fields": {"error": str(exc)}})
                else:
                    log.critical("model failed to load", exc_info=True)
                if on_load_failure:
                    on_load_failure()
                return
            log.info("model loaded", extra={"fields": {"endpoint_name": endpoint.endpoint_name}})
            if registry is not None:
                await follow(endpoint, registry)

        task = asyncio.create_task(load())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await endpoint.container.close()

    routes = [
        Route("/ping", _logged(ping, logging.DEBUG), methods=["GET"]),
        Route("/metrics", _logged(metrics, logging.DEBUG), methods=["GET"]),
        Route("/endpoints/{endpoint_name}/invocations", _logged(runtime_invoke_endpoint), methods=["POST"]),
    ]
    if isinstance(endpoint.container, InProcessContainer):
        routes.append(Route("/invocations", _logged(container_invocations), methods=["POST"]))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.endpoint = endpoint
    return app


# --------------------------------------------------------------------------------------------------
# CLI


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve a model as a local SageMaker endpoint")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--model", help="model.tar.gz, s3://BUCKET/KEY, training-job:NAME or tuning-job:NAME, served in this process"
    )
    source.add_argument("--container-url", help="a running model container (the real serving stack) to forward to")
    parser.add_argument(
        "--follow", type=Path, help="a model registry file (.local/models/registry.json): serve its current model"
    )
    parser.add_argument("--model-source", help="where the model came from, as reported to callers (default --model)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--endpoint-name", default="digits-local", help="the only name InvokeEndpoint accepts (others: ValidationError)"
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=int(os.environ.get("OMP_NUM_THREADS", 1)),
        help="intra-op threads per forward pass (OMP_NUM_THREADS); requests already run in parallel",
    )
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    args = parse_args(argv)
    configure_logging(args.log_level.upper())
    os.environ["OMP_NUM_THREADS"] = str(args.torch_threads)  # read when the handlers import torch
    container: Container
    if args.model is not None:
        try:
            container = InProcessContainer(resolve(args.model).resolve())
        except ModelSourceError as exc:
            log.critical(str(exc))
            return 2
    else:
        if args.follow:
            log.critical("--follow needs --model (the in-process container)")
            return 2
        container = RemoteContainer(args.container_url)
    endpoint = Endpoint(
        container,
        endpoint_name=args.endpoint_name,
        source=args.model_source or args.model,
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
    )
    server: uvicorn.Server | None = None

    def stop_server() -> None:
        if server is not None:
            server.should_exit = True

    config = uvicorn.Config(
        create_app(endpoint, on_load_failure=stop_server, registry=args.follow),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    log.info("starting", extra={"fields": {"url": f"http://{args.host}:{args.port}", "pid": os.getpid()}})
    server.run()
    if not container.load_failed:
        return 0
    # A model that did not load will not load when started again: supervisord is told to leave the
    # endpoint stopped. It reads the exit code only of a process that stayed up START_SECS (an earlier
    # exit is a failed start, retried whatever its code), so a quick failure waits that long first.
    time.sleep(max(0.0, START_SECS - (time.monotonic() - started)))
    return EXIT_NO_RESTART


if __name__ == "__main__":
    sys.exit(main())
