from __future__ import annotations

import pytest
import torch
from torch import nn

from rung.workers.models import LeNet, build_model


def test_lenet_matches_d2l_layout() -> None:
    model = build_model("lenet", 10)
    assert isinstance(model, LeNet)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    # D2L's LeNet on 1x28x28 inputs has 61,706 parameters (400 -> 120 -> 84 -> 10).
    assert sum(p.numel() for p in model.parameters()) == 61_706
    assert any(isinstance(m, nn.MaxPool2d) for m in model) and any(isinstance(m, nn.ReLU) for m in model)


def test_lenet_on_cifar_sized_images() -> None:
    model = build_model("lenet", 10, input_shape=(3, 32, 32))
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_cifar_resnet18() -> None:
    model = build_model("resnet18", 10)
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, nn.Identity)
    model.eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_unknown_model() -> None:
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        build_model("vgg", 10)
