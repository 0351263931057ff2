#!/usr/bin/env bash
# The kiosk demo on a fresh Debian/Ubuntu machine: installs what is missing, builds, and runs the kiosk headless on
# OpenCV's Megamind.avi sample (a real face clip from Debian's opencv-doc), printing the events it sees and a summary.
# Extra arguments go to `emotion-kiosk run` (e.g. --events json, --max-frames 100).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/install-prerequisites.sh
video=/usr/share/doc/opencv-doc/examples/data/Megamind.avi
echo "==> emotion-kiosk run --source $video --headless --broker none $*"
exec node dist/cli/main.js run --source "$video" --headless --broker none --summary-json /tmp/emotion-kiosk-demo-summary.json "$@"
