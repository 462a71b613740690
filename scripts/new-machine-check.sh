#!/usr/bin/env bash
# CI as a machine where pixseek (and Ray) never ran sees it: a fresh clone of this checkout's
# HEAD, run with `CI=true bash .ci/run </dev/null`, with HOME, TMPDIR, the XDG folders and Ray's
# temp folder pointed at empty folders made for the run (so no earlier venv, cache, model, index
# or /tmp/ray is seen). It writes and removes nothing outside its own scratch folder.
#
#   scripts/new-machine-check.sh                 # ../shared beside the clone, as on CI
#   scripts/new-machine-check.sh --no-shared     # as a user's clone: no ../shared
#   KEEP=1 scripts/new-machine-check.sh          # keep the scratch folder afterwards
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/pixseek-new-machine.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$scratch"' EXIT
mkdir -p "$scratch/home" "$scratch/tmp" "$scratch/ray"
git clone -q "$repo" "$scratch/pixseek"
if [ "${1:-}" != "--no-shared" ] && [ -d "$repo/../shared" ]; then
  ln -s "$(cd "$repo/../shared" && pwd)" "$scratch/shared"
fi
echo "new-machine-check: running CI in $scratch/pixseek (HOME, TMPDIR, RAY_TMPDIR under $scratch)" >&2
cd "$scratch/pixseek"
env -u PIXSEEK_HOME -u PIXSEEK_INDEX -u PIXSEEK_MODELS -u PIXSEEK_MODEL -u VIRTUAL_ENV -u RAY_ADDRESS \
  HOME="$scratch/home" TMPDIR="$scratch/tmp" RAY_TMPDIR="$scratch/ray" \
  XDG_CACHE_HOME="$scratch/home/.cache" XDG_DATA_HOME="$scratch/home/.local/share" \
  XDG_CONFIG_HOME="$scratch/home/.config" CI=true \
  bash .ci/run </dev/null
