#!/usr/bin/env bash
# Set up what radclass needs on a fresh machine (idempotent): a virtual environment with the package and
# its extras, plus the Debian tools the tests drive (dcmtk, dicom3tools' dciodvfy, dcm2niix, Orthanc, Chromium)
# and gcc (the C extension) when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian tools first: gcc builds the package's C extension (src/radclass/io/_walk.c) during pip install.
if [ "${RADCLASS_SKIP_APT:-0}" != "1" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  missing=()
  for pair in gcc:gcc storescu:dcmtk dciodvfy:dicom3tools dcm2niix:dcm2niix Orthanc:orthanc chromium:chromium \
      chromedriver:chromium-driver; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
EXTRAS=${RADCLASS_EXTRAS:-all}
# re-install (and rebuild the C extension) when pyproject.toml or the extension's source changes
stamp=".venv/.radclass-installed-$(cat pyproject.toml src/radclass/io/_walk.c | sha1sum | cut -c1-12)-$EXTRAS"
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q -e ".[$EXTRAS]"
  touch "$stamp"
fi
