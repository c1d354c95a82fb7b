"""The feedback loop end to end on the local stack: predictions, corrections through the API, export,
a short fine-tune, the gate, a promotion the running endpoint follows with no failed request, a rollback.

The users here write slanted digits (MNIST training images turned 70 degrees, never the validation
split): the shipped model misreads many of them, which a few corrections teach it. Bounded: about
40 predictions, a fine-tune of a dozen small steps, four scorings of the 5,000 validation images.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pytest
import requests

from chalicelib.config import StageConfig
from chalicelib.store import PredictionStore
from ops.emulator import Emulator, free_port, patched_environ
from ops.stack import MODEL_ARCHIVE, Ports, Stack
from tests import images
from tests.stack_fixtures import ManagedProcess, wait_for
from training.feedback import cli, registry
from training.feedback.channel import read_manifest
from training.feedback.simulate import slanted_digits
from training.package import build_archive

#: The shipped model's version (model/artifacts/metadata.json).
SHIPPED_VERSION = json.loads((MODEL_ARCHIVE.parent / "metadata.json").read_text())["version"]

pytestmark = pytest.mark.integration


class Loop:
    def __init__(self, api: str, endpoint: ManagedProcess, local: Path, config: StageConfig) -> None:
        self.api, self.endpoint, self.local, self.config = api, endpoint, local, config

    def predict(self, picture: np.ndarray) -> dict | None:
        """The new record; None when the model refused the picture (422, e.g. ``not_a_digit``)."""
        response = requests.post(
            f"{self.api}/predict", data=images.png(picture), headers={"Content-Type": "image/png"}, timeout=30
        )
        if response.status_code == 422:
            return None
        assert response.status_code == 200, response.text
        return response.json()

    def health(self) -> dict:
        return requests.get(f"{self.api}/health", timeout=30).json()


@pytest.fixture
def loop(aws: StageConfig, emulator: Emulator, tmp_path: Path) -> Iterator[Loop]:
    """A fresh local stage, a local dir of its own, the endpoint following its registry, chalice local."""
    local = tmp_path / "local"
    with patched_environ({"DIGITS_LOCAL_DIR": str(local)}):
        ports = Ports(aws=emulator.port, endpoint=free_port(), api=free_port(), ui=free_port())
        stack = Stack(ports=ports, model=MODEL_ARCHIVE, with_ui=False, follow=registry.registry_path())
        services = {s.name: s for s in stack.services()}
        env = stack.env()
        endpoint = ManagedProcess(services["endpoint"], env, tmp_path / "endpoint.log")
        api = ManagedProcess(services["api"], env, tmp_path / "api.log")
        try:
            endpoint.start()
            api.start()
            yield Loop(f"http://127.0.0.1:{ports.api}", endpoint, local, aws)
        finally:
            api.stop()
            endpoint.stop()


def run_cli(*argv: str) -> tuple[int, dict]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(list(argv))
    return code, json.loads(out.getvalue() or "null")


def fine_tune(channel: Path, work: Path, feedback_share: float = 0.4) -> Path:
    """About 20 steps from the shipped model, the feedback ``feedback_share`` of them; the packed challenger.

    At a learning rate of 3e-5: Adam moves every weight about as far per step whatever the layer's width,
    and the wide first fully connected layer (4,704 inputs) turns that into a large change of output; at
    1e-4 the same steps cost the shipped network 40-50 validation images, a challenger the gate rightly
    refuses."""
    from training.train import main as train

    model_dir = work / "model"
    train(
        [
            "--init-model",
            str(MODEL_ARCHIVE),
            "--feedback-dir",
            str(channel),
            "--epochs",
            "1",
            "--clean-epochs",
            "1",
            "--limit",
            "640",
            "--batch-size",
            "64",
            "--lr",
            "3e-5",
            "--feedback-share",
            str(feedback_share),
            "--model-dir",
            str(model_dir),
            "--checkpoint-dir",
            str(work / "checkpoints"),
            "--output-data-dir",
            str(work / "output"),
        ]
    )
    return build_archive(model_dir, work / "challenger.tar.gz")


def test_corrections_become_a_promoted_model_and_roll_back(loop: Loop, mnist_dir: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    shipped = loop.health()
    assert shipped["status"] == "ok" and shipped["model_promoted_at"] is None

    # Predictions, and the users' corrections (and a few confirmations) through the API.
    pictures, labels = slanted_digits(60, data_dir=mnist_dir)
    read = [(r, int(y)) for r, y in zip([loop.predict(p) for p in pictures], labels, strict=True)]
    accepted = [p for p, (r, _) in zip(pictures, read, strict=True) if r is not None]  # some are refused
    single = [(r, y) for r, y in read if r is not None and r.get("digit") is not None]  # some read as two
    wrong = [(r, y) for r, y in single if r["digit"] != y]
    right = [(r, y) for r, y in single if r["digit"] == y][:4]
    assert len(wrong) >= 10, f"the shipped model misread only {len(wrong)} of 60 slanted digits"
    for record, label in wrong + right:
        response = requests.post(
            f"{loop.api}/predictions/{record['prediction_id']}/feedback", json={"label": label}, timeout=30
        )
        assert response.status_code == 200, response.text
    corrected = requests.get(f"{loop.api}/predictions?corrected=true&limit=100", timeout=30).json()["items"]
    assert {r["prediction_id"] for r in corrected} == {r["prediction_id"] for r, _ in wrong}

    # One corrected record's stored image is gone: skipped and counted.
    gone, _ = wrong[-1]
    boto3.client("s3").delete_object(Bucket=gone["image_bucket"], Key=gone["image_key"])
    code, exported = run_cli("export", "--stage", "local")
    assert code == 0, exported
    assert exported["added"] == {"corrected": len(wrong) - 1, "confirmed": len(right)}
    assert exported["skipped"] == {"image_missing": 1}
    channel = loop.local / "feedback" / "local"
    manifest = read_manifest(channel)
    assert len(manifest) == len(wrong) - 1 + len(right) and len({e.prediction_id for e in manifest}) == len(manifest)
    example = manifest[0]
    assert (channel / example.model_input).is_file() and (channel / example.upload).is_file()
    assert example.model_version == shipped["model_version"]
    holdout = [e for e in manifest if e.split == "holdout"]
    assert holdout and len(holdout) == math.ceil(len(manifest) * 0.25)
    code, again = run_cli("export", "--stage", "local")  # idempotent: nothing new
    assert (code, again["added"], again["unchanged"]) == (0, {}, len(manifest))
    assert read_manifest(channel) == manifest
    confirmed, label = right[0]  # the user changes their mind: relabelled in place, same split
    requests.post(
        f"{loop.api}/predictions/{confirmed['prediction_id']}/feedback", json={"label": (label + 1) % 10}, timeout=30
    ).raise_for_status()
    code, relabelled = run_cli("export", "--stage", "local")
    assert (code, relabelled["added"], relabelled["relabelled"]) == (0, {}, 1)
    (changed,) = [e for e in read_manifest(channel) if e.prediction_id == confirmed["prediction_id"]]
    (before,) = [e for e in manifest if e.prediction_id == confirmed["prediction_id"]]
    assert (changed.label, changed.kind, changed.split) == ((label + 1) % 10, "corrected", before.split)
    manifest = read_manifest(channel)

    # A challenger that is not better on the held-out corrections (the champion itself) is refused.
    code, refused = run_cli("promote", "--stage", "local", "--challenger", str(MODEL_ARCHIVE))
    assert code == 1 and refused["promoted"] is False
    assert refused["package"]["ModelApprovalStatus"] == "Rejected"
    assert "not better on held-out feedback" in refused["package"]["ApprovalDescription"]
    baseline = wait_for(
        lambda: (h := loop.health())["model_promoted_at"] and h,
        60,
        0.2,
        "the endpoint follows the registry's baseline (version 1, the shipped model)",
    )
    assert baseline["model_version"] == shipped["model_version"]

    # The fine-tuned challenger passes and is promoted while requests keep coming: none fails.
    challenger = fine_tune(channel, tmp_path / "run")
    failures: list[str] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            try:
                response = requests.post(
                    f"{loop.api}/predict",
                    data=images.png(accepted[0]),
                    headers={"Content-Type": "image/png"},
                    timeout=30,
                )
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
            except requests.RequestException as exc:
                failures.append(repr(exc))

    sender = threading.Thread(target=traffic)
    sender.start()
    try:
        code, promoted = run_cli("promote", "--stage", "local", "--challenger", str(challenger))
        assert code == 0, promoted
        new_version = promoted["serving"]["model_version"]
        assert new_version != shipped["model_version"]
        verdict = promoted["package"]["ModelMetrics"]
        assert verdict["challenger"]["feedback_right"] > verdict["champion"]["feedback_right"]
        assert verdict["passed"] and verdict["validation_images"] == 5000
        health = wait_for(
            lambda: (h := loop.health())["model_version"] == new_version and h,
            60,
            0.2,
            "the endpoint serves the promoted model",
        )
    finally:
        stop.set()
        sender.join()
    assert failures == []
    assert health["model_promoted_at"] == promoted["serving"]["promoted_at"]
    assert loop.predict(accepted[1])["model_version"] == new_version  # new records carry the new version

    # One command rolls back.
    code, rolled = run_cli("rollback", "--stage", "local")
    assert code == 0 and rolled["serving"]["model_version"] == shipped["model_version"]
    wait_for(lambda: loop.health()["model_version"] == shipped["model_version"], 60, 0.2, "rolled back")
    assert loop.predict(accepted[2])["model_version"] == shipped["model_version"]
    code, _ = run_cli("rollback", "--stage", "local")
    assert code == 1  # the baseline is the only approved version left
    champion, challenger_score = verdict["champion"], verdict["challenger"]
    print(
        f"feedback loop end to end: {time.monotonic() - started:.1f} s, {len(wrong)} corrections, validation "
        f"{champion['validation_accuracy']:.4f} -> {challenger_score['validation_accuracy']:.4f} "
        f"({verdict['validation_lost']} lost, {verdict['validation_gained']} gained), "
        f"held-out feedback {champion['feedback_right']} -> {challenger_score['feedback_right']}"
        f" of {verdict['feedback_holdout']}"
    )


def test_export_without_corrections_changes_nothing(aws: StageConfig, tmp_path: Path) -> None:
    store = PredictionStore(aws)
    channel = tmp_path / "channel"
    with patched_environ({"DIGITS_LOCAL_DIR": str(tmp_path)}):
        code, report = run_cli("export", "--stage", "local", "--channel", str(channel))
    assert code == 1 and "no corrections" in report["message"] and report["with_feedback"] == 0
    assert not channel.exists()
    assert list(store.with_feedback()) == []


def test_an_interrupted_promotion_leaves_the_old_model_serving(tmp_path: Path, monkeypatch) -> None:
    """The registry file is replaced whole at the end: a crash before that leaves it as it was."""
    monkeypatch.setenv("DIGITS_LOCAL_DIR", str(tmp_path))
    reg = registry.Registry.load()
    reg.promote(reg.register(MODEL_ARCHIVE, registry.APPROVED, "baseline"), "baseline")
    reg.save()
    before = registry.registry_path().read_bytes()

    def crash(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("training.feedback.gate.compare", crash)
    with pytest.raises(KeyboardInterrupt):
        registry.promote(MODEL_ARCHIVE, tmp_path / "channel")
    assert registry.registry_path().read_bytes() == before
    assert registry.Registry.load().current["ModelPackageVersion"] == 1


def test_an_archive_that_does_not_load_leaves_the_old_model_serving(
    mnist_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    """The endpoint follows the registry; a broken archive there is logged and the serving model stays."""
    import asyncio

    from ops.endpoint import Endpoint, InProcessContainer, follow

    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not a tar archive")
    monkeypatch.setenv("DIGITS_LOCAL_DIR", str(tmp_path))
    path = registry.registry_path()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"current": {"archive": str(broken), "promoted_at": "2026-11-30T08:00:00Z"}}))
    container = InProcessContainer(MODEL_ARCHIVE)
    endpoint = Endpoint(container, endpoint_name="digits-local", source=str(MODEL_ARCHIVE))

    async def scenario() -> tuple[int, dict]:
        await container.load()
        watcher = asyncio.create_task(follow(endpoint, path, interval=0.05))
        await asyncio.sleep(1.0)
        watcher.cancel()
        outcome = await container.invoke(images.png(images.validation_digits(mnist_dir, 1)[0][0]), "image/png", None)
        await container.close()
        return outcome.status, json.loads(outcome.body)

    status, answer = asyncio.run(scenario())
    assert container.archive == MODEL_ARCHIVE and endpoint.promoted_at is None
    assert status == 200 and answer["model_version"] == SHIPPED_VERSION
