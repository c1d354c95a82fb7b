"""Train DigitNet on MNIST: locally (``python -m training.train``) and as the SageMaker entry script.

Hyperparameters arrive as ``--key value`` (unknown keys are ignored, as SageMaker's toolkit may add
some); ``$SM_HPS``, ``$SM_MODEL_DIR``, ``$SM_CHANNEL_TRAINING`` and ``$SM_OUTPUT_DATA_DIR`` provide the
defaults inside a training job. Recipe: AdamW + one-cycle learning rate, label smoothing 0.1, small
random affine and stroke-width jitter on every batch except in the last epoch (clean images at the
lowest learning rate, so weights and BatchNorm statistics end on the real distribution), a seeded
stratified validation split. Training sees what the service sees (:mod:`training.sets`): each MNIST
digit, every epoch, either as its tensor or through the upload path (``--upload-share``), plus typed
digits, ``--not-digit`` pictures that are not digits (an eleventh class; 0 trains ten classes) and
``--touching`` pictures of two digits that touch (a twelfth class, :mod:`training.touching`; 0: none).

Every epoch prints exactly one metrics line (format in :mod:`training.metrics`) and saves a checkpoint
(model, optimiser, scheduler, RNG states) to the checkpoint dir; a rerun with the same settings resumes
after the last finished epoch (managed spot interruptions). At the end the model dir holds
``model.pt``, ``metadata.json`` and ``code/``, i.e. exactly what ``model.tar.gz`` must contain, and the
output data dir holds the loss/accuracy curves (PNG) and the per-epoch history (JSON).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from model.network import MEAN, NOT_A_DIGIT, STD, TOUCHING, DigitNet, for_inference
from training import refusal, sets
from training.data import Dataset, batches, load_mnist, stratified_split
from training.evaluate import evaluate
from training.feedback import finetune
from training.metrics import format_metrics
from training.package import write_code

ROOT = Path(__file__).resolve().parent.parent
LOCAL_RUN = ROOT / ".local" / "train"
SAGEMAKER_CHECKPOINTS = Path("/opt/ml/checkpoints")
CHECKPOINT = "checkpoint.pt"
CPU = torch.device("cpu")


@dataclass
class Config:
    lr: float = 3e-3
    weight_decay: float = 1e-2
    dropout: float = 0.3
    batch_size: int = 256
    epochs: int = 12
    seed: int = 42
    val_size: int = 5000
    label_smoothing: float = 0.1
    clean_epochs: int = 1
    upload_share: float = 0.5
    typed: int = 4000
    not_digit: int = 12000
    touching: int = 4000
    limit: int | None = None
    #: "bf16" (autocast), "fp32", or "auto": bf16 where the device computes it natively (AMX, AVX-512 BF16, Ampere+).
    precision: str = "auto"
    #: "cuda", "cpu", or "auto": the GPU where PyTorch sees one (a GPU training instance), else the CPU.
    device: str = "auto"
    threads: int = 2
    data_dir: str | None = None
    model_dir: str = str(LOCAL_RUN / "model")
    checkpoint_dir: str = str(LOCAL_RUN / "checkpoints")
    output_data_dir: str = str(LOCAL_RUN / "output")
    #: The feedback channel and the model to start from (training/feedback/finetune.py).
    feedback_dir: str | None = None
    feedback_share: float = 0.25
    init_model: str | None = None

    def resume_key(self) -> dict[str, object]:
        """What must match for a checkpoint to be resumed (everything that shapes the run but ``epochs``)."""
        keys = (
            "lr",
            "weight_decay",
            "dropout",
            "batch_size",
            "seed",
            "val_size",
            "label_smoothing",
            "clean_epochs",
            "upload_share",
            "typed",
            "not_digit",
            "touching",
            "limit",
            "precision",
            "feedback_dir",
            "feedback_share",
            "init_model",
        )
        return {k: getattr(self, k) for k in keys}


def _default_checkpoint_dir() -> str:
    if SAGEMAKER_CHECKPOINTS.is_dir() and os.access(SAGEMAKER_CHECKPOINTS, os.W_OK):
        return str(SAGEMAKER_CHECKPOINTS)
    return Config.checkpoint_dir


def parse_args(argv: list[str] | None = None) -> Config:
    """``--key value`` arguments (dashes or underscores) over ``$SM_*`` defaults over :class:`Config`."""
    env = os.environ
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--lr", type=float, default=Config.lr, help="peak learning rate of the one-cycle schedule")
    add("--weight-decay", "--weight_decay", type=float, default=Config.weight_decay, help="AdamW weight decay")
    add("--dropout", type=float, default=Config.dropout, help="dropout before the output layer")
    add("--batch-size", "--batch_size", type=int, default=Config.batch_size)
    add("--epochs", type=int, default=Config.epochs, help=f"epochs of the one-cycle schedule ({Config.epochs})")
    add("--seed", type=int, default=Config.seed)
    add("--val-size", "--val_size", type=int, default=Config.val_size, help="images held out for validation")
    add("--label-smoothing", "--label_smoothing", type=float, default=Config.label_smoothing)
    add("--clean-epochs", "--clean_epochs", type=int, default=Config.clean_epochs, help="final epochs unaugmented")
    add(
        "--upload-share",
        "--upload_share",
        type=float,
        default=Config.upload_share,
        help="share of the MNIST digits seen through the upload path each epoch (the rest as tensors)",
    )
    add("--typed", type=int, default=Config.typed, help="typed digits (font glyphs) added to training")
    add(
        "--not-digit",
        "--not_digit",
        type=int,
        default=Config.not_digit,
        help="not-a-digit pictures added to training as an 11th class (0: a 10-class network)",
    )
    add(
        "--touching",
        type=int,
        default=Config.touching,
        help="pictures of two digits that touch, a 12th class (with --not-digit only; 0: an 11-class network)",
    )
    add("--limit", type=int, default=None, help="train on the first N training images only (smoke tests)")
    add(
        "--precision",
        choices=("auto", "bf16", "fp32"),
        default=Config.precision,
        help="bf16 autocast or fp32; auto: bf16 where the CPU or GPU has it natively (about 2x as fast), else fp32",
    )
    add("--device", default=Config.device, help="cuda, cpu or auto (default): the GPU PyTorch sees, else the CPU")
    add("--threads", type=int, default=Config.threads, help="torch CPU threads")
    add("--data-dir", "--data_dir", default=env.get("SM_CHANNEL_TRAINING"), help="folder with the IDX .gz files")
    add("--model-dir", "--model_dir", default=env.get("SM_MODEL_DIR", Config.model_dir))
    add("--feedback-dir", "--feedback_dir", default=env.get("SM_CHANNEL_FEEDBACK"), help="feedback channel to mix in")
    add(
        "--feedback-share",
        "--feedback_share",
        type=float,
        default=Config.feedback_share,
        help="share of the training images that are feedback examples (oversampled)",
    )
    add("--init-model", "--init_model", help="start from this model (model.tar.gz, model dir): a fine-tune")
    add("--checkpoint-dir", "--checkpoint_dir", default=_default_checkpoint_dir())
    add("--output-data-dir", "--output_data_dir", default=env.get("SM_OUTPUT_DATA_DIR", Config.output_data_dir))
    if env.get("SM_HPS"):  # the job's hyperparameters, in case they are not repeated on the command line
        hps = json.loads(env["SM_HPS"])
        known = {a.dest for a in parser._actions}
        parser.set_defaults(**{k.replace("-", "_"): v for k, v in hps.items() if k.replace("-", "_") in known})
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        print(f"ignoring unknown arguments: {' '.join(unknown)}", file=sys.stderr)
    return Config(**{k: v for k, v in vars(args).items()})


def pick_device(name: str) -> torch.device:
    """The device to train on: ``auto`` is the GPU where PyTorch sees one (CUDA), else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def use_bf16(precision: str, device: torch.device = CPU) -> bool:
    """Whether to train under bfloat16 autocast: asked for, or ``auto`` on a GPU that computes bf16
    (Ampere and newer) or a CPU whose oneDNN has native bf16 (AMX or AVX-512 BF16; elsewhere bf16 is
    emulated and slower than fp32). Weights, optimiser state and the exported model stay float32."""
    if precision != "auto":
        return precision == "bf16"
    if device.type == "cuda":  # not emulated (a T4, say, ml.g4dn's GPU): slower than fp32 there
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def score(model: nn.Module, data: Dataset, batch_size: int = 1000) -> tuple[float, float, torch.Tensor]:
    """(mean cross-entropy, accuracy, logits) of ``model`` on ``data``, in eval mode; logits on the CPU."""
    model.eval()
    device = next(model.parameters()).device
    with torch.inference_mode():
        logits = torch.cat([model(x.to(device)).cpu() for x, _ in batches(data, batch_size, shuffle=False)])
    loss = F.cross_entropy(logits, data.labels).item()
    accuracy = (logits.argmax(1) == data.labels).float().mean().item()
    return loss, accuracy, logits


