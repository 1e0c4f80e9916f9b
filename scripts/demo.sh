#!/usr/bin/env bash
# README command 1: set up, then run the main job on the embedded default (a synthetic multi-series MR
# study written by the simulator, annotated with the bundled models).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
OUT=${1:-demo}
.venv/bin/radclass demo "$OUT"
