"""Editable label rules: regular expressions over names and ImageType plus acquisition-parameter ranges, and the
class schemes (vocabularies with their own rules, mapped onto the default classes) they label with."""

from radclass.rules.engine import AcquisitionType, LabelRules, Rule, RulesError
from radclass.rules.scheme import DEFAULT_SCHEME, ClassScheme, SchemeClass, SchemeError, load_scheme, packaged_schemes

__all__ = [
    "DEFAULT_SCHEME",
    "AcquisitionType",
    "ClassScheme",
    "LabelRules",
    "Rule",
    "RulesError",
    "SchemeClass",
    "SchemeError",
    "load_scheme",
    "packaged_schemes",
]
