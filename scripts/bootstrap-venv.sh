#!/usr/bin/env bash
# Create the project's virtual environment and install parktwin with its development tools.
# On a fresh Debian 12 or 13 machine, as root, it first installs python3-venv when missing.
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  else
    echo "parktwin: run as root, or yourself: $*" >&2
    exit 1
  fi
}

if ! command -v "$python" >/dev/null 2>&1; then
  as_root bash -c 'apt-get update && apt-get install -y --no-install-recommends python3 python3-venv'
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "parktwin needs Python >= 3.11; $python is $("$python" -V 2>&1)" >&2
  exit 1
fi
if ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  as_root bash -c 'apt-get update && apt-get install -y --no-install-recommends python3-venv'
fi
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# The runtime dependencies at the versions constraints.txt pins (the tested ones, as the image
# installs them): a release upstream cannot change what a fresh checkout tests.
"$venv/bin/python" -m pip install --quiet --constraint constraints.txt -e '.[dev]'
