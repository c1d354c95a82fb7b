"""The feedback loop's parts without the stack: oversampling, the gate's validation rule, the local registry."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from PIL import Image

from ops.stack import MODEL_ARCHIVE
from training.data import Dataset
from training.feedback import registry
from training.feedback.channel import Example, load, write_manifest
from training.feedback.finetune import mix_in
from training.feedback.gate import worse_on_validation
from training.sets import Sets

pytestmark = pytest.mark.unit


def channel_of(directory: Path, labels: list[int], holdout_every: int = 4) -> Path:
    (directory / "model_input").mkdir(parents=True)
    examples = []
    for n, label in enumerate(labels):
        name = f"00000000-0000-4000-8000-{n:012d}"
        Image.new("L", (28, 28), 20 * label).save(directory / "model_input" / f"{name}.png")
        split = "holdout" if n % holdout_every == 0 else "train"
        examples.append(
            Example(
                name,
                label,
                (label + 1) % 10,
                "corrected",
                split,
                "api",
                "t",
                "t",
                None,
                f"model_input/{name}.png",
                f"uploads/{name}.png",
            )
        )
    write_manifest(directory, examples)
    return directory


def test_the_channel_reads_back_per_split(tmp_path: Path) -> None:
    channel = channel_of(tmp_path / "c", [3, 1, 4, 1, 5, 9, 2, 6])
    held, trained = load(channel, "holdout"), load(channel, "train")
    assert held.labels.tolist() == [3, 5] and len(trained) == 6
    assert trained.images.shape == (6, 28, 28) and trained.images.dtype == torch.uint8
    assert int(held.images[0, 0, 0]) == 60  # the pixels of the stored PNG


def test_feedback_is_oversampled_to_its_share_and_holdout_stays_out(tmp_path: Path) -> None:
    channel = channel_of(tmp_path / "c", list(range(10)) * 2)  # 15 train, 5 holdout
    mnist = Dataset(torch.zeros(800, 28, 28, dtype=torch.uint8), torch.zeros(800, dtype=torch.int64), "fp", "src")
    extra = Dataset(torch.zeros(100, 28, 28, dtype=torch.uint8), torch.full((100,), 10), "", "not digits")
    prepared = Sets(mnist, mnist.images, extra, {"raw": mnist}, (0, 0))
    config = SimpleNamespace(feedback_dir=str(channel), feedback_share=0.25)
    mixed, info = mix_in(prepared, config)
    assert info["examples"] == 15 and info["repeats"] == 20  # 300 of 1,200 images: 25 %
    assert mixed.train is mnist and len(mixed.extra) == 400  # with the extras: images as the model sees them
    assert mixed.extra.labels[100:].tolist() == load(channel, "train").labels.tolist() * 20  # nothing held out
    assert mix_in(prepared, SimpleNamespace(feedback_dir=str(tmp_path / "none"), feedback_share=0.25)) == (
        prepared,
        None,
    )


@pytest.mark.parametrize(
    ("lost", "gained", "strict", "worse"),
    [
        (0, 0, False, False),
        (4, 3, False, False),
        (5, 0, False, True),
        (9, 3, False, True),
        (12, 6, False, False),
        (1, 0, True, True),
        (3, 3, True, False),
    ],
)
def test_not_worse_on_validation_allows_what_chance_explains(lost: int, gained: int, strict: bool, worse: bool):
    assert worse_on_validation(lost, gained, strict) is worse


def test_rollback_goes_to_the_last_approved_version_before_the_current(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DIGITS_LOCAL_DIR", str(tmp_path))
    reg = registry.Registry.load()
    with pytest.raises(registry.RegistryError, match="nothing was promoted"):
        reg.previous()
    first = reg.register(MODEL_ARCHIVE, registry.APPROVED)
    reg.promote(first, "baseline")
    reg.set_status(reg.register(MODEL_ARCHIVE), registry.REJECTED, "failed the gate")
    third = reg.register(MODEL_ARCHIVE, registry.APPROVED)
    reg.promote(third, "gate passed")
    reg.save()
    assert registry.Registry.load().as_dict()["current"]["ModelPackageVersion"] == 3
    assert registry.rollback()["serving"]["ModelPackageVersion"] == 1
    reloaded = registry.Registry.load()
    assert [p["ModelApprovalStatus"] for p in reloaded.packages] == ["Approved", "Rejected", "Rejected"]
    assert [p["Reason"] for p in reloaded.promotions] == ["baseline", "gate passed", "rollback from version 3"]
    with pytest.raises(registry.RegistryError, match="nothing to roll back to"):
        registry.rollback()
    assert (tmp_path / "models" / "packages" / "3" / "model.tar.gz").is_file()
