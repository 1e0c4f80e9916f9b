#!/usr/bin/env bash
# Set up what radclass needs on a fresh machine (idempotent): a virtual environment with the package and
# its extras, plus the Debian tools the tests drive (dcmtk, dicom3tools' dciodvfy, dcm2niix, Orthanc, Chromium)
# when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
EXTRAS=${RADCLASS_EXTRAS:-all}
stamp=".venv/.radclass-installed-$(sha1sum pyproject.toml | cut -c1-12)-$EXTRAS"
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q -e ".[$EXTRAS]"
  touch "$stamp"
fi
if [ "${RADCLASS_SKIP_APT:-0}" != "1" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  missing=()
  for pair in storescu:dcmtk dciodvfy:dicom3tools dcm2niix:dcm2niix Orthanc:orthanc chromium:chromium \
      chromedriver:chromium-driver; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
