#!/usr/bin/env bash
# The Dockerfile's build and run steps, outside Docker: a non-editable install into a fresh venv
# from a copy holding only what the image copies, then the console script run from elsewhere
# against the embedded services (migrations must come from the installed package).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"
cp -r "$top"/{pyproject.toml,README.md,constraints.txt,app,ingest,sensors_sim,migrations} "$work/src/"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --constraint "$work/src/constraints.txt" "$work/src"
cd "$work"
"$work/venv/bin/parktwin" --help >/dev/null
urls=$(cd "$top" && "$top/.venv/bin/parktwin" services up)
env $(echo "$urls" | xargs) "$work/venv/bin/parktwin" migrate --wait 60
echo "image steps OK"
