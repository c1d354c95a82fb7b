"""Training on tiny slices of the real MNIST files: the entry script (as SageMaker runs it), the metrics
line SageMaker scrapes, checkpoint/resume (also after a real kill), packaging, evaluation and tuning.

Each run trains a few hundred images for one epoch, so the whole file takes seconds, not minutes.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from model.network import TOUCHING, from_state_dict
from training.data import augment, load_idx, load_mnist, stratified_split
from training.metrics import METRIC_DEFINITIONS, format_metrics, parse_metrics
from training.package import build_archive
from training.search_space import SEARCH_SPACE

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--limit", "320", "--val-size", "200", "--batch-size", "64"]


def run_train(args: list[str], env: dict[str, str] | None = None, timeout: float = 180) -> str:
    """``python -m training.train ARGS`` in a subprocess; its stdout (the metrics lines)."""
    result = subprocess.run(
        [sys.executable, "-m", "training.train", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def dirs(tmp: Path) -> list[str]:
    return [
        "--model-dir",
        str(tmp / "model"),
        "--checkpoint-dir",
        str(tmp / "ckpt"),
        "--output-data-dir",
        str(tmp / "output"),
    ]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> tuple[Path, str]:
    """One tiny run, configured the way a SageMaker job does it: SM_* variables and extra arguments."""
    tmp = tmp_path_factory.mktemp("train")
    env = {
        "SM_MODEL_DIR": str(tmp / "model"),
        "SM_OUTPUT_DATA_DIR": str(tmp / "output"),
        "SM_CHANNEL_TRAINING": str(mnist_dir),
        "SM_HPS": json.dumps({"epochs": 1, "limit": 320, "val-size": 200, "batch-size": "64"}),
    }
    stdout = run_train(["--checkpoint-dir", str(tmp / "ckpt"), "--dropout", "0.25", "--sagemaker-extra", "x"], env)
    return tmp, stdout


# ----------------------------------------------------------------------------------------------- unit


@pytest.mark.unit
def test_metrics_line_round_trips_through_the_sagemaker_regexes() -> None:
    line = format_metrics(epoch=3, train_loss=0.02131, val_loss=0.0188, val_accuracy=0.99612, epoch_seconds=41.23)
    assert line == "epoch=3 train_loss=0.0213 val_loss=0.0188 val_accuracy=0.9961 epoch_seconds=41.2"
    assert parse_metrics(f"noise\n{line}\nepoch 4 progress") == [
        {"epoch": 3, "train_loss": 0.0213, "val_loss": 0.0188, "val_accuracy": 0.9961, "epoch_seconds": 41.2}
    ]
    assert {d["Name"] for d in METRIC_DEFINITIONS} >= {"val_accuracy", "val_loss", "train_loss"}
    longer = format_metrics(3, 0.02, 0.02, 0.99, 41.0, val_upload_accuracy=0.98765, val_not_digit_refused=0.97)
    assert longer.endswith(" val_upload_accuracy=0.9877 val_not_digit_refused=0.9700")
    assert parse_metrics(longer)[0]["val_upload_accuracy"] == 0.9877
    assert parse_metrics(longer)[0]["val_accuracy"] == 0.99


@pytest.mark.unit
def test_validation_split_is_stratified_disjoint_and_seeded(mnist_dir: Path) -> None:
    labels = load_mnist(mnist_dir).labels
    train_index, val_index = stratified_split(labels, 6000, seed=7)
    assert len(val_index) == 6000 and len(train_index) == 54_000
    assert len(set(train_index.tolist()) | set(val_index.tolist())) == 60_000
    share = torch.bincount(labels[val_index], minlength=10) / torch.bincount(labels, minlength=10)
    assert torch.allclose(share, torch.full((10,), 0.1, dtype=share.dtype), atol=0.001)
    assert torch.equal(val_index, stratified_split(labels, 6000, seed=7)[1])
    assert not torch.equal(val_index, stratified_split(labels, 6000, seed=8)[1])


@pytest.mark.unit
def test_augmentation_jitters_a_little_and_is_reproducible(mnist_dir: Path) -> None:
    images = load_mnist(mnist_dir).images[:64]
    first = augment(images, torch.Generator().manual_seed(1))
    again = augment(images, torch.Generator().manual_seed(1))
    assert first.shape == (64, 1, 28, 28) and first.min() >= 0 and first.max() <= 1
    assert torch.equal(first, again)
    original = images.float().unsqueeze(1) / 255
    assert not torch.equal(first, original)
    # small jitter only: the ink stays where it was, roughly
    overlap = (first * original).sum((1, 2, 3)) / (original * original).sum((1, 2, 3))
    assert overlap.median() > 0.5


@pytest.mark.unit
def test_bf16_is_chosen_on_a_gpu_only_where_it_computes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--precision auto`` on a GPU: bf16 on Ampere and newer, fp32 on a GPU that only emulates bf16 (a
    T4, ml.g4dn's), as on a CPU without native bf16."""
    from training.train import use_bf16

    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert not use_bf16("auto", cuda)  # a T4: bf16 by emulation only
    assert use_bf16("bf16", cuda) and not use_bf16("fp32", cuda)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert use_bf16("auto", cuda)  # an A10G, an H100


