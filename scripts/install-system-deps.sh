#!/usr/bin/env bash
# Debian packages the UI tests need: a virtual X display, a real browser, a window driver, Tk; and the
# libraries OpenCV (pulled by the OCR package, opencv-python) loads: libGL, GLib.
set -euo pipefail
packages=(xvfb xdotool x11-utils chromium chromium-driver fonts-dejavu-core unzip imagemagick python3-tk libgl1 libglib2.0-0)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
