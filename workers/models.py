"""The networks the workers train: LeNet (CPU-sized) and a CIFAR ResNet-18 (GPU-sized)."""

from __future__ import annotations

from torch import nn
from torchvision.models import resnet18

InputShape = tuple[int, int, int]
"""(channels, height, width) of one image."""


class LeNet(nn.Sequential):
    """LeNet-5 as in Dive into Deep Learning (section 7.6), modern variant.

    Same layout as the book (conv 6@5x5 pad 2, pool, conv 16@5x5, pool, dense
    120, 84, classes) but with ReLU and max-pooling instead of the 1998 sigmoid
    and average pooling: it trains several times faster at the learning rates a
    tuner explores, which is what a benchmark objective needs. The first dense
    layer is sized from ``input_shape`` so the net also takes 3x32x32 images.
    ``width`` multiplies the number of channels of both conv layers (6 and 16
    at 1.0), a capacity knob a tuner can search.
    """

    def __init__(self, num_classes: int = 10, input_shape: InputShape = (1, 28, 28), width: float = 1.0) -> None:
        if not width > 0:
            raise ValueError(f"width must be > 0, got {width}")
        channels, height, image_width = input_shape
        conv1, conv2 = max(1, round(6 * width)), max(1, round(16 * width))
        # conv pad 2 keeps the size, pool halves it, conv 5x5 drops 4, pool halves.
        flat = conv2 * ((height // 2 - 4) // 2) * ((image_width // 2 - 4) // 2)
        super().__init__(
            nn.Conv2d(channels, conv1, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2, stride=2),
            nn.Conv2d(conv1, conv2, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2, stride=2),
            nn.Flatten(),
            nn.Linear(flat, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, num_classes),
        )


def cifar_resnet18(num_classes: int = 10, in_channels: int = 3) -> nn.Module:
    """torchvision's ResNet-18 adapted to 32x32 images.

    The ImageNet stem (7x7 stride-2 conv and max-pool) shrinks a 32x32 image to
    8x8 before the first block; the usual CIFAR variant uses a 3x3 stride-1 conv
    and no max-pool instead.
    """
    model = resnet18(num_classes=num_classes)
    model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


MODELS = ("lenet", "resnet18")


def build_model(
    name: str, num_classes: int, *, input_shape: InputShape | None = None, width: float = 1.0
) -> nn.Module:
    """Build a freshly initialized model by name (``input_shape`` defaults to the model's usual data).

    ``width`` (a channel multiplier) applies to LeNet only.
    """
    if name == "lenet":
        return LeNet(num_classes, input_shape or (1, 28, 28), width)
    if width != 1.0:
        raise ValueError(f"width applies to lenet only, not {name!r}")
    if name == "resnet18":
        return cifar_resnet18(num_classes, (input_shape or (3, 32, 32))[0])
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