@pytest.mark.unit
def test_idx_reader_rejects_a_wrong_magic(tmp_path: Path) -> None:
    header = (2049).to_bytes(4, "big") + (1).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    (tmp_path / "x-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + bytes(784)))
    (tmp_path / "x-labels-idx1-ubyte.gz").write_bytes(gzip.compress(header[:8] + bytes(1)))
    with pytest.raises(ValueError, match="magic 2049, expected 2051"):
        load_idx(tmp_path, "x")


# ------------------------------------------------------------------------------------ training runs


@pytest.mark.slow
def test_entry_script_prints_one_metrics_line_and_writes_a_complete_model_dir(trained: tuple[Path, str]) -> None:
    tmp, stdout = trained
    rows = parse_metrics(stdout)
    assert [r["epoch"] for r in rows] == [1]
    assert 0.2 < rows[0]["val_accuracy"] <= 1 and rows[0]["epoch_seconds"] > 0
    model_dir = tmp / "model"
    for name in ("model.pt", "metadata.json", "code/inference.py", "code/model/network.py"):
        assert (model_dir / name).is_file(), name
    assert (tmp / "output" / "training_curves.png").stat().st_size > 1000
    metadata = json.loads((model_dir / "metadata.json").read_text())
    assert metadata["hyperparameters"]["dropout"] == 0.25  # command line over SM_HPS defaults
    assert metadata["hyperparameters"]["batch_size"] == 64  # from SM_HPS, a string there
    assert metadata["data"]["train_size"] == 320 and metadata["data"]["val_size"] == 200
    assert metadata["metrics"]["val_accuracy"] == pytest.approx(rows[0]["val_accuracy"], abs=1e-4)
    model = from_state_dict(torch.load(model_dir / "model.pt", weights_only=True))
    assert model.classifier[-1].out_features == TOUCHING + 1  # the digits, "not a digit", "digits that touch"
    assert 0 < metadata["not_a_digit"]["threshold"] < 1
    assert {"raw", "upload", "typed", "not_digit", "touching"} <= set(metadata["not_a_digit"]["validation"])
    assert (tmp / "output" / "not_a_digit_tradeoff.png").stat().st_size > 1000
    assert "val_upload_accuracy" in rows[0] and "val_not_digit_refused" in rows[0]
    assert (model_dir / "model.pt").stat().st_size < 5_000_000
    if not torch.cuda.is_available():  # --device auto: the CPU where PyTorch sees no GPU
        assert metadata["metrics"]["trained_on"] == "cpu"


@pytest.mark.slow
def test_model_dir_packs_into_a_model_tar_gz(trained: tuple[Path, str], tmp_path: Path) -> None:
    archive = build_archive(trained[0] / "model", tmp_path / "model.tar.gz")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[:3] == ["model.pt", "metadata.json", "code/inference.py"]
    assert "code/model/network.py" in names


@pytest.mark.slow
def test_evaluate_writes_accuracy_per_class_and_confusion_png(
    trained: tuple[Path, str], tmp_path: Path, mnist_dir: Path
) -> None:
    from training.evaluate import main

    result = main(["--model", str(trained[0] / "model"), "--data-dir", str(mnist_dir), "--output-dir", str(tmp_path)])
    written = json.loads((tmp_path / "evaluation.json").read_text())
    assert written["images"] == 200 and set(written["per_class_accuracy"]) == {str(d) for d in range(10)}
    assert sum(map(sum, written["confusion_matrix"])) == 200
    assert written["errors"] == len(written["misclassified"]) == round(200 * (1 - written["accuracy"]))
    # what the endpoint answers (a refused digit is an error), on the split held out
    from model.network import for_inference, normalize
    from model.refusal import threshold
    from training.evaluate import load_model, validation_split

    network, metadata = load_model(trained[0] / "model")
    held_out = validation_split(metadata, str(mnist_dir))
    with torch.inference_mode():
        probabilities = torch.softmax(for_inference(network)(normalize(held_out.images)), 1)
    named = probabilities[:, :10].argmax(1)
    refused = probabilities[:, 10] >= threshold(metadata)
    assert result["refused"] == int(refused.sum())
    right = (named == held_out.labels) & ~refused
    assert result["accuracy"] == pytest.approx(right.float().mean().item(), abs=1e-6)
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 1000

    # any IDX files, e.g. the official test split: here 50 training images renamed
    data = load_mnist(mnist_dir)
    idx_dir = tmp_path / "idx"
    idx_dir.mkdir()
    images = data.images[:50].numpy()
    head = (2051).to_bytes(4, "big") + (50).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    (idx_dir / "mini-images-idx3-ubyte.gz").write_bytes(gzip.compress(head + images.tobytes()))
    labels = data.labels[:50].numpy().astype(np.uint8)
    (idx_dir / "mini-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress((2049).to_bytes(4, "big") + (50).to_bytes(4, "big") + labels.tobytes())
    )
    other = main(
        [
            "--model",
            str(trained[0] / "model"),
            "--data-dir",
            str(idx_dir),
            "--split",
            "mini",
            "--output-dir",
            str(tmp_path / "mini"),
        ]
    )
    assert other["images"] == 50 and other["split"] == "mini"


@pytest.mark.slow
def test_rerun_with_more_epochs_resumes_after_the_last_checkpoint(tmp_path: Path, mnist_dir: Path) -> None:
    args = [*TINY, "--data-dir", str(mnist_dir), *dirs(tmp_path)]
    first = run_train([*args, "--epochs", "1"])
    assert [r["epoch"] for r in parse_metrics(first)] == [1]
    second = run_train([*args, "--epochs", "2"])
    assert "resuming" in second and "after epoch 1" in second
    assert [r["epoch"] for r in parse_metrics(second)] == [2]
    metadata = json.loads((tmp_path / "model" / "metadata.json").read_text())
    assert [h["epoch"] for h in metadata["history"]] == [1, 2]
    # other settings never resume someone else's checkpoint
    third = run_train([*args, "--epochs", "1", "--lr", "0.001"])
    assert "not resuming" in third and [r["epoch"] for r in parse_metrics(third)] == [1]


@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU, as on a GPU training instance")
def test_a_gpu_trains_resumes_and_exports_weights_the_cpu_endpoint_loads(tmp_path: Path) -> None:
    """``--device cuda`` (``auto`` on a GPU instance): the same entry script, checkpoint and model dir.
    The data comes from ``$MNIST_DATA_DIR`` or ``../shared/data/mnist``, so this runs without conftest."""
    args = [*TINY, *dirs(tmp_path), "--device", "cuda"]
    assert "device: cuda" in run_train([*args, "--epochs", "1"])
    second = run_train([*args, "--epochs", "2"])
    assert "after epoch 1" in second and [r["epoch"] for r in parse_metrics(second)] == [2]
    metadata = json.loads((tmp_path / "model" / "metadata.json").read_text())
    assert metadata["metrics"]["trained_on"] == torch.cuda.get_device_name()
    assert 0.2 < metadata["metrics"]["val_accuracy"] <= 1 and 0 < metadata["not_a_digit"]["threshold"] < 1
    state = torch.load(tmp_path / "model" / "model.pt", weights_only=True)
    assert {t.device.type for t in state.values()} == {"cpu"}  # the endpoint has no GPU
    from_state_dict(state)


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint(tmp_path: Path, mnist_dir: Path) -> None:
    """A spot interruption: SIGKILL once the first checkpoint exists, then the same job again."""
    args = [sys.executable, "-m", "training.train", *TINY, "--data-dir", str(mnist_dir), *dirs(tmp_path)]
    checkpoint = tmp_path / "ckpt" / "checkpoint.pt"
    process = subprocess.Popen(
        [*args, "--epochs", "50"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        while not checkpoint.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert checkpoint.exists(), "no checkpoint written"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    done = torch.load(checkpoint, weights_only=False)["epoch"]
    assert 1 <= done < 50
    stdout = run_train([*args[3:], "--epochs", str(done + 1)])
    assert f"after epoch {done}" in stdout
    assert [r["epoch"] for r in parse_metrics(stdout)] == [done + 1]


@pytest.mark.slow
def test_tune_runs_trials_over_the_search_space_and_reports_the_best(tmp_path: Path, mnist_dir: Path) -> None:
    from training.tune import main

    result = main(
        [
            "--trials",
            "2",
            "--epochs",
            "1",
            "--limit",
            "192",
            "--val-size",
            "100",
            "--data-dir",
            str(mnist_dir),
            "--output",
            str(tmp_path / "best.json"),
        ]
    )
    assert result["completed"] == 2
    assert set(result["best_params"]) == {p.name for p in SEARCH_SPACE}
    assert 0 <= result["best_value"] <= 1
    assert json.loads((tmp_path / "best.json").read_text()) == result
