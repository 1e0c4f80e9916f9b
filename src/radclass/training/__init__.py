"""Training (needs the ``train`` extra): labelled data, the forest, the CNNs, bundles."""
