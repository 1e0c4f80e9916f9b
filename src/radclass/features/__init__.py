"""Feature layer: series -> header feature vectors (for the forest) and slice tensors (for the CNN)."""
