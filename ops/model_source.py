"""Name a model by where it is; get a verified local ``model.tar.gz`` to load.

    resolve("model/artifacts/model.tar.gz")             # a local archive (or unpacked folder): as it is
    resolve("s3://my-bucket/digits/output/job/output/model.tar.gz")   # downloaded once per ETag
    resolve("training-job:digits-train-20261130-101500-ab12")        # that job's model artifact
    resolve("tuning-job:digits-tune-20261130-101500-cd34")           # its best training job's artifact

The CLI (``python -m ops.predict --model ...``), the local endpoint (``python -m ops.endpoint
--model ...``) and ``make up MODEL=...`` all go through :func:`resolve`.

* ``training-job:NAME``: ``DescribeTrainingJob``; the job must be ``Completed``, its archive is
  ``ModelArtifacts.S3ModelArtifacts``. ``tuning-job:NAME``: ``DescribeHyperParameterTuningJob``'s
  ``BestTrainingJob`` (the best completed one), then as above.
* ``s3://BUCKET/KEY``: ``HeadObject`` first (size cap, ETag). The cache (``$DIGITS_MODEL_CACHE``, else
  ``$XDG_CACHE_HOME/digits/models``, else ``~/.cache/digits/models``) keeps one file per object and
  ETag, so a run that finds it downloads nothing. Otherwise one ``GetObject`` pinned to that ETag
  (``IfMatch``: an object replaced meanwhile is refused, never cached under the old ETag) streams into
  a temporary file next to the cache entry, which is verified and then renamed into place: the cache
  never holds a partial or unverified archive.
* Verified, for downloads and local archives alike: at most :data:`MAX_ARCHIVE_BYTES`, a gzip stream
  that decompresses completely (CRC checked) to at most :data:`MAX_UNPACKED_BYTES`, a tar archive
  with a ``model.pt``. Whether ``model.pt`` fits the network is the loader's check (the local
  endpoint runs the archive's own code, which may define another network than this checkout's).

AWS access is boto3's default chain (``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID``..., ``AWS_REGION``), and it
honours ``AWS_ENDPOINT_URL`` (``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL_SAGEMAKER``), so the same
references work against the local emulator. Every failure the user can fix (no such object or job, no
credentials, a job not finished, a file that is not a model archive) is a :class:`ModelSourceError`
with a one-line message.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import re
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.errors import OpsError
from training.cloud.context import RESOURCE_NAME, S3_URI

if TYPE_CHECKING:  # pragma: no cover
    import boto3

#: A model.tar.gz larger than this is refused before it is downloaded (the shipped one is 1.7 MB).
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024
#: Decompressed, the archive may not exceed this (a gzip bomb is refused while it is read).
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
CACHE_ENV = "DIGITS_MODEL_CACHE"
JOB_PREFIXES = ("training-job:", "tuning-job:")
_CHUNK = 1024 * 1024
#: How SageMaker's Describe* calls say "no such job" (ValidationException); moto says "Could not find".
_NOT_FOUND = re.compile(r"not (be )?found|could not find|can't find", re.IGNORECASE)


class ModelSourceError(OpsError):
    """A model reference that cannot be served: the message says which and why, in one line."""


def cache_dir() -> Path:
    """``$DIGITS_MODEL_CACHE``, else ``$XDG_CACHE_HOME/digits/models``, else ``~/.cache/digits/models``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "digits" / "models"


def cached_path(uri: str, etag: str) -> Path:
    """Where the object ``uri`` with ``etag`` is cached: ``<cache>/<sha256(uri)[:16]>-<etag>.tar.gz``."""
    etag = etag.strip('"')
    if not re.fullmatch(r"[0-9A-Za-z-]{1,64}", etag):  # S3's are hex MD5s (-N for multipart uploads)
        etag = hashlib.sha256(etag.encode()).hexdigest()[:32]
    return cache_dir() / f"{hashlib.sha256(uri.encode()).hexdigest()[:16]}-{etag}.tar.gz"


def resolve(reference: str | Path, session: boto3.Session | None = None) -> Path:
    """The local ``model.tar.gz`` (or unpacked model folder) that ``reference`` names.

    ``reference``: a local path, ``s3://BUCKET/KEY``, ``training-job:NAME`` or ``tuning-job:NAME``.
    ``session``: the boto3 session for AWS calls (default: a new one from the environment).
    Raises :class:`ModelSourceError`.
    """
    text = str(reference)
    if text.startswith(JOB_PREFIXES):
        text = artifact_uri(text, session)
    if text.startswith("s3://"):
        return download(text, session)
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "model.pt").is_file():
            raise ModelSourceError(f"{path} has no model.pt: not a model folder")
        return path
    if not path.is_file():
        raise ModelSourceError(f"no model archive at {path}")
    check_archive(path, str(path))
    return path


