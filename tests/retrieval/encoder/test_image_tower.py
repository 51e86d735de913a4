"""The lean image tower gives the vectors of ``CLIPModel.get_image_features``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import CLIPConfig, CLIPModel

from photoseek.retrieval.encoder.image_tower import LeanImageTower, lean_image_tower


def _clip(activation: str, layers: int = 3) -> CLIPModel:
    common = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": layers, "num_attention_heads": 4}
    config = CLIPConfig(
        text_config={**common, "vocab_size": 600},
        vision_config={**common, "image_size": 32, "patch_size": 8, "hidden_act": activation},
        projection_dim=16,
    )
    torch.manual_seed(0)
    model = CLIPModel(config).eval()
    with torch.no_grad():  # wide weights, so that every token matters to the class token
        for name, parameter in model.vision_model.named_parameters():
            if "norm" not in name:
                parameter.normal_(0.0, 0.4)
    return model


@pytest.mark.parametrize("activation", ["quick_gelu", "gelu", "gelu_new"])
def test_lean_tower_gives_the_stock_features(activation: str) -> None:
    model = _clip(activation)
    pixels = torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    tower = lean_image_tower(model)
    assert isinstance(tower, LeanImageTower)
    with torch.inference_mode():
        expected = model.get_image_features(pixel_values=pixels)
        expected = getattr(expected, "pooler_output", expected)
        got = tower.get_image_features(pixel_values=pixels)
    assert got.shape == (5, 16)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5, rtol=1e-5)
    # Images differ from each other: the comparison above is not between constants.
    assert float(torch.cdist(got, got).max()) > 0.1


def test_every_token_reaches_the_class_token() -> None:
    """Changing one corner patch changes the vector: the last layer still attends to all tokens."""
    model = _clip("quick_gelu", layers=1)
    tower = lean_image_tower(model)
    assert tower is not None
    pixels = torch.zeros(2, 3, 32, 32)
    pixels[1, :, 24:, 24:] = 1.0
    with torch.inference_mode():
        vectors = tower.get_image_features(pixel_values=pixels)
    assert not torch.allclose(vectors[0], vectors[1], atol=1e-4)


def test_a_model_of_another_layout_keeps_the_stock_forward() -> None:
    assert lean_image_tower(torch.nn.Linear(4, 4)) is None
    model = _clip("quick_gelu")
    del model.vision_model.encoder.layers[1].self_attn.q_proj
    assert lean_image_tower(model) is None
