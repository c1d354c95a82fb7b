"""The local model registry: ``.local/models/registry.json`` and the archives it lists.

It mirrors the SageMaker Model Registry (:mod:`training.feedback.model_registry`) so that one loop
runs locally and on AWS: a model package group of numbered packages, each with an approval status
(``PendingManualApproval`` -> ``Approved`` when it passes the gate, ``Rejected`` when it fails or is
rolled back), plus what SageMaker keeps on the endpoint instead: the promotions, in order, and the
``current`` model. ``make up``'s endpoint follows this file (``ops.endpoint --follow``) and switches to
``current.archive`` when it changes. Layout under ``$DIGITS_LOCAL_DIR/models`` (default ``.local/models``)::

    registry.json                     {"ModelPackageGroupName", "ModelPackages": [...], "Promotions": [...],
                                       "current": {"ModelPackageVersion", "model_version", "archive", "promoted_at"}}
    packages/<version>/model.tar.gz   each registered archive (a copy: the registry owns it)

The file is only ever replaced whole (write, then rename): whatever stops a promotion half-way, the
file is the old one or the new one, and the endpoint serves what it says.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ops.stack import MODEL_ARCHIVE, model_registry

APPROVED, REJECTED, PENDING = "Approved", "Rejected", "PendingManualApproval"


class RegistryError(Exception):
    """A registry operation that cannot be done (nothing to roll back to, a broken file)."""


def registry_path() -> Path:
    return model_registry()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def archive_metadata(archive: Path) -> dict[str, Any]:
    """``metadata.json`` of a ``model.tar.gz``."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("metadata.json")
        if member is None:
            raise RegistryError(f"{archive} has no metadata.json")
        return json.loads(member.read())


@dataclass
class Registry:
    group: str
    packages: list[dict[str, Any]] = field(default_factory=list)
    promotions: list[dict[str, Any]] = field(default_factory=list)
    path: Path = field(default_factory=registry_path)

    @classmethod
    def load(cls, group: str = "digits-local", path: Path | None = None) -> Registry:
        path = path or registry_path()
        if not path.exists():
            return cls(group, path=path)
        try:
            data = json.loads(path.read_text())
            return cls(data["ModelPackageGroupName"], data["ModelPackages"], data["Promotions"], path)
        except (ValueError, KeyError) as exc:
            raise RegistryError(f"{path} is not a model registry file: {exc}") from exc

    def package(self, version: int) -> dict[str, Any]:
        return next(p for p in self.packages if p["ModelPackageVersion"] == version)

    @property
    def current(self) -> dict[str, Any] | None:
        """The package that serves (the last promotion), or None before the first."""
        return self.package(self.promotions[-1]["ModelPackageVersion"]) if self.promotions else None

    def serving_archive(self) -> Path:
        """What serves: the current package's archive, else the shipped model (``make up``'s default)."""
        current = self.current
        return Path(current["ModelDataUrl"]) if current else MODEL_ARCHIVE

    def register(self, archive: Path, status: str = PENDING, description: str = "") -> dict[str, Any]:
        """Copy ``archive`` into the registry as a new package (not saved until :meth:`save`)."""
        version = max((p["ModelPackageVersion"] for p in self.packages), default=0) + 1
        target = self.path.parent / "packages" / str(version) / "model.tar.gz"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name("model.tar.gz.tmp")
        shutil.copyfile(archive, tmp)
        tmp.replace(target)
        metadata = archive_metadata(target)
        package = {
            "ModelPackageGroupName": self.group,
            "ModelPackageVersion": version,
            "ModelPackageDescription": description,
            "ModelApprovalStatus": status,
            "CreationTime": now(),
            "ModelDataUrl": str(target.resolve()),
            "CustomerMetadataProperties": {
                "model_version": str(metadata.get("version")),
                "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
                "source": str(archive),
            },
        }
        self.packages.append(package)
        return package

    def set_status(self, package: dict[str, Any], status: str, description: str) -> None:
        package.update(ModelApprovalStatus=status, ApprovalDescription=description, LastModifiedTime=now())

    def promote(self, package: dict[str, Any], reason: str) -> None:
        self.promotions.append(
            {"ModelPackageVersion": package["ModelPackageVersion"], "PromotedAt": now(), "Reason": reason}
        )

    def previous(self) -> dict[str, Any]:
        """The package to roll back to: the last promoted one before the current that is still Approved."""
        current = self.current
        if current is None:
            raise RegistryError("nothing was promoted yet: nothing to roll back")
        for promotion in reversed(self.promotions):
            package = self.package(promotion["ModelPackageVersion"])
            if package is not current and package["ModelApprovalStatus"] == APPROVED:
                return package
        raise RegistryError(
            f"version {current['ModelPackageVersion']} is the only approved one: nothing to roll back to"
        )

    def as_dict(self) -> dict[str, Any]:
        current = self.current
        return {
            "ModelPackageGroupName": self.group,
            "ModelPackages": self.packages,
            "Promotions": self.promotions,
            "current": None
            if current is None
            else {
                "ModelPackageVersion": current["ModelPackageVersion"],
                "model_version": current["CustomerMetadataProperties"]["model_version"],
                "archive": current["ModelDataUrl"],
                "source": f"registry:{self.group}/{current['ModelPackageVersion']}",
                "promoted_at": self.promotions[-1]["PromotedAt"],
            },
        }

    def save(self) -> None:
        """Replace the file atomically: the commit point of a promotion or a rollback."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.as_dict(), indent=1) + "\n")
        tmp.replace(self.path)


def promote(
    challenger: Path,
    feedback_dir: Path,
    strict: bool = False,
    data_dir: str | None = None,
    registry: Registry | None = None,
) -> dict[str, Any]:
    """Register ``challenger``, gate it against what serves, and make it current only when it passes.

    Before the first promotion the model that serves (the shipped one) is registered as version 1,
    so that a rollback can return to it. Returns the verdict and the package; the registry file is
    written once, at the end.
    """
    from training.feedback.gate import compare

    registry = registry or Registry.load()
    if registry.current is None:
        baseline = registry.register(registry.serving_archive(), APPROVED, "the model that served before")
        registry.promote(baseline, "baseline")
    champion = registry.current
    assert champion is not None
    package = registry.register(challenger, PENDING, f"challenger from {challenger}")
    verdict = compare(package["ModelDataUrl"], champion["ModelDataUrl"], feedback_dir, strict, data_dir)
    package["ModelMetrics"] = verdict.as_dict()
    if verdict.passed:
        registry.set_status(package, APPROVED, f"passed the gate against version {champion['ModelPackageVersion']}")
        registry.promote(package, "gate passed")
    else:
        registry.set_status(package, REJECTED, "; ".join(verdict.reasons))
    registry.save()
    return {"promoted": verdict.passed, "package": package, "serving": registry.as_dict()["current"]}


def rollback(registry: Registry | None = None) -> dict[str, Any]:
    """Serve the previous approved version again; the current one is marked Rejected."""
    registry = registry or Registry.load()
    target, current = registry.previous(), registry.current
    assert current is not None
    registry.set_status(current, REJECTED, f"rolled back to version {target['ModelPackageVersion']}")
    registry.promote(target, f"rollback from version {current['ModelPackageVersion']}")
    registry.save()
    return {"rolled_back": current["ModelPackageVersion"], "serving": registry.as_dict()["current"]}
