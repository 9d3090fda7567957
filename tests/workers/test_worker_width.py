"""LeNet's width (a conv channel multiplier) as a trial hyperparameter."""

from __future__ import annotations

import pytest
import torch

from rung.workers.models import build_model
from rung.workers.training import Hyperparameters


def test_width_scales_the_conv_channels_and_the_net_still_runs() -> None:
    narrow, wide = build_model("lenet", 10, width=0.5), build_model("lenet", 10, width=2.0)
    assert (narrow[0].out_channels, narrow[3].out_channels) == (3, 8)
    assert (wide[0].out_channels, wide[3].out_channels) == (12, 32)
    assert narrow(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_width_is_refused_where_it_means_nothing() -> None:
    with pytest.raises(ValueError, match="lenet only"):
        build_model("resnet18", 10, width=2.0)
    with pytest.raises(ValueError, match="out of range"):
        Hyperparameters.from_config({"learning_rate": 0.1, "batch_size": 32, "width": 0})


def test_configs_without_width_keep_their_trial_seed() -> None:
    plain = Hyperparameters.from_config({"learning_rate": 0.1, "batch_size": 32})
    explicit = Hyperparameters.from_config({"learning_rate": 0.1, "batch_size": 32, "width": 1.0})
    narrow = Hyperparameters.from_config({"learning_rate": 0.1, "batch_size": 32, "width": 0.5})
    assert plain.width == 1.0 and plain.seed() == explicit.seed() != narrow.seed()
    # The seed of a width-less config, as computed before width existed (sha256 of its JSON).
    assert plain.seed() == 103179402241118312
