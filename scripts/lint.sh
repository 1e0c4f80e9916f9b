#!/usr/bin/env bash
# Static checks (configuration in pyproject.toml): ruff lint and format check, mypy, import-linter contracts.
# Run by scripts/test.sh before pytest; on its own after scripts/setup.sh: `bash scripts/lint.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"  # check this tree's radclass, not an installed copy
BIN=${RADCLASS_VENV:-.venv}/bin
"$BIN/ruff" check src/radclass
"$BIN/ruff" format --check src/radclass
"$BIN/mypy"
"$BIN/lint-imports" --no-cache
