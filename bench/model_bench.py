"""Model benchmark: the shipped DigitNet next to the pytorch/examples MNIST network, measured in one run.

Measured here, both networks on the same inputs and threads (``torch.set_num_threads(2)``):

- training time per epoch: a short run of each (``TRAIN_IMAGES`` images, their own recipe: ours with
  the settings of ``training.train.Config``: batch 256, augmentation, AdamW, one-cycle, label smoothing;
  the reference with Adadelta, batch 64)
  scaled to a 55,000-image epoch;
- single-image latency: the forward pass of each on one 28x28 digit (median of many); for ours also
  the whole single-image inference as the endpoint runs it (``model_fn``'s network, one thread):
  ``model.preprocess`` + ``predict_fn`` on uploads of four kinds (an MNIST PNG, a 280x280 scan, a
  280x280 canvas drawing with the stroke in alpha, a 640x480 phone photo), each next to the forward
  pass alone measured in the same run (the reference has no preprocessing), and split into decoding
  alone and ``predict_fn`` (the forward pass as a request meets it, right after preprocessing);
- batch throughput: images/s in batches of 1,000;
- model size: bytes of each state_dict.

Validation accuracy: ours is measured on the 5,000 held-out training images it never saw. The
reference is NOT trained here (14 epochs would take a quarter of an hour): its published 99.1-99.2 %
on the official test split is quoted as such.

``python -m bench.model_bench`` -> ``bench/results/model.json``.
"""

from __future__ import annotations

import io
import itertools
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from bench import save
from model.network import DigitNet, for_inference, normalize
from model.preprocess import decode
from model.refusal import threshold
from ops.archive import load_archive
from training.data import Dataset, batches, load_mnist
from training.evaluate import SHIPPED, evaluate, load_model, validation_split
from training.train import Config, train_step, use_bf16

RESULTS = Path(__file__).resolve().parent / "results"
TRAIN_IMAGES = 6_400  # per network for the training-speed measurement (about 1/9 of an epoch)
EPOCH_IMAGES = 55_000
LATENCY_RUNS = 200
LATENCY_ROUNDS = 5  # single-image inference: the kinds take turns, 40 requests each per round
REFERENCE_PUBLISHED_ACCURACY = "99.1-99.2 % (published, official test split, 14 epochs)"


