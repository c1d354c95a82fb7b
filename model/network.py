"""The digit classifier and the input normalisation it was trained with.

A compact CNN (about 1.03 M parameters, 4.1 MB as a state_dict): a 5x5 convolution (48 channels)
at full resolution, max-pooled before its BatchNorm and ReLU, then two 3x3 convolutions (96) at half
resolution with BatchNorm and ReLU, 2x2 max-pooling, and a 192-unit fully connected layer with
dropout. Training time on a CPU goes mostly to the element-wise layers, not the convolutions: pooling
the first block before its BatchNorm and ReLU gives those a quarter of the pixels, and leaving dropout
out of the convolution blocks (augmentation regularises them) saves its random masks; together they
pay for the wider layers.

Input: ``(N, 1, 28, 28)`` float tensors, MNIST-style (light digit on a dark background, pixels scaled
to [0, 1]) normalised with ``(x - MEAN) / STD``. Output: logits over the ten digits, and with
``classes=11`` an eleventh one, "not a digit" (:data:`NOT_A_DIGIT`; letters, symbols, shapes, scribbles),
and with ``classes=12`` a twelfth, "digits that touch" (:data:`TOUCHING`: two digits run into one mark,
which the service then cuts; ``training.touching``).
Plain ``torch.nn`` only, so the SageMaker inference containers (torch 2.6) load it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

#: Mean and standard deviation of the MNIST training pixels (scaled to [0, 1]).
MEAN = 0.1307
STD = 0.3081

NUM_CLASSES = 10  # the digits
NOT_A_DIGIT = 10  # the index of the "not a digit" output of an 11- or 12-class network
TOUCHING = 11  # the index of the "digits that touch" output of a 12-class network
#: The output counts a DigitNet is built with: the digits, with "not a digit", and with "digits that touch".
CLASS_COUNTS = (NUM_CLASSES, NOT_A_DIGIT + 1, TOUCHING + 1)
IMAGE_SIZE = 28


def _conv(in_channels: int, out_channels: int, kernel: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class DigitNet(nn.Module):
    """conv5x5/48-pool / conv3x3/96-conv3x3/96-pool / fc192 -> 10 (or 11, or 12) logits.

    ``dropout`` is the rate before the output layer; it does not change the parameter shapes.
    ``classes``: 10 (the digits), 11 (and "not a digit") or 12 (and "digits that touch");
    :func:`from_state_dict` builds the network a saved state_dict was trained as.
    """

    def __init__(self, dropout: float = 0.3, classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 48, 5, padding=2, bias=False),
            nn.MaxPool2d(2),  # before BatchNorm and ReLU: they work on a quarter of the pixels
            nn.BatchNorm2d(48),
            nn.ReLU(inplace=True),
            *_conv(48, 96, 3),
            *_conv(96, 96, 3),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(96 * 7 * 7, 192, bias=False),
            nn.BatchNorm1d(192),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(192, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def from_state_dict(state: dict[str, torch.Tensor]) -> DigitNet:
    """A ``DigitNet`` with ``state`` loaded, as many outputs as it was trained with (10, 11 or 12).

    Raises ``RuntimeError`` (``load_state_dict``) for the weights of another network."""
    output = state.get("classifier.5.weight")
    rows = int(output.shape[0]) if isinstance(output, torch.Tensor) and output.dim() == 2 else NUM_CLASSES
    network = DigitNet(classes=rows if rows in CLASS_COUNTS else NUM_CLASSES)
    network.load_state_dict(state)
    return network


def for_inference(network: DigitNet) -> nn.Sequential:
    """The same function as ``network`` in eval mode, faster for a single image on a CPU.

    Each BatchNorm is folded into the convolution or linear layer before it, the one after the first
    max-pooling too when all its scales are positive (a positive affine map commutes with a maximum;
    else it stays), and dropout (a no-op in eval mode) is left out. The weights are stored channels-last,
    which lets oneDNN run the convolutions in a layout it is fast at (timings: ``bench.model_bench``).
    Outputs agree to ~1e-6. Torch 2.6 API.
    """
    network = network.eval()
    layers: list[nn.Module] = []
    for layer in [*network.features, *network.classifier]:
        if isinstance(layer, nn.BatchNorm2d) and isinstance(layers[-1], nn.MaxPool2d) and _positive(layer):
            pool = layers.pop()
            layers += [fuse_conv_bn_eval(layers.pop(), layer), pool]
        elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)) and isinstance(layers[-1], (nn.Conv2d, nn.Linear)):
            previous = layers.pop()
            fuse = fuse_conv_bn_eval if isinstance(previous, nn.Conv2d) else fuse_linear_bn_eval
            layers.append(fuse(previous, layer))
        elif not isinstance(layer, nn.Dropout):
            layers.append(layer)
    return nn.Sequential(*layers).eval().to(memory_format=torch.channels_last)


def _positive(norm: nn.BatchNorm2d) -> bool:
    """Whether every channel's scale, weight / sqrt(running variance + eps), is positive: the weight's sign."""
    return bool((norm.weight > 0).all())


def normalize(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8 ``(N, 28, 28)`` or ``(N, 1, 28, 28)`` images (or floats in [0, 1]) -> normalised network input.

    A numpy array (the inference path) is normalised by numpy in one expression: on a CPU shared with
    other work, each tensor operation of a single-image request costs tens of microseconds.
    """
    if isinstance(images, np.ndarray):
        scale = 1.0 / 255.0 if images.dtype == np.uint8 else 1.0
        x = torch.from_numpy(images.astype(np.float32) * np.float32(scale / STD) - np.float32(MEAN / STD))
    else:
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        x = (x - MEAN) / STD
    return x.unsqueeze(1) if x.dim() == 3 else x
