"""Where the SageMaker workflow runs: stage, region, role, bucket, S3 layout and resource names.

A :class:`Cloud` is built once per command from the flags and the stage configuration
(:func:`chalicelib.config.load`), after checking that AWS credentials exist. It hands out the boto3
session and, lazily, the SageMaker SDK session (importing the SDK takes seconds and is never needed
by ``import training.cloud``).

S3 layout under ``s3://<bucket>/<prefix>/``::

    data/training/            the MNIST IDX files (the ``training`` channel: $SM_CHANNEL_TRAINING)
    output/<job>/output/      model.tar.gz (and output.tar.gz: curves, history) of each training job
    checkpoints/<run>/<job>/  managed spot checkpoints, one folder per training job
    <base-job-name>/<job>/    the code the SDK uploads for each job
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import boto3
    from sagemaker.core.helper.session_helper import Session

DEFAULT_STAGE = "dev"
DEFAULT_PREFIX = "digits"
ROLE_ENV = "SAGEMAKER_ROLE_ARN"

#: The pattern CreateTrainingJob/CreateModel enforce on role ARNs (SageMaker API reference).
ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
S3_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/(.+)$")
#: SageMaker resource names (jobs, models, endpoint configs, endpoints).
RESOURCE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


class CloudError(Exception):
    """A problem the user can fix (missing role, bad flag, resource not found): shown as one line."""


def timestamp() -> str:
    """UTC time to the second, for unique resource names: ``20261126-142501``."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def unique_name(base: str) -> str:
    """``<base>-<timestamp>-<4 hex>``, cut to SageMaker's 63 characters (two calls in one second differ)."""
    stamp = f"{timestamp()}-{secrets.token_hex(2)}"
    return f"{base[: 62 - len(stamp)].rstrip('-')}-{stamp}"


def check_resource_name(kind: str, name: str) -> str:
    if not RESOURCE_NAME.match(name):
        raise CloudError(f"invalid {kind} name {name!r}: 1-63 letters, digits and hyphens, starting alphanumeric")
    return name


def check_s3_uri(uri: str, what: str = "S3 URI") -> str:
    if not S3_URI.match(uri):
        raise CloudError(f"invalid {what} {uri!r}: expected s3://<bucket>/<key>")
    return uri


@dataclass(frozen=True)
class Settings:
    """What the flags and the stage configuration say, before anything talks to AWS."""

    stage: str
    region: str
    endpoint_name: str
    bucket: str | None = None  # None: the SDK's default bucket, sagemaker-<region>-<account>
    prefix: str = DEFAULT_PREFIX
    role_arn: str | None = None
    #: The stage's inbox dead-letter queue (its depth alarm is created with the endpoint's alarms).
    dead_letter_queue: str | None = None

    @classmethod
    def resolve(
        cls,
        stage: str | None = None,
        region: str | None = None,
        bucket: str | None = None,
        prefix: str | None = None,
        role_arn: str | None = None,
        endpoint_name: str | None = None,
        require_role: bool = False,
        environ: dict[str, str] | None = None,
    ) -> Settings:
        """Flags win over the stage configuration (and ``$SAGEMAKER_ROLE_ARN`` for the role).

        A role, when given, must be an IAM role ARN; ``require_role`` makes a missing one an error.
        """
        from chalicelib.config import ConfigError, load

        env = os.environ if environ is None else environ
        try:
            config = load(stage or DEFAULT_STAGE, environ=dict(env))
        except ConfigError as error:
            raise CloudError(str(error)) from None
        prefix = (prefix if prefix is not None else DEFAULT_PREFIX).strip("/")
        if not prefix:
            raise CloudError("--prefix must not be empty")
        role_arn = role_arn or env.get(ROLE_ENV) or None
        if role_arn and not ROLE_ARN.match(role_arn):
            raise CloudError(
                f"the role must be an IAM role ARN like arn:aws:iam::123456789012:role/SageMakerRole, got {role_arn!r}"
            )
        if require_role and not role_arn:
            raise CloudError(
                f"no SageMaker execution role: pass --role-arn arn:aws:iam::<account>:role/<name> or set ${ROLE_ENV}"
            )
        return cls(
            stage=config.stage,
            region=region or config.region,
            endpoint_name=check_resource_name("endpoint", endpoint_name or config.endpoint_name),
            bucket=bucket or None,
            prefix=prefix,
            role_arn=role_arn,
            dead_letter_queue=config.inbox_dead_letter_queue,
        )


@dataclass
class Cloud:
    """A live connection for one command: boto3 session, lazily the SDK session, the S3 layout."""

    settings: Settings
    boto_session: boto3.Session
    _sagemaker_session: Session | None = field(default=None, repr=False)

    @property
    def region(self) -> str:
        return self.boto_session.region_name or self.settings.region

    @property
    def role_arn(self) -> str:
        """The SageMaker execution role (checked by :meth:`Settings.resolve`)."""
        if not self.settings.role_arn:
            raise CloudError(f"no SageMaker execution role: pass --role-arn or set ${ROLE_ENV}")
        return self.settings.role_arn

    @property
    def sagemaker_session(self) -> Session:
        """The SDK session (imports the SDK on first use)."""
        if self._sagemaker_session is None:
            import_sdk(self.region)
            from sagemaker.core.helper.session_helper import Session

            self._sagemaker_session = Session(
                boto_session=self.boto_session,
                default_bucket=self.settings.bucket,
                default_bucket_prefix=self.settings.prefix,
            )
        return self._sagemaker_session

    @property
    def bucket(self) -> str:
        """``--bucket``, else the SDK's default bucket (created on first use, as the SDK does)."""
        return self.settings.bucket or self.sagemaker_session.default_bucket()

    def key(self, *parts: str) -> str:
        """``<prefix>/<parts...>/``: a folder in the bucket."""
        return "/".join([self.settings.prefix, *parts]) + "/"

    def s3_uri(self, *parts: str) -> str:
        """``s3://<bucket>/<prefix>/<parts...>/``."""
        return f"s3://{self.bucket}/{self.key(*parts)}"

    @property
    def training_data_uri(self) -> str:
        return self.s3_uri("data", "training")

    @property
    def output_uri(self) -> str:
        return self.s3_uri("output")

    def sagemaker_client(self) -> Any:
        return self.boto_session.client("sagemaker")


def connect(settings: Settings, boto_session: boto3.Session | None = None) -> Cloud:
    """A :class:`Cloud` for ``settings``; fails with one line when no credentials are configured."""
    import boto3

    session = boto_session or boto3.Session(region_name=settings.region)
    if session.get_credentials() is None:
        raise CloudError(
            "no AWS credentials found: run `aws configure` (or `aws sso login`), "
            "or set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    redirected = sorted(k for k in os.environ if k.startswith("AWS_ENDPOINT_URL"))
    if redirected:
        print(f"note: {', '.join(redirected)} set: AWS calls go there, not to AWS", file=sys.stderr)
    return Cloud(settings=settings, boto_session=session)


def import_sdk(region: str) -> None:
    """Prepare the process for importing the SageMaker SDK.

    ``import sagemaker.serve`` builds a boto3 client at import time: without a default region that
    raises NoRegionError. (Logging is configured before, by the CLI.)
    """
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
