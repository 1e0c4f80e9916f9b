"""Editable label rules: regular expressions over names and ImageType plus acquisition-parameter ranges."""

from radclass.rules.engine import LabelRules, Rule

__all__ = ["LabelRules", "Rule"]
