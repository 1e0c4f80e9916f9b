"""Which body region a series images, so that non-brain MR is not forced into the brain classes.

    vocabulary  Anatomy / AnatomySource enums and the AnatomyDecision of one series
    rules       editable TOML rules: Body Part Examined values and description regexes (rules/anatomy.toml)
    shape       the pixel fallback: is the foreground head-shaped, measured in millimetres
    gate        header -> rules -> pixels, one AnatomyDecision per series

Only the vocabulary is imported here; import the other modules where they are needed.
"""

from radclass.anatomy.vocabulary import Anatomy, AnatomyDecision, AnatomySource

__all__ = ["Anatomy", "AnatomyDecision", "AnatomySource"]
