"""Reproducible recipes: ``ct-hemorrhage`` (Desai et al. 2019 on the pool's head CT), ``liver-seg-first``
(U-Net liver segmentation, then a ResNet50 on the masked slice) and ``image-classifier`` (any labelled set).

Each ``run_*`` function writes its outputs (predictions, ``radclass evaluate`` reports, summary, model card)
into an output folder and returns a summary dict; ``radclass recipe NAME`` is the command line.
"""

from __future__ import annotations