class ReferenceNet(nn.Module):
    """The network of pytorch/examples ``mnist/main.py``: conv32-conv64-maxpool-fc128, dropout."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        x = torch.flatten(self.dropout1(x), 1)
        return self.fc2(self.dropout2(F.relu(self.fc1(x))))


def _state_dict_bytes(model: nn.Module) -> int:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()


def _train_seconds_per_epoch(data: Dataset, ours: bool) -> float:
    """Seconds for a short training run of a fresh network with its own recipe, scaled to an epoch."""
    subset = data.subset(torch.arange(TRAIN_IMAGES))
    generator = torch.Generator().manual_seed(0)
    if ours:
        model: nn.Module = DigitNet().to(memory_format=torch.channels_last)
        optimizer = torch.optim.AdamW(model.parameters(), lr=Config.lr, weight_decay=Config.weight_decay)
        batch_size = Config.batch_size  # the training recipe's own settings
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=Config.lr, total_steps=max(10, TRAIN_IMAGES // batch_size)
        )
        criterion = nn.CrossEntropyLoss(label_smoothing=Config.label_smoothing)
    else:
        model = ReferenceNet()
        optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
        criterion, batch_size = nn.CrossEntropyLoss(), 64
    model.train()
    bf16 = use_bf16(Config.precision)
    started = time.perf_counter()
    for x, y in batches(subset, batch_size, shuffle=True, generator=generator, train=ours, drop_last=True):
        if ours:  # the training loop's own step (bf16 autocast where the CPU has it)
            train_step(model, x, y, optimizer, scheduler, criterion, bf16)
            continue
        optimizer.zero_grad(set_to_none=True)
        criterion(model(x), y).backward()
        optimizer.step()
    return (time.perf_counter() - started) * EPOCH_IMAGES / TRAIN_IMAGES


def _median_ms(fn, runs: int = LATENCY_RUNS) -> float:
    for _ in range(10):
        fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _throughput(model: nn.Module, x: torch.Tensor, repeats: int = 3) -> float:
    with torch.inference_mode():
        model(x)
        best = min(_timed(lambda: model(x)) for _ in range(repeats))
    return len(x) / best


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _encode(picture: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _uploads(digit: np.ndarray, seed: int) -> dict[str, bytes]:
    """One validation digit (light on dark, 28x28) as people send it: five kinds of upload."""
    from tests.images import notebook_page

    big = np.asarray(Image.fromarray(digit).resize((280, 280), Image.Resampling.BICUBIC))
    canvas = np.zeros((280, 280, 4), dtype=np.uint8)
    canvas[..., 3] = big  # a drawing canvas: black stroke, transparent background
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:480, 0:640].astype(np.float32)
    paper = 225.0 * (1.0 - 0.27 * xx / 640 - 0.18 * yy / 480) + rng.normal(0, 4.0, (480, 640))
    ink = np.zeros((480, 640), dtype=np.float32)
    ink[100:364, 200:464] = np.asarray(Image.fromarray(digit).resize((264, 264), Image.Resampling.BICUBIC)) / 255.0
    photo = np.clip(paper * (1.0 - 0.8 * ink), 0, 255).astype(np.uint8)
    return {
        "MNIST 28x28 PNG": _encode(Image.fromarray(digit)),
        "scan 280x280 PNG": _encode(Image.fromarray(255 - big)),
        "canvas 280x280 RGBA PNG": _encode(Image.fromarray(canvas)),
        "photo 640x480 JPEG": _encode(Image.fromarray(photo).convert("RGB"), "JPEG", quality=85),
        # Written across a squared notebook page's lines, which preprocessing takes out.
        "notebook page 400x400 JPEG": _encode(
            Image.fromarray(notebook_page(digit, "squared", tilt=1.0)), "JPEG", quality=85
        ),
    }


def _single_image_latency(val: Dataset, rounds: int = LATENCY_ROUNDS) -> dict:
    """Median ms of ``input_fn`` + ``predict_fn`` per kind of upload, loaded from the shipped archive as
    the endpoint does (``model_fn``: one thread), and where the time goes.

    Each request is timed in its two handler calls; decoding alone (``model.preprocess.decode``) is
    timed in a loop of its own. The uploads cycle through ten validation digits. The kinds take turns
    over several rounds, so that each meets the same spells of a shared machine; the spread of the
    rounds' medians is reported with the median of all requests. The forward pass alone, repeated back
    to back, is measured in the same run."""
    loaded, handlers = load_archive(SHIPPED)
    torch.set_num_threads(1)
    uploads = [_uploads(val.images[i].numpy(), seed=i) for i in range(10)]
    one = normalize(val.images[:1])
    content_type = "application/x-image"  # the format is read from the bytes
    names = list(uploads[0])
    timings = {kind: {"total": [], "input_fn": [], "predict_fn": [], "rounds": [], "decode": []} for kind in names}
    with torch.inference_mode():
        forward_ms = _median_ms(lambda: loaded.network(one))
        for kind in names:
            for i, upload in enumerate(uploads):  # a wrong answer is not worth timing
                prediction = handlers.predict_fn(handlers.input_fn(upload[kind], content_type), loaded)
                read = int(prediction.probabilities[0].argmax())
                if read != int(val.labels[i]):
                    raise AssertionError(f"{kind} of validation digit {i} read as {read}, not {int(val.labels[i])}")
        per_round = max(10, LATENCY_RUNS // rounds)
        for _ in range(rounds):
            for kind in names:
                bodies = itertools.cycle([u[kind] for u in uploads])
                totals = []
                for n in range(10 + per_round):
                    started = time.perf_counter()
                    data = handlers.input_fn(next(bodies), content_type)
                    parsed = time.perf_counter()
                    handlers.predict_fn(data, loaded)
                    done = time.perf_counter()
                    if n >= 10:  # the first ones warm up
                        totals.append(done - started)
                        timings[kind]["input_fn"].append(parsed - started)
                        timings[kind]["predict_fn"].append(done - parsed)
                timings[kind]["total"] += totals
                timings[kind]["rounds"].append(statistics.median(totals) * 1000)
                timings[kind]["decode"].append(_median_ms(lambda b=bodies: decode(next(b)), runs=per_round))
    kinds = {
        kind: {
            "total_ms": statistics.median(t["total"]) * 1000,
            "rounds_ms": t["rounds"],
            "input_fn_ms": statistics.median(t["input_fn"]) * 1000,
            "predict_fn_ms": statistics.median(t["predict_fn"]) * 1000,
            "decode_ms": statistics.median(t["decode"]),  # the median of the rounds' medians
        }
        for kind, t in timings.items()
    }
    return {"forward_ms": forward_ms, "kinds": kinds, "threads": 1, "requests_per_kind": rounds * per_round}


def run() -> dict:
    torch.set_num_threads(2)
    torch.manual_seed(0)
    ours, metadata = load_model(SHIPPED)
    reference = ReferenceNet().eval()
    val = validation_split(metadata)
    accuracy = evaluate(for_inference(ours), val, threshold(metadata))  # as the endpoint answers

    train_data = load_mnist()
    ours_epoch = _train_seconds_per_epoch(train_data, ours=True)
    reference_epoch = _train_seconds_per_epoch(train_data, ours=False)

    one = normalize(val.images[:1])
    with torch.inference_mode():
        ours_ms = _median_ms(lambda: ours(one))
        reference_ms = _median_ms(lambda: reference(one))
    latency = _single_image_latency(val)
    torch.set_num_threads(2)

    batch = normalize(val.images[:1000])
    ours_ips, reference_ips = _throughput(ours, batch), _throughput(reference, batch)
    ours_bytes, reference_bytes = _state_dict_bytes(ours), _state_dict_bytes(reference)
    epochs = metadata["hyperparameters"]["epochs"]

    result = {
        "model_version": metadata.get("version"),
        "validation_accuracy": accuracy["accuracy"],
        "validation_images": accuracy["images"],
        "validation_errors": accuracy["errors"],
        "reference_accuracy": REFERENCE_PUBLISHED_ACCURACY,
        "train_seconds_per_epoch": {
            "ours": ours_epoch,
            "reference": reference_epoch,
            "measured_images": TRAIN_IMAGES,
            "scaled_to": EPOCH_IMAGES,
        },
        "shipped_run_epoch_seconds": metadata["metrics"].get("epoch_seconds"),
        "single_image_forward_ms": {"ours": ours_ms, "reference": reference_ms},
        "single_image_inference": latency,
        "batch_1000_images_per_second": {"ours": ours_ips, "reference": reference_ips},
        "state_dict_bytes": {"ours": ours_bytes, "reference": reference_bytes},
        "threads": torch.get_num_threads(),
    }
    result["rows"] = [
        [
            "validation accuracy (5,000 held-out images)",
            f"{accuracy['accuracy']:.2%}",
            REFERENCE_PUBLISHED_ACCURACY,
            "",
            ">= 99.6 %",
        ],
        [
            f"training s/epoch ({EPOCH_IMAGES:,} images, scaled from {TRAIN_IMAGES:,})",
            f"{ours_epoch:.0f} s",
            f"{reference_epoch:.0f} s",
            f"{ours_epoch / reference_epoch:.2f}x",
            f"{epochs} epochs <= 15 min",
        ],
        ["single-image forward", f"{ours_ms:.2f} ms", f"{reference_ms:.2f} ms", f"{ours_ms / reference_ms:.2f}x", ""],
        ["single-image forward as served (BatchNorm folded, 1 thread)", f"{latency['forward_ms']:.2f} ms", "", "", ""],
        *[
            [
                f"single-image inference: {kind}",
                f"{ms['total_ms']:.2f} ms",
                f"rounds {min(ms['rounds_ms']):.1f}-{max(ms['rounds_ms']):.1f} ms; decode alone "
                f"{ms['decode_ms']:.2f} ms, predict_fn {ms['predict_fn_ms']:.2f} ms",
                f"{ms['total_ms'] / latency['forward_ms']:.1f}x forward",
                "< 5 ms",
            ]
            for kind, ms in latency["kinds"].items()
        ],
        [
            "batch throughput (1,000 images)",
            f"{ours_ips:,.0f} img/s",
            f"{reference_ips:,.0f} img/s",
            f"{ours_ips / reference_ips:.2f}x",
            "",
        ],
        [
            "model size (state_dict)",
            f"{ours_bytes / 1e6:.2f} MB",
            f"{reference_bytes / 1e6:.2f} MB",
            f"{ours_bytes / reference_bytes:.2f}x",
            "< 5 MB",
        ],
    ]
    return result


if __name__ == "__main__":
    save("model", run())