def artifact_uri(reference: str, session: boto3.Session | None = None) -> str:
    """The S3 URI of the ``model.tar.gz`` of ``training-job:NAME`` or ``tuning-job:NAME`` (its best job)."""
    kind, _, name = reference.partition(":")
    if kind not in ("training-job", "tuning-job") or not RESOURCE_NAME.match(name):
        raise ModelSourceError(
            f"invalid model reference {reference!r}: expected training-job:NAME or tuning-job:NAME "
            "(1-63 letters, digits and hyphens)"
        )
    with _explained(reference):
        client = _session(session).client("sagemaker")
    if kind == "tuning-job":
        with _explained(f"tuning job {name}"):
            tuning = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        best = tuning.get("BestTrainingJob")
        if not best:
            status = tuning["HyperParameterTuningJobStatus"]
            raise ModelSourceError(f"tuning job {name} has no completed training job yet (status {status})")
        name = best["TrainingJobName"]
    with _explained(f"training job {name}"):
        job = client.describe_training_job(TrainingJobName=name)
    uri = job.get("ModelArtifacts", {}).get("S3ModelArtifacts")
    if job["TrainingJobStatus"] != "Completed" or not uri:
        raise ModelSourceError(f"training job {name} is {job['TrainingJobStatus']}: it has no model yet")
    return uri


def download(uri: str, session: boto3.Session | None = None) -> Path:
    """``uri`` (``s3://BUCKET/KEY``) in the local cache, downloaded and verified unless already there."""
    match = S3_URI.match(uri)
    if not match:
        raise ModelSourceError(f"invalid S3 URI {uri!r}: expected s3://BUCKET/KEY")
    bucket, key = match.groups()
    with _explained(uri):
        s3 = _session(session).client("s3")
        head = s3.head_object(Bucket=bucket, Key=key)
    if head["ContentLength"] > MAX_ARCHIVE_BYTES:
        raise ModelSourceError(f"{uri} is {head['ContentLength']:,} bytes: over the {MAX_ARCHIVE_BYTES:,}-byte cap")
    target = cached_path(uri, head["ETag"])
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _temporary(target) as part, _explained(uri):
        body = s3.get_object(Bucket=bucket, Key=key, IfMatch=head["ETag"])["Body"]
        with part.open("wb") as out:
            for chunk in body.iter_chunks(_CHUNK):
                out.write(chunk)
                if out.tell() > MAX_ARCHIVE_BYTES:
                    raise ModelSourceError(f"{uri} grew over the {MAX_ARCHIVE_BYTES:,}-byte cap while downloading")
        check_archive(part, uri)
        part.replace(target)
    return target


def check_archive(path: Path, name: str) -> None:
    """Raise :class:`ModelSourceError` unless ``path`` is a complete gzip-compressed tar with ``model.pt``.

    ``name`` is what the message calls it (the reference the user gave).
    """
    try:
        size = path.stat().st_size
        if size > MAX_ARCHIVE_BYTES:
            raise ModelSourceError(f"{name} is {size:,} bytes: over the {MAX_ARCHIVE_BYTES:,}-byte cap")
        unpacked = 0
        with gzip.open(path) as stream:  # read to the end: the gzip trailer's CRC and length are checked
            while chunk := stream.read(_CHUNK):
                unpacked += len(chunk)
                if unpacked > MAX_UNPACKED_BYTES:
                    raise ModelSourceError(f"{name} unpacks to over {MAX_UNPACKED_BYTES:,} bytes")
        with tarfile.open(path, "r:gz") as tar:
            files = {member.name.removeprefix("./") for member in tar if member.isfile()}
    except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
        raise ModelSourceError(f"{name} is not a complete model.tar.gz: {' '.join(str(exc).split())}") from None
    if "model.pt" not in files:
        raise ModelSourceError(f"{name} has no model.pt: not a model archive")


def _session(session: boto3.Session | None) -> boto3.Session:
    import boto3  # only when AWS is asked: a local archive needs no boto3

    return session or boto3.Session()


@contextlib.contextmanager
def _temporary(target: Path) -> Iterator[Path]:
    """A fresh hidden file next to ``target``, removed unless it was renamed into place."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    part = Path(name)
    try:
        yield part
    finally:
        part.unlink(missing_ok=True)


@contextlib.contextmanager
def _explained(what: str) -> Iterator[None]:
    """Turn the AWS failures a user can fix into a one-line :class:`ModelSourceError` about ``what``."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        yield
    except NoCredentialsError:
        raise ModelSourceError(
            f"{what}: no AWS credentials found: run `aws configure` (or `aws sso login`), "
            "or set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ) from None
    except ClientError as exc:
        raise ModelSourceError(f"{what}: {_client_error(exc)}") from None
    except BotoCoreError as exc:  # no region, endpoint unreachable, a connection dropped mid-download
        raise ModelSourceError(f"{what}: {' '.join(str(exc).split())}") from None


def _client_error(exc: Any) -> str:
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), error.get("Message") or ""
    if code in ("404", "NoSuchKey", "NoSuchBucket"):  # HeadObject has no body: the code is the status
        return "no such object (check the bucket and key)"
    if code in ("403", "AccessDenied"):
        return "access denied (check the credentials and their s3:GetObject permission)"
    if code in ("412", "PreconditionFailed"):
        return "the object changed while it was being downloaded: run again"
    if code == "ResourceNotFound" or (code == "ValidationException" and _NOT_FOUND.search(message)):
        return "not found (check the name and the region)"
    return f"AWS refused {exc.operation_name}: {code}: {' '.join(message.split())}"
