#!/usr/bin/env bash
# The arm64 node under qemu user-mode emulation (no binfmt_misc needed):
#   scripts/arm64/node.sh <cpu model> [node arguments...]      e.g. scripts/arm64/node.sh cortex-a72 -p process.arch
# <cpu model>: a qemu -cpu name that scripts/arm64/setup-sysroot.sh made a root for (cortex-a72, cortex-a76, neoverse-n1).
# Cache: $EMOTION_KIOSK_ARM64_CACHE, default /var/cache/emotion-kiosk-arm64.
set -euo pipefail
cache="${EMOTION_KIOSK_ARM64_CACHE:-/var/cache/emotion-kiosk-arm64}"
cpu="${1:?usage: node.sh <cpu model> [node arguments...]}"
shift
root="$cache/roots/$cpu"
[ -d "$root" ] || { echo "node.sh: no root $root (scripts/arm64/setup-sysroot.sh makes it)" >&2; exit 2; }
exec qemu-aarch64-static -L "$root" -cpu "$cpu" "$cache/node/bin/node" "$@"
