"""The VGG-like CNN of Ranjbar et al. 2019 (MRI sequence classification on 128x128 slices)."""

from __future__ import annotations

import torch
from torch import nn


def _conv(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class RanjbarVGG(nn.Module):
    """Six 3x3 conv layers (32, 32, 64, 64, 128, 128; BN + ReLU), 3x3/2 max-pool after each pair,
    dense 256 + dropout 0.7 + class logits (softmax is applied by the loss / at inference).
    Weights use Xavier-normal initialisation as in the paper."""

    def __init__(self, n_classes: int, in_channels: int = 1, input_size: int = 128, dropout: float = 0.7):
        super().__init__()
        layers: list[nn.Module] = []
        for cin, cout in ((in_channels, 32), (32, 64), (64, 128)):
            layers += _conv(cin, cout) + _conv(cout, cout) + [nn.MaxPool2d(3, stride=2, padding=1)]
        self.features = nn.Sequential(*layers)
        side = input_size // 8
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(128 * side * side, 256),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(256, n_classes),
        )
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