def _rng_state() -> dict[str, object]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_initialized():  # dropout on the GPU draws from its own generators
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save_checkpoint(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # atomic: an interruption leaves the previous checkpoint intact


def _load_checkpoint(path: Path, config: Config) -> dict | None:
    if not path.exists():
        return None
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)  # our own file: RNG states inside
    if checkpoint.get("resume_key") != config.resume_key():
        print(f"not resuming {path}: it was written with other settings ({checkpoint.get('resume_key')})")
        return None
    return checkpoint


def save_curves(history: list[dict[str, float]], path: Path) -> None:
    """Loss and validation-accuracy curves per epoch as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(epochs, [h["train_loss"] for h in history], "o-", label="train (augmented, dropout)")
    left.plot(epochs, [h["val_loss"] for h in history], "o-", label="validation")
    left.set(xlabel="epoch", ylabel="cross-entropy", title="Loss", yscale="log")
    left.legend()
    right.plot(epochs, [100 * h["val_accuracy"] for h in history], "o-", color="tab:green")
    right.axhline(99.6, color="grey", linestyle="--", linewidth=1, label="99.6 % target")
    right.set(xlabel="epoch", ylabel="accuracy (%)", title="Validation accuracy")
    right.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _resume(
    path: Path,
    config: Config,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.OneCycleLR,
    steps_per_epoch: int,
) -> tuple[list[dict[str, float]], int]:
    """Restore the run saved at ``path`` into ``model``, ``optimizer``, ``scheduler`` and the RNGs, when it
    was written with the same settings; returns (history, last finished epoch), ``([], 0)`` otherwise."""
    checkpoint = _load_checkpoint(path, config)
    if not checkpoint:
        return [], 0
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    if checkpoint["scheduler"]["total_steps"] == scheduler.total_steps:
        scheduler.load_state_dict(checkpoint["scheduler"])
    else:  # --epochs changed: continue on the new schedule from the same step
        scheduler.last_epoch = checkpoint["epoch"] * steps_per_epoch
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for group, lr in zip(optimizer.param_groups, scheduler.get_lr(), strict=True):
                group["lr"] = lr
    _set_rng_state(checkpoint["rng"])
    print(f"resuming from {path} after epoch {checkpoint['epoch']}", flush=True)
    return checkpoint["history"], checkpoint["epoch"]


def _prepare_sets(config: Config, data: Dataset) -> tuple[Dataset, sets.Sets, dict | None]:
    """The training digits, everything built from them and the validation split (:func:`training.sets.build`,
    the feedback channel's examples added to its extras, if any), and what feedback was mixed in (None: none)."""
    train_index, val_index = stratified_split(data.labels, config.val_size, config.seed)
    if config.limit:
        train_index = train_index[: config.limit]
    train_set, val_set = data.subset(train_index), data.subset(val_index)
    share = len(train_set) / (len(data) - len(val_set))  # a --limit run gets as many extras in proportion
    typed, not_digit, touching = (
        max(10, round(n * share)) if n else 0 for n in (config.typed, config.not_digit, config.touching)
    )
    # Feedback examples join the extras: they are model inputs already, not sent through the upload path.
    prepared, feedback = finetune.mix_in(
        sets.build(train_set, val_set, typed, not_digit, touching, config.seed), config
    )
    return train_set, prepared, feedback


def train_step(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    criterion: nn.Module,
    bf16: bool = False,
) -> float:
    """One optimisation step on a batch (moved to the model's device); the batch's summed (unsmoothed)
    cross-entropy, for the epoch's loss."""
    device = next(model.parameters()).device
    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        logits = model(x.contiguous(memory_format=torch.channels_last)).float()
    criterion(logits, y).backward()
    optimizer.step()
    scheduler.step()
    return F.cross_entropy(logits.detach(), y, reduction="sum").item()


def train(config: Config, on_epoch: Callable[[int, float], None] | None = None) -> dict:
    """Run (or resume) training as configured; returns the metadata written next to ``model.pt``.

    ``on_epoch(epoch, val_accuracy)`` is called after each epoch (Optuna pruning raises from it).
    """
    started = time.perf_counter()
    torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    data = load_mnist(config.data_dir)
    train_set, prepared, feedback = _prepare_sets(config, data)
    print(
        f"sets ready in {time.perf_counter() - started:.0f} s: {len(train_set)} digits, {len(prepared.extra)} "
        f"typed digits and not-a-digit pictures; not read as one mark through the upload path: "
        f"{prepared.unreadable[0]} training, {prepared.unreadable[1]} validation digits",
        flush=True,
    )
    steps_per_epoch = max(1, (len(train_set) + len(prepared.extra)) // config.batch_size)

    classes = NOT_A_DIGIT if not config.not_digit else TOUCHING + 1 if config.touching else NOT_A_DIGIT + 1
    model = DigitNet(dropout=config.dropout, classes=classes)
    parent = finetune.init_weights(model, config)
    device = pick_device(config.device)
    model = model.to(device, memory_format=torch.channels_last)  # faster convs on CPU
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=max(10, config.epochs * steps_per_epoch), pct_start=0.25
    )
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    checkpoint_path = Path(config.checkpoint_dir) / CHECKPOINT
    history, start_epoch = _resume(checkpoint_path, config, model, optimizer, scheduler, steps_per_epoch)

    bf16 = use_bf16(config.precision, device)
    print(f"device: {device}, precision: {'bf16 autocast' if bf16 else 'fp32'}", flush=True)
    from tqdm import tqdm

    for epoch in range(start_epoch + 1, config.epochs + 1):
        epoch_started = time.perf_counter()
        finetune.train_mode(model, config)
        generator = torch.Generator().manual_seed(config.seed * 1000 + epoch)  # same batches after a resume
        loss_sum, seen = 0.0, 0
        epoch_set = prepared.epoch(config.upload_share, generator)
        progress = tqdm(
            batches(
                epoch_set,
                config.batch_size,
                shuffle=True,
                generator=generator,
                drop_last=True,
                train=epoch <= config.epochs - config.clean_epochs,
            ),
            total=steps_per_epoch,
            desc=f"epoch {epoch}",
            disable=not sys.stderr.isatty(),
            leave=False,
        )
        for x, y in progress:
            loss_sum += train_step(model, x, y, optimizer, scheduler, criterion, bf16)
            seen += len(y)
        val_loss, val_accuracy, _ = score(model, prepared.validation["raw"])
        seconds = time.perf_counter() - epoch_started
        row = {
            "epoch": epoch,
            "train_loss": loss_sum / max(seen, 1),
            "val_loss": val_loss,
            "val_accuracy": val_accuracy,
            "epoch_seconds": seconds,
            "val_upload_accuracy": score(model, prepared.validation["upload"])[1],
        }
        if "not_digit" in prepared.validation:
            row["val_not_digit_refused"] = score(model, prepared.validation["not_digit"])[1]
        history.append(row)
        print(format_metrics(**row), flush=True)
        _save_checkpoint(
            checkpoint_path,
            {
                "epoch": epoch,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": _rng_state(),
                "history": history,
                "resume_key": config.resume_key(),
            },
        )
        if on_epoch:
            on_epoch(epoch, val_accuracy)

    # Exported and calibrated on the CPU, where the endpoint runs it.
    trained_on = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    metadata = export(model.cpu(), config, history, data, prepared, time.perf_counter() - started, trained_on)
    return finetune.annotate(config, metadata, feedback, parent)


def export(
    model: nn.Module,
    config: Config,
    history: list[dict[str, float]],
    data: Dataset,
    prepared: sets.Sets,
    run_seconds: float,
    trained_on: str = "cpu",
) -> dict:
    """Write model.pt, metadata.json and code/ into the model dir, curves and history into the output dir.

    With the "not a digit" class, the refusal threshold is chosen on the validation digits (raw,
    through the upload path as they are and enlarged, and typed: :func:`training.refusal.choose`) and
    stored in the metadata with the trade-off curve (also plotted), and the validation figures are
    given at that threshold.
    """
    model_dir, output_dir = Path(config.model_dir), Path(config.output_data_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    weights = model_dir / "model.pt"
    torch.save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, weights)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    now = dt.datetime.now(dt.UTC)
    last = history[-1] if history else {}
    where = ("threads", "device")  # how the run was executed, not what it learns
    hyperparameters = {k: v for k, v in asdict(config).items() if not k.endswith("_dir") and k not in where}
    metadata = {
        "version": f"{now:%Y-%m-%d}-{digest[:7]}",
        "created_at": now.isoformat(timespec="seconds"),
        "sha256": digest,
        "architecture": {
            "class": "model.network.DigitNet",
            "layers": "conv5x5/48-pool-conv3x3/96-conv3x3/96-pool-fc192 (BatchNorm, ReLU, dropout before the output)",
            "parameters": sum(p.numel() for p in model.parameters()),
            "input": [1, 28, 28],
            "normalization": {"mean": MEAN, "std": STD},
            "dropout": config.dropout,
        },
        "hyperparameters": hyperparameters,
        "metrics": {
            "val_accuracy": last.get("val_accuracy"),
            "val_loss": last.get("val_loss"),
            "train_loss": last.get("train_loss"),
            "epochs": len(history),
            "train_seconds": round(sum(h["epoch_seconds"] for h in history), 1),
            "epoch_seconds": [round(h["epoch_seconds"], 1) for h in history],
            "run_seconds": round(run_seconds, 1),
            "trained_on": trained_on,
            "val_upload_accuracy": last.get("val_upload_accuracy"),
        },
        "data": {
            "fingerprint": data.fingerprint,
            "source": data.source,
            "train_size": len(prepared.train),
            "val_size": len(prepared.validation["raw"]),
            "extra_size": len(prepared.extra),
            "not_read_as_one_mark": {"train": prepared.unreadable[0], "validation": prepared.unreadable[1]},
            "split": f"stratified, seed {config.seed}",
        },
        "torch_version": torch.__version__,
        "history": history,
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    if "not_digit" in prepared.validation:
        metadata["not_a_digit"] = _calibrate(model, prepared, output_dir)
    (model_dir / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    write_code(model_dir)
    (output_dir / "history.json").write_text(json.dumps(history, indent=2) + "\n")
    if history:
        save_curves(history, output_dir / "training_curves.png")
    print(
        f"model {weights} ({weights.stat().st_size / 1e6:.2f} MB), version {metadata['version']}, "
        f"run {run_seconds:.0f} s",
        flush=True,
    )
    return metadata


def _calibrate(network: nn.Module, prepared: sets.Sets, output_dir: Path) -> dict:
    """The "not a digit" threshold and what it does on every validation set (see :func:`export`), for
    the network as the endpoint runs it (:func:`model.network.for_inference`)."""
    model = for_inference(network)
    scores = {name: refusal.not_digit_scores(model, data) for name, data in prepared.validation.items()}
    digit_sets = [name for name in prepared.validation if name not in ("not_digit", "touching")]  # one digit each
    digits = np.concatenate([scores[name] for name in digit_sets])
    threshold = refusal.choose(digits)
    curve = refusal.tradeoff(digits, scores["not_digit"])
    refusal.plot(curve, threshold, output_dir / "not_a_digit_tradeoff.png")
    readings = {}
    for name in digit_sets:
        measured = evaluate(model, prepared.validation[name], threshold)  # read right as the service reads
        images = measured["images"]
        readings[name] = {
            "images": images,
            "read_right": 1 - measured["errors"] / images,
            "refused": measured["refused"] / images,
        }
    readings["not_digit"] = {
        "images": len(scores["not_digit"]),
        "refused": float((scores["not_digit"] >= threshold).mean()),
    }
    if "touching" in prepared.validation:  # what the service tries cut: read as digits that touch
        touching = prepared.validation["touching"]
        readings["touching"] = {"images": len(touching), "read_as_touching": score(model, touching)[1]}
    return {"threshold": threshold, "validation": readings, "tradeoff": curve}


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
