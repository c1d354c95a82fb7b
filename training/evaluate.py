"""Measure a trained model: accuracy, per-class accuracy (JSON) and a confusion-matrix plot (PNG).

By default on the validation split the model was trained without (same seed and size, read from its
metadata); with ``--split t10k`` on any IDX files, e.g. the official test split if you have it.
``--path upload`` reads each digit as the service does when its PNG is uploaded (``model.preprocess``)
instead of as the raw tensor. The network runs as the endpoint runs it (``for_inference``), and a
digit is read right when the service would name it: the largest of the ten digits' outputs is its
label and, for a network with the "not a digit" output, the mark is not refused at the model's
threshold (refused digits are errors, also counted apart: ``refused``). The training log counts
stricter: there, "not a digit" as the largest output is an error at any threshold::

    python -m training.evaluate                                   # shipped model, validation split
    python -m training.evaluate --model .local/train/model --output-dir /tmp/eval
    python -m training.evaluate --data-dir ~/mnist --split t10k   # t10k-images-idx3-ubyte.gz etc.
    python -m training.evaluate --data-dir ~/mnist --split t10k --path upload
"""

from __future__ import annotations

import argparse
import io
import json
import tarfile
from pathlib import Path

import torch

from model.network import NOT_A_DIGIT, DigitNet, for_inference, from_state_dict
from model.refusal import not_one_digit, threshold
from training.data import Dataset, load_mnist, stratified_split

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "model" / "artifacts" / "model.tar.gz"
DEFAULT_OUTPUT = ROOT / ".local" / "evaluate"


def load_model(path: str | Path = SHIPPED) -> tuple[DigitNet, dict]:
    """(DigitNet in eval mode, metadata) from a ``model.tar.gz``, a model dir or a ``model.pt`` file."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.pt"
    if path.name.endswith(".tar.gz"):
        with tarfile.open(path) as tar:
            weights = io.BytesIO(tar.extractfile("model.pt").read())  # type: ignore[union-attr]
            metadata = json.loads(tar.extractfile("metadata.json").read())  # type: ignore[union-attr]
    else:
        weights = path
        meta_path = path.parent / "metadata.json"
        metadata = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    model = from_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.eval(), metadata


def validation_split(metadata: dict, data_dir: str | None = None) -> Dataset:
    """The validation images the model in ``metadata`` was trained without (same seed and size)."""
    hyper = metadata.get("hyperparameters", {})
    data = load_mnist(data_dir)
    expected = metadata.get("data", {}).get("fingerprint")
    if expected and expected != data.fingerprint:
        raise ValueError(f"data fingerprint {data.fingerprint} differs from the model's {expected}")
    _, val_index = stratified_split(data.labels, int(hyper.get("val_size", 5000)), int(hyper.get("seed", 42)))
    return data.subset(val_index)


def evaluate(model: torch.nn.Module, data: Dataset, limit: float = 1.0) -> dict:
    """Accuracy, per-class accuracy, the confusion matrix (rows: true digit; columns: what the service
    answers, the largest of the ten digits' outputs, or column 10 where a network with the "not a
    digit" output refuses the mark at ``limit``, the threshold) and the misclassified indices (the
    refused ones among them, also listed apart)."""
    from training.train import score

    loss, _, logits = score(model, data)
    probabilities = torch.softmax(logits, 1)
    predicted = probabilities[:, :NOT_A_DIGIT].argmax(1)  # the digit the service names ...
    refused = []
    if logits.shape[1] > NOT_A_DIGIT:  # ... unless it refuses the mark: column 10
        refusal = torch.from_numpy(not_one_digit(probabilities.numpy())) >= limit
        refused = torch.nonzero(refusal).flatten().tolist()
        predicted = torch.where(refusal, NOT_A_DIGIT, predicted)
    accuracy = (predicted == data.labels).float().mean().item()
    columns = NOT_A_DIGIT + 1 if logits.shape[1] > NOT_A_DIGIT else NOT_A_DIGIT  # and "refused", if any
    confusion = torch.zeros(10, columns, dtype=torch.long)
    confusion.index_put_((data.labels, predicted), torch.ones_like(predicted), accumulate=True)
    per_class = (confusion.diag().double() / confusion.sum(1).clamp(min=1)).tolist()
    wrong = torch.nonzero(predicted != data.labels).flatten().tolist()
    return {
        "images": len(data),
        "accuracy": accuracy,
        "errors": len(wrong),
        "loss": loss,
        "per_class_accuracy": {str(d): round(a, 5) for d, a in enumerate(per_class)},
        "confusion_matrix": confusion.tolist(),
        "misclassified": [{"index": i, "label": int(data.labels[i]), "predicted": int(predicted[i])} for i in wrong],
        "refused": len(refused),
        "refused_indices": refused,
    }


def as_uploaded(data: Dataset) -> Dataset:
    """The same digits as the service reads their PNG uploads (a digit it finds no single mark in is
    left blank, so it counts as an error)."""
    from training.upload_path import through_service

    pixels, _ = through_service(list(data.images.numpy()), "evaluate", cache=None)
    return Dataset(torch.from_numpy(pixels), data.labels, data.fingerprint, f"{data.source} through the service")


def plot_confusion(confusion: list[list[int]], path: Path, title: str) -> None:
    """Confusion matrix as a PNG: counts in each cell, off-diagonal cells (the errors) highlighted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    matrix = np.array(confusion)
    errors = matrix.copy()
    np.fill_diagonal(errors, 0)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    image = ax.imshow(errors, cmap="Reds")
    fig.colorbar(image, ax=ax, label="misclassified images")
    for (row, col), count in np.ndenumerate(matrix):
        if count:
            ax.text(col, row, str(count), ha="center", va="center", fontsize=7, color="black" if row != col else "navy")
    ax.set(
        xticks=range(matrix.shape[1]),
        yticks=range(10),
        xlabel="predicted digit (10: not a digit)",
        ylabel="true digit",
        title=title,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(SHIPPED), help="model.tar.gz, model dir or model.pt")
    parser.add_argument("--data-dir", help="folder with the IDX .gz files (default: as for training)")
    parser.add_argument("--split", default="validation", help="'validation' (held out of train) or an IDX prefix")
    parser.add_argument(
        "--path",
        choices=("raw", "upload"),
        default="raw",
        help="the digits as raw tensors, or as the service reads their PNG uploads",
    )
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    model, metadata = load_model(args.model)
    if args.split == "validation":
        data = validation_split(metadata, args.data_dir)
    else:
        data = load_mnist(args.data_dir, split=args.split)
    if args.path == "upload":
        data = as_uploaded(data)
    result = {
        "model_version": metadata.get("version"),
        "split": args.split,
        "path": args.path,
        **evaluate(for_inference(model), data, threshold(metadata)),  # as the endpoint runs it
    }
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "evaluation.json").write_text(json.dumps(result, indent=1) + "\n")
    title = f"{args.split}: {result['accuracy']:.2%} of {result['images']:,} ({result['errors']} errors)"
    plot_confusion(result["confusion_matrix"], args.output_dir / "confusion_matrix.png", title)
    print(
        json.dumps(
            {k: result[k] for k in ("model_version", "split", "path", "images", "accuracy", "errors", "refused")}
        )
    )
    print(f"wrote {args.output_dir / 'evaluation.json'} and {args.output_dir / 'confusion_matrix.png'}")
    return result


if __name__ == "__main__":
    main()
