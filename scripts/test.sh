#!/usr/bin/env bash
# README command 2: set up, then run the whole test suite (real data from ../shared/data where present).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
