#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages emotion-kiosk needs that are not there yet (apt-get), then the npm
# dependencies (npm ci, which builds the OpenCV add-on against the system OpenCV) and the TypeScript build.
#   --with-test-tools   also what the test suite uses (mosquitto, Xvfb, tmux, shellcheck, mtools, ...)
#   --no-npm            only the OS packages
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

with_tests=0
with_npm=1
for arg in "$@"; do
  case "$arg" in
    --with-test-tools) with_tests=1 ;;
    --no-npm) with_npm=0 ;;
    *) echo "install-prerequisites: unknown option $arg" >&2; exit 2 ;;
  esac
done

# OpenCV: every -dev package whose headers Debian's opencv_modules.hpp promises (the add-on includes them all).
runtime_pkgs=(
  g++ make python3 pkg-config
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libopencv-videoio-dev libopencv-highgui-dev
  libopencv-objdetect-dev libopencv-calib3d-dev libopencv-dnn-dev libopencv-features2d-dev libopencv-photo-dev
  libopencv-video-dev libopencv-ml-dev libopencv-contrib-dev
  opencv-data opencv-doc
)
test_pkgs=(xz-utils mosquitto mosquitto-clients xvfb xauth x11-apps x11-utils xdotool cage xwayland grim imagemagick gstreamer1.0-tools gstreamer1.0-plugins-base tmux shellcheck mtools dosfstools fdisk openssl systemd debootstrap qemu-user-static fusefat)

wanted=("${runtime_pkgs[@]}")
[ "$with_tests" = 1 ] && wanted+=("${test_pkgs[@]}")

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${#missing[@]} Debian packages: ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "need root (or sudo) to apt-get install: ${missing[*]}" >&2; exit 1; }
    sudo_cmd=(sudo)
  fi
  "${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=900 update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}"
else
  echo "==> Debian packages: all present"
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none)). See README: Provision a device." >&2
  exit 1
fi

if [ "$with_npm" = 1 ]; then
  # The project's .npmrc makes the install scripts build OpenCV's add-on against the system OpenCV (no download)
  # and keep onnxruntime-node's bundled CPU binaries.
  stamp=node_modules/.package-lock.json
  if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ ! -f node_modules/@u4/opencv4nodejs/build/Release/opencv4nodejs.node ]; then
    echo "==> npm ci (compiles the OpenCV add-on: a few minutes)"
    npm ci --no-audit --no-fund
  else
    echo "==> npm dependencies: up to date"
  fi
  echo "==> npm run build"
  npm run build --silent
fi
