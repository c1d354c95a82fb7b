"""The network and the shipped model archive: shapes, a state_dict torch 2.6 can load, size, layout."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
import torch

from model.network import MEAN, STD, DigitNet, for_inference, from_state_dict, normalize

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = ROOT / "model" / "artifacts" / "model.tar.gz"
MAX_MODEL_BYTES = 5_000_000

pytestmark = pytest.mark.unit


def test_forward_gives_ten_logits_per_image() -> None:
    model = DigitNet().eval()
    with torch.inference_mode():
        out = model(torch.zeros(3, 1, 28, 28))
    assert out.shape == (3, 10)


def test_dropout_does_not_change_the_parameter_shapes() -> None:
    DigitNet(dropout=0.0).load_state_dict(DigitNet(dropout=0.5).state_dict())


def test_inference_network_computes_the_same_function() -> None:
    """BatchNorm folded into the layers before it, dropout left out: the same logits, batch or not."""
    torch.manual_seed(0)
    trained = DigitNet()
    for module in trained.modules():  # statistics other than the initial 0/1, so folding is exercised
        if isinstance(module, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    trained.eval()
    fast = for_inference(trained)
    assert not any(isinstance(m, torch.nn.BatchNorm2d | torch.nn.Dropout) for m in fast.modules())
    with torch.inference_mode():
        for batch in (1, 7):
            x = torch.randn(batch, 1, 28, 28)
            torch.testing.assert_close(fast(x), trained(x), atol=1e-4, rtol=1e-4)


def test_normalize_maps_uint8_images_to_standardised_network_input() -> None:
    images = torch.zeros(1, 28, 28, dtype=torch.uint8)
    images[0, 0, 0] = 255
    x = normalize(images)
    assert x.shape == (1, 1, 28, 28)
    assert x.min().item() == pytest.approx(-MEAN / STD)
    assert x.max().item() == pytest.approx((1 - MEAN) / STD)


def test_normalize_gives_the_same_input_from_numpy_and_torch() -> None:
    """The endpoint normalises numpy pixels, training normalises tensors: the network sees the same."""
    pixels = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
    torch.testing.assert_close(normalize(pixels.numpy()), normalize(pixels))
    torch.testing.assert_close(normalize(pixels.numpy()[:, None] / 255.0), normalize(pixels.float()[:, None] / 255.0))


def test_state_dict_round_trips_with_weights_only_and_stays_small(tmp_path: Path) -> None:
    model = DigitNet().eval()
    path = tmp_path / "model.pt"
    torch.save(model.state_dict(), path)
    assert path.stat().st_size < MAX_MODEL_BYTES
    clone = DigitNet().eval()
    clone.load_state_dict(torch.load(path, weights_only=True))
    x = torch.randn(2, 1, 28, 28)
    with torch.inference_mode():
        assert torch.equal(model(x), clone(x))


def test_shipped_archive_has_the_container_layout_and_loads_with_weights_only() -> None:
    with tarfile.open(ARCHIVE) as tar:
        names = set(tar.getnames())
        assert {
            "model.pt",
            "metadata.json",
            "code/inference.py",
            "code/model/__init__.py",
            "code/model/network.py",
        } <= names
        assert not any("artifacts" in n or "__pycache__" in n for n in names)
        shim = tar.extractfile("code/inference.py").read().decode()  # type: ignore[union-attr]
        weights = tar.extractfile("model.pt").read()  # type: ignore[union-attr]
        metadata = json.loads(tar.extractfile("metadata.json").read())  # type: ignore[union-attr]
        shipped_network = tar.extractfile("code/model/network.py").read()  # type: ignore[union-attr]
    assert "from model.inference import model_fn, transform_fn" in shim
    assert len(weights) < MAX_MODEL_BYTES
    from_state_dict(torch.load(io.BytesIO(weights), weights_only=True))  # 10, 11 or 12 outputs
    assert shipped_network == (ROOT / "model" / "network.py").read_bytes()
    for key in ("version", "hyperparameters", "metrics", "architecture", "data"):
        assert key in metadata
    assert metadata["data"]["fingerprint"]
    assert json.loads((ROOT / "model" / "artifacts" / "metadata.json").read_text()) == metadata
