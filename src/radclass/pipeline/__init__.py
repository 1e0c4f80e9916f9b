"""Pipelines that run the layers end to end: ``scan`` (files -> series) and ``annotate`` (series -> labels)."""
