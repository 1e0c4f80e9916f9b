#!/usr/bin/env bash
# README command 2: set up, run the static checks (scripts/lint.sh), then the whole test suite (real data from
# ../shared/data where present).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/lint.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
