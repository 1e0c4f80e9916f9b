"""The multi-task CNN of Kasmanoff et al. 2022: a shared trunk with a sequence head and an orientation head.

Sized for a 2-core CPU: a stride-2 stem, then four conv + BN + ReLU blocks (24-128 channels) each followed
by 2x2 max-pooling, global average pooling, two linear heads. ``forward`` returns
``(sequence_logits, orientation_logits)``.
"""

from __future__ import annotations

import torch
from torch import nn


class MultiTaskCNN(nn.Module):
    def __init__(
        self,
        n_classes: int,
        n_orientations: int = 3,
        in_channels: int = 1,
        widths: tuple[int, ...] = (24, 48, 96, 128),
        dropout: float = 0.3,
    ):
        super().__init__()
        blocks: list[nn.Module] = [
            nn.Conv2d(in_channels, 16, 5, stride=2, padding=2, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(inplace=True),
        ]
        cin = 16
        for w in widths:
            blocks += [
                nn.Conv2d(cin, w, 3, padding=1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            cin = w
        self.trunk = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout))
        self.sequence_head = nn.Linear(cin, n_classes)
        self.orientation_head = nn.Linear(cin, n_orientations)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.trunk(x)
        return self.sequence_head(z), self.orientation_head(z)
