#!/usr/bin/env bash
# emotion-kiosk device setup: turns a Raspberry Pi (Raspberry Pi OS Bookworm/Bullseye/Trixie, 64-bit), an NVIDIA
# Jetson (JetPack / Ubuntu L4T) or another 64-bit Debian-like machine into a kiosk. Run as root, on the device:
#
#   sudo ./device/setup.sh --bundle emotion-kiosk-<version>.tar.gz [--broker mqtt://host:1883]
#
# Idempotent: a second run changes nothing and says so. --dry-run prints every action without doing it.
# --uninstall removes what it added, keeping the config (/etc/emotion-kiosk) and data (/var/lib/emotion-kiosk)
# unless --purge is given. --rollback switches back to the previously installed release.
set -Eeuo pipefail
shopt -s nullglob

readonly APP=emotion-kiosk
PREFIX=/opt/emotion-kiosk
CONF_DIR=/etc/emotion-kiosk
DATA_DIR=/var/lib/emotion-kiosk
SVC_USER=emotion-kiosk
UNIT_DIR=/etc/systemd/system
BIN_LINK=/usr/local/bin/emotion-kiosk
readonly NODE_MIN_MAJOR=20
readonly NODESOURCE_MAJOR=22
readonly KEEP_RELEASES=3
# The OpenCV -dev packages whose headers Debian's opencv_modules.hpp promises, plus the build tools the
# native addon (@u4/opencv4nodejs, built on the device against the device's OpenCV) needs.
readonly OPENCV_PACKAGES=(libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libopencv-videoio-dev
  libopencv-highgui-dev libopencv-objdetect-dev libopencv-calib3d-dev libopencv-dnn-dev libopencv-features2d-dev
  libopencv-photo-dev libopencv-video-dev libopencv-ml-dev libopencv-contrib-dev)
readonly BUILD_PACKAGES=(build-essential python3 ca-certificates)
# --kiosk display: the compositor and what the kiosk window needs in it.
readonly DISPLAY_PACKAGES=(cage xwayland x11-utils procps seatd)

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)

DRY_RUN=0
MODE=install
PURGE=0
BUNDLE=""
SOURCE_DIR=""
BROKER=""
CAMERA=""
SEED=""
MODEL_KEY=""
KIOSK=""
WITH_MOSQUITTO=""
START=1
PLATFORM_OVERRIDE=""
CHANGES=0
REBOOT_NEEDED=0
WORK=""

usage() {
  cat <<EOF
Usage: sudo $0 [options]

Install or update:
  --bundle FILE        release bundle (.tar.gz from 'npm run bundle'); default: the app this script sits in
  --source DIR         install from an unpacked bundle or a built checkout (has package.json and dist/)
  --broker URL         MQTT broker for a new config: mqtt://host:1883, mqtts://..., embedded or none
  --camera SOURCE      camera for a new config (default per platform: rpicam / Jetson CSI pipeline / 0)
  --config-seed FILE   YAML with settings for a new config (flash.sh puts one on the boot partition)
  --model-key FILE     the fleet's Ed25519 public key (emotion-kiosk fleet keygen): installed as
                       $CONF_DIR/model-key.pub; remote model updates must be signed by its private key
  --with-mosquitto     also install and enable a local mosquitto broker (and use it for a new config)
  --kiosk MODE         what the attached screen shows; remembered for later runs:
                       headless (default): nothing (a login prompt)
                       dashboard: the kiosk's terminal dashboard on tty1
                       display: the camera view full screen (faces boxed with emotion and confidence, fps), no
                       desktop: the kiosk inside cage, a Wayland kiosk compositor (installs cage, xwayland)
  --no-start           install and enable, but do not (re)start the service
  --platform NAME      pi | jetson | generic: skip detection (for testing on another machine)
Other modes:
  --dry-run            print every action without doing it
  --rollback           switch back to the previously installed release and restart
  --uninstall          remove the service, app, user and links; keep config and data
  --purge              with --uninstall: also delete $CONF_DIR and $DATA_DIR (events not yet sent are lost)
  -h, --help           this text
Existing config values are never overwritten: only keys new in this release are added.
EOF
}

die() {
  printf '%s: error: %s\n' "$APP-setup" "$*" >&2
  exit 1
}
say() { printf '%s\n' "$*"; }
ok() { printf '  ok      %s\n' "$*"; }
note() { printf '  note    %s\n' "$*"; }
warn() { printf '  warning %s\n' "$*" >&2; }
step() { printf '\n== %s\n' "$*"; }

# Records and prints a change; in dry-run mode only prints what would change.
change() {
  CHANGES=$((CHANGES + 1))
  if ((DRY_RUN)); then printf '  would   %s\n' "$*"; else printf '  change  %s\n' "$*"; fi
}

# Runs a command, or prints it in dry-run mode.
run() {
  if ((DRY_RUN)); then
    printf '  [dry-run]'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

cleanup() {
  if [[ -n $WORK && -d $WORK ]]; then rm -rf -- "$WORK"; fi
}
trap cleanup EXIT
trap 'die "failed at line $LINENO: $BASH_COMMAND (nothing after this step was done; fix the cause and run again: finished steps are skipped)"' ERR

parse_args() {
  while (($#)); do
    case $1 in
      --bundle) BUNDLE=${2:?--bundle needs a file}; shift ;;
      --source) SOURCE_DIR=${2:?--source needs a directory}; shift ;;
      --broker) BROKER=${2:?--broker needs a URL}; shift ;;
      --camera) CAMERA=${2:?--camera needs a source}; shift ;;
      --config-seed) SEED=${2:?--config-seed needs a file}; shift ;;
      --model-key) MODEL_KEY=${2:?--model-key needs the public key file of emotion-kiosk fleet keygen}; shift ;;
      --with-mosquitto) WITH_MOSQUITTO=1 ;;
      --kiosk) KIOSK=${2:?--kiosk needs headless, dashboard or display}; shift ;;
      --no-start) START=0 ;;
      --platform) PLATFORM_OVERRIDE=${2:?--platform needs pi, jetson or generic}; shift ;;
      --dry-run) DRY_RUN=1 ;;
      --rollback) MODE=rollback ;;
      --uninstall) MODE=uninstall ;;
      --purge) PURGE=1 ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
  done
  case $KIOSK in "" | headless | dashboard | display) ;; *) die "--kiosk must be headless, dashboard or display, not '$KIOSK'" ;; esac
  if [[ -n $BROKER && ! $BROKER =~ ^(embedded|none|mqtts?://.+|wss?://.+)$ ]]; then
    die "--broker '$BROKER' is not mqtt://host:port, mqtts://host:port, embedded or none"
  fi
  if ((PURGE)) && [[ $MODE != uninstall ]]; then die "--purge only goes with --uninstall"; fi
  if [[ -n $SEED && ! -r $SEED ]]; then die "--config-seed $SEED: no such readable file"; fi
  if [[ -n $BUNDLE && -n $SOURCE_DIR ]]; then die "give --bundle or --source, not both"; fi
}

require_root() {
  if ((EUID != 0)) && ! ((DRY_RUN)); then
    die "run as root: sudo $0 $* (or add --dry-run to see what it would do)"
  fi
}

systemd_running() { [[ -d /run/systemd/system ]]; }

pkg_installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }

# ---------------------------------------------------------------------------------------------------------------
# Platform
# ---------------------------------------------------------------------------------------------------------------
PLATFORM=generic
MODEL=""
OS_ID=""
OS_CODENAME=""
DPKG_ARCH=""
BOOT_CONFIG=""

detect_platform() {
  step "Platform"
  DPKG_ARCH=$(dpkg --print-architecture 2>/dev/null || true)
  [[ -n $DPKG_ARCH ]] || die "dpkg not found: this script supports Debian-based systems (Raspberry Pi OS, Ubuntu/JetPack, Debian)"
  if [[ -r /etc/os-release ]]; then
    # shellcheck disable=SC1091
    OS_ID=$(. /etc/os-release && printf '%s' "${ID:-}")
    # shellcheck disable=SC1091
    OS_CODENAME=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
  fi
  case $DPKG_ARCH in
    arm64 | amd64) ;;
    armhf | armel | i386)
      die "this is a 32-bit OS ($DPKG_ARCH userland, kernel $(uname -m)). onnxruntime-node has no 32-bit build, so the kiosk cannot run here. Flash a 64-bit OS (Raspberry Pi OS (64-bit), JetPack) and run this again." ;;
    *) die "unsupported architecture $DPKG_ARCH: the kiosk needs arm64 (Raspberry Pi 4/5, Jetson) or amd64" ;;
  esac
  if [[ -r /proc/device-tree/model ]]; then MODEL=$(tr -d '\0' </proc/device-tree/model); fi
  if [[ -n $PLATFORM_OVERRIDE ]]; then
    PLATFORM=$PLATFORM_OVERRIDE
  elif [[ $MODEL == *"Raspberry Pi"* ]]; then
    PLATFORM=pi
  elif [[ -e /etc/nv_tegra_release || $MODEL == *Jetson* ]]; then
    PLATFORM=jetson
  fi
  case $PLATFORM in pi | jetson | generic) ;; *) die "--platform must be pi, jetson or generic" ;; esac
  if [[ $PLATFORM == pi ]]; then
    if [[ -f /boot/firmware/config.txt ]]; then BOOT_CONFIG=/boot/firmware/config.txt
    elif [[ -f /boot/config.txt ]]; then BOOT_CONFIG=/boot/config.txt; fi
  fi
  ok "$PLATFORM${MODEL:+ ($MODEL)}, ${OS_ID:-unknown OS} ${OS_CODENAME:-}, $DPKG_ARCH"
}

# ---------------------------------------------------------------------------------------------------------------
# Packages: OpenCV for the native addon, build tools, Node.js >= 20, camera tools, optional mosquitto
# ---------------------------------------------------------------------------------------------------------------
APT_UPDATED=0
apt_update_once() {
  if ((APT_UPDATED == 0)); then
    run env DEBIAN_FRONTEND=noninteractive apt-get update -q
    APT_UPDATED=1
  fi
}

apt_install() {
  apt_update_once
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

candidate_available() { [[ -n $(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ && $2 != "(none)" {print $2}') ]]; }

opencv_present() { [[ -f /usr/include/opencv4/opencv2/core.hpp ]] && compgen -G '/usr/lib/*-linux-gnu/libopencv_core.so' >/dev/null; }

install_packages() {
  step "System packages"
  local wanted=("${BUILD_PACKAGES[@]}") missing=() p
  if [[ $PLATFORM == jetson ]] && opencv_present && ! pkg_installed libopencv-core-dev; then
    # JetPack ships its own OpenCV (with GStreamer, for nvarguscamerasrc); Ubuntu's -dev packages would conflict.
    ok "JetPack's OpenCV found in /usr/include/opencv4: using it"
  else
    wanted+=("${OPENCV_PACKAGES[@]}")
  fi
  if [[ $PLATFORM == pi ]]; then
    # Camera module tools: rpicam-apps on Bookworm and later, libcamera-apps on Bullseye.
    if candidate_available rpicam-apps-lite || pkg_installed rpicam-apps-lite || pkg_installed rpicam-apps; then
      pkg_installed rpicam-apps || wanted+=(rpicam-apps-lite)
    elif candidate_available libcamera-apps-lite || pkg_installed libcamera-apps; then
      pkg_installed libcamera-apps || wanted+=(libcamera-apps-lite)
    else
      warn "neither rpicam-apps nor libcamera-apps is in apt: the camera module (source: rpicam) will not work; a USB camera (source: 0) will"
    fi
  fi
  if ((WITH_MOSQUITTO)); then wanted+=(mosquitto); fi
  if [[ $KIOSK == display ]]; then
    # cage: the kiosk compositor; xwayland: the OpenCV window (Qt or GTK) reaches it through X; x11-utils: the
    # kiosk reads the screen size with xdpyinfo to fill it; procps: the unit's ExecStop (pkill, pgrep); seatd: gives
    # cage the screen and input devices (its socket is for the video group, which the service user is in).
    for p in "${DISPLAY_PACKAGES[@]}"; do
      pkg_installed "$p" || candidate_available "$p" ||
        die "--kiosk display needs the package $p, which this OS's apt sources do not have (Debian 12+, Raspberry Pi OS Bookworm+ and Ubuntu 22.04+ universe do): add them, or use --kiosk dashboard"
    done
    wanted+=("${DISPLAY_PACKAGES[@]}")
  fi
  for p in "${wanted[@]}"; do pkg_installed "$p" || missing+=("$p"); done
  if ((${#missing[@]} == 0)); then
    ok "all ${#wanted[@]} packages installed"
  else
    change "install ${missing[*]}"
    apt_install "${missing[@]}"
  fi
}

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

install_node() {
  step "Node.js (>= $NODE_MIN_MAJOR)"
  local node major cand
  node=$(command -v node || true)
  if [[ -n $node ]]; then
    major=$(node_major "$node")
    if ((major >= NODE_MIN_MAJOR)); then
      command -v npm >/dev/null || die "Node.js $("$node" -v) is at $node but npm is missing: install npm for it (it comes with NodeSource's nodejs package and with Node's official tarball)"
      ok "Node.js $("$node" -v) at $node, npm $(npm -v)"
      return
    fi
    note "Node.js $("$node" -v) at $node is too old (onnxruntime-node and the app need >= $NODE_MIN_MAJOR)"
  fi
  cand=$(apt-cache policy nodejs 2>/dev/null | awk '/Candidate:/ {print $2}')
  cand=${cand#*:}
  if [[ -n $cand && $cand != "(none)" && ${cand%%.*} -ge $NODE_MIN_MAJOR ]]; then
    change "install nodejs $cand, npm and its headers (libnode-dev, for the OpenCV addon) from the OS"
    apt_install nodejs npm libnode-dev
    return
  fi
  # The OS's nodejs is too old (Debian 12: 18, Ubuntu 22.04: 12): NodeSource's apt repository.
  change "add NodeSource's apt repository (node_$NODESOURCE_MAJOR.x) and install nodejs"
  apt_install ca-certificates curl gnupg
  if ((DRY_RUN)); then
    run sh -c "curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor -o /usr/share/keyrings/nodesource.gpg"
  else
    curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor --yes -o /usr/share/keyrings/nodesource.gpg ||
      die "could not fetch NodeSource's signing key (no internet?). Install Node.js >= $NODE_MIN_MAJOR yourself (https://nodejs.org) and run this again"
  fi
  if ! ((DRY_RUN)); then
    cat >/etc/apt/sources.list.d/nodesource.sources <<EOF
Types: deb
URIs: https://deb.nodesource.com/node_$NODESOURCE_MAJOR.x
Suites: nodistro
Components: main
Signed-By: /usr/share/keyrings/nodesource.gpg
EOF
  fi
  APT_UPDATED=0
  apt_install nodejs
}

# ---------------------------------------------------------------------------------------------------------------
# Service user
# ---------------------------------------------------------------------------------------------------------------
ensure_user() {
  step "Service user $SVC_USER"
  if id -u "$SVC_USER" >/dev/null 2>&1; then
    ok "user $SVC_USER exists (uid $(id -u "$SVC_USER"))"
  else
    change "create system user $SVC_USER (no login, home $DATA_DIR)"
    run useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home --shell /usr/sbin/nologin \
      --comment "emotion-kiosk service" "$SVC_USER"
  fi
  local g why groups=(video)
  # --kiosk display: the unit's drop-in names render (DRM render nodes) and input (keyboard, touch screen); systemd
  # refuses to start a unit whose SupplementaryGroups= do not exist.
  if [[ $KIOSK == display ]]; then groups+=(render input); elif getent group render >/dev/null; then groups+=(render); fi
  for g in "${groups[@]}"; do
    case $g in video) why="camera and screen access" ;; render) why="GPU render nodes" ;; input) why="keyboard and touch screen" ;; esac
    getent group "$g" >/dev/null || { change "create group $g"; run groupadd --system "$g"; }
    if id -nG "$SVC_USER" 2>/dev/null | tr ' ' '\n' | grep -qx "$g"; then
      ok "$SVC_USER is in group $g"
    else
      change "add $SVC_USER to group $g ($why)"
      run usermod -aG "$g" "$SVC_USER"
    fi
  done
}

# ---------------------------------------------------------------------------------------------------------------
# The app: /opt/emotion-kiosk/releases/<id>, /opt/emotion-kiosk/current -> the active one
# ---------------------------------------------------------------------------------------------------------------
APP_SRC=""
RELEASE_ID=""
# What a release consists of (the bundle's content; a checkout's .git, node_modules, src are not copied).
readonly APP_ITEMS=(dist device models haarcascades package.json package-lock.json .npmrc BUNDLE_ID README.md LICENSE)
APP_CHANGED=0

resolve_source() {
  if [[ -n $BUNDLE ]]; then
    [[ -r $BUNDLE ]] || die "bundle $BUNDLE: no such readable file"
    WORK=$(mktemp -d /tmp/emotion-kiosk-setup.XXXXXX)
    tar -xzf "$BUNDLE" -C "$WORK" || die "bundle $BUNDLE is not a readable .tar.gz (truncated download?): make it again with 'npm run bundle'"
    local top=("$WORK"/*)
    if ((${#top[@]} == 1)) && [[ -d ${top[0]} ]]; then APP_SRC=${top[0]}; else APP_SRC=$WORK; fi
  elif [[ -n $SOURCE_DIR ]]; then
    APP_SRC=$(cd -- "$SOURCE_DIR" && pwd) || die "--source $SOURCE_DIR: no such directory"
  else
    APP_SRC=$(cd -- "$SCRIPT_DIR/.." && pwd)
  fi
  [[ -f $APP_SRC/package.json && -f $APP_SRC/package-lock.json ]] ||
    die "$APP_SRC has no package.json/package-lock.json: pass --bundle FILE (made by 'npm run bundle') or --source DIR"
  [[ -f $APP_SRC/dist/cli/main.js ]] ||
    die "$APP_SRC/dist/cli/main.js is missing: the app is not built. Use a bundle from 'npm run bundle', or run 'npm run build' in the checkout first"
  if [[ -f $APP_SRC/BUNDLE_ID ]]; then
    RELEASE_ID=$(tr -cd 'A-Za-z0-9._+-' <"$APP_SRC/BUNDLE_ID")
  else
    # A checkout: identify it by the content of what gets installed.
    local version item items=() hash
    version=$(grep -o '"version": *"[^"]*"' "$APP_SRC/package.json" | head -n1 | sed 's/.*"\([^"]*\)"$/\1/')
    for item in "${APP_ITEMS[@]}"; do [[ -e $APP_SRC/$item ]] && items+=("$item"); done
    hash=$(cd "$APP_SRC" && find "${items[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
    RELEASE_ID="${version:-0}-$hash"
  fi
  [[ -n $RELEASE_ID ]] || die "could not determine the release id of $APP_SRC"
}

install_app() {
  step "App release $RELEASE_ID in $PREFIX"
  local rel=$PREFIX/releases/$RELEASE_ID
  if [[ -f $rel/.complete ]]; then
    ok "release $RELEASE_ID already installed"
  else
    change "install release $RELEASE_ID into $rel (npm ci --omit=dev builds the OpenCV addon against this device's OpenCV: takes minutes)"
    run mkdir -p "$PREFIX/releases"
    run rm -rf "$rel.partial"
    run mkdir -p "$rel.partial"
    local item
    for item in "${APP_ITEMS[@]}"; do
      [[ -e $APP_SRC/$item ]] && run cp -a "$APP_SRC/$item" "$rel.partial/"
    done
    # Install scripts: OPENCV4NODEJS_DISABLE_AUTOBUILD (build against the OS's OpenCV) and
    # ONNXRUNTIME_NODE_INSTALL=skip come from the bundle's .npmrc. The optional training-only
    # @tensorflow/tfjs-node is left out (its install would download libtensorflow).
    local npm_args=(ci --omit=dev --omit=optional --no-audit --no-fund)
    if [[ -d $APP_SRC/npm-cache ]]; then
      npm_args+=(--offline --cache "$APP_SRC/npm-cache")
      note "installing offline from the bundle's npm cache"
    fi
    # node-gyp compiles against Node's own headers (<prefix>/include/node); pointing it there keeps it from
    # trying to download them.
    local node_prefix
    node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
    if [[ ! -f $node_prefix/include/node/node_version.h ]] && ! ((DRY_RUN)); then
      die "Node.js headers are missing ($node_prefix/include/node): the OpenCV addon cannot be compiled. NodeSource's nodejs package and the official tarball include them; with the OS's nodejs install libnode-dev"
    fi
    if ((DRY_RUN)); then
      run npm "${npm_args[@]}"
    else
      (cd "$rel.partial" && OPENCV4NODEJS_DISABLE_AUTOBUILD=1 ONNXRUNTIME_NODE_INSTALL=skip npm_config_nodedir=$node_prefix npm "${npm_args[@]}") ||
        die "npm ci failed in $rel.partial (see above). Missing OpenCV headers or build tools? Rerun this script; it installs them"
      chmod 0755 "$rel.partial/dist/cli/main.js"
      date -u +%Y-%m-%dT%H:%M:%SZ >"$rel.partial/.complete"
      mv -T "$rel.partial" "$rel"
    fi
    APP_CHANGED=1
  fi
  local current=""
  [[ -L $PREFIX/current ]] && current=$(readlink "$PREFIX/current")
  if [[ $current == "releases/$RELEASE_ID" ]]; then
    ok "$PREFIX/current -> releases/$RELEASE_ID"
  else
    change "point $PREFIX/current at releases/$RELEASE_ID${current:+ (was $current; roll back with --rollback)}"
    run ln -sfn "releases/$RELEASE_ID" "$PREFIX/current.new"
    run mv -T "$PREFIX/current.new" "$PREFIX/current"
    if [[ -n $current ]]; then
      if ((DRY_RUN)); then run sh -c "echo ${current#releases/} > $PREFIX/previous"; else printf '%s\n' "${current#releases/}" >"$PREFIX/previous"; fi
    fi
    APP_CHANGED=1
  fi
  if [[ -L $BIN_LINK && $(readlink "$BIN_LINK") == "$PREFIX/current/dist/cli/main.js" ]]; then
    ok "$BIN_LINK"
  else
    change "link $BIN_LINK -> $PREFIX/current/dist/cli/main.js"
    run mkdir -p "$(dirname "$BIN_LINK")"
    run ln -sfn "$PREFIX/current/dist/cli/main.js" "$BIN_LINK"
  fi
  prune_releases
}

# Keeps the newest KEEP_RELEASES releases, never the current or previous one.
prune_releases() {
  local keep_cur keep_prev r n=0
  keep_cur=$(readlink "$PREFIX/current" 2>/dev/null || true)
  keep_prev=$(cat "$PREFIX/previous" 2>/dev/null || true)
  [[ -d $PREFIX/releases ]] || return 0
  while IFS= read -r r; do
    [[ -n $r ]] || continue
    n=$((n + 1))
    if ((n > KEEP_RELEASES)) && [[ releases/$r != "$keep_cur" && $r != "$keep_prev" ]]; then
      change "remove old release $r (keeping $KEEP_RELEASES)"
      run rm -rf "${PREFIX:?}/releases/$r"
    fi
  done < <(cd "$PREFIX/releases" && for d in */.complete; do printf '%s %s\n' "$(cat "$d")" "${d%/.complete}"; done | sort -r | cut -d' ' -f2)
}

# ---------------------------------------------------------------------------------------------------------------
# Install choices (--kiosk, --with-mosquitto) are remembered in $CONF_DIR/setup.conf, so that an update run
# without them keeps what the first run set up.
# ---------------------------------------------------------------------------------------------------------------
load_choices() {
  local f=$CONF_DIR/setup.conf key value
  if [[ -r $f ]]; then
    while IFS='=' read -r key value; do
      case $key in
        kiosk) [[ -z $KIOSK && $value =~ ^(headless|dashboard|display)$ ]] && KIOSK=$value ;;
        with_mosquitto) [[ -z $WITH_MOSQUITTO && $value =~ ^[01]$ ]] && WITH_MOSQUITTO=$value ;;
      esac
    done <"$f"
  fi
  KIOSK=${KIOSK:-headless}
  WITH_MOSQUITTO=${WITH_MOSQUITTO:-0}
}

save_choices() {
  local want
  want=$(printf '# emotion-kiosk setup.sh choices, reused by later runs (edit, or pass the options again)
kiosk=%s
with_mosquitto=%s
' "$KIOSK" "$WITH_MOSQUITTO")
  if [[ -f $CONF_DIR/setup.conf && $(cat "$CONF_DIR/setup.conf") == "$want" ]]; then
    ok "choices kept in $CONF_DIR/setup.conf (kiosk=$KIOSK, with_mosquitto=$WITH_MOSQUITTO)"
  else
    change "remember kiosk=$KIOSK with_mosquitto=$WITH_MOSQUITTO in $CONF_DIR/setup.conf"
    if ! ((DRY_RUN)); then printf '%s\n' "$want" >"$CONF_DIR/setup.conf"; fi
  fi
}

# ---------------------------------------------------------------------------------------------------------------
# Config and data
# ---------------------------------------------------------------------------------------------------------------
# A source or broker URL safe to print (setup.sh's output lands in logs, firstboot.log on the boot partition among
# them): everything between scheme:// and the last @ masked, since a password may hold @, :, # or spaces.
masked() {
  if [[ $1 =~ ^([A-Za-z][A-Za-z0-9+.-]*://)(.*)@([^@]*)$ ]]; then
    printf '%s***@%s' "${BASH_REMATCH[1]}" "${BASH_REMATCH[3]}"
  else
    printf '%s' "$1"
  fi
}

default_camera() {
  case $PLATFORM in
    pi) echo rpicam ;;
    jetson) echo 'nvarguscamerasrc sensor-id=0 ! video/x-raw(memory:NVMM), width=1280, height=720, framerate=30/1 ! nvvidconv flip-method=0 ! video/x-raw, width=640, height=480, format=BGRx ! videoconvert ! video/x-raw, format=BGR ! appsink drop=true max-buffers=1' ;;
    *) echo 0 ;;
  esac
}

# The fleet's public key for signed model updates: checked to be an Ed25519 public key (never a private one), then
# installed readable by the service only.
install_model_key() {
  [[ -f $MODEL_KEY ]] || die "--model-key $MODEL_KEY: no such file (make one with: emotion-kiosk fleet keygen)"
  local kind
  kind=$(node -e 'const c=require("node:crypto"),fs=require("node:fs");const t=fs.readFileSync(process.argv[1],"utf8");if(/PRIVATE KEY/.test(t)){console.log("private");process.exit(0)}try{console.log(c.createPublicKey(t).asymmetricKeyType)}catch{console.log("none")}' "$MODEL_KEY") ||
    die "--model-key $MODEL_KEY: cannot read it with node"
  case $kind in
    ed25519) ;;
    private) die "--model-key $MODEL_KEY is a PRIVATE key: give the device the .pub file; the private key stays on the operator's machine" ;;
    none) die "--model-key $MODEL_KEY is not a PEM public key (expected the .pub file of emotion-kiosk fleet keygen)" ;;
    *) die "--model-key $MODEL_KEY is a $kind key; model signatures are Ed25519 (emotion-kiosk fleet keygen)" ;;
  esac
  if [[ -f $CONF_DIR/model-key.pub ]] && cmp -s "$MODEL_KEY" "$CONF_DIR/model-key.pub"; then
    ok "model key $CONF_DIR/model-key.pub up to date"
  else
    change "install the fleet's model key as $CONF_DIR/model-key.pub (root:$SVC_USER 0640)"
    run install -m 0640 -o root -g "$SVC_USER" "$MODEL_KEY" "$CONF_DIR/model-key.pub"
  fi
}

write_config() {
  step "Config $CONF_DIR/config.yaml"
  local app=$PREFIX/current merge out line broker=$BROKER
  if ((WITH_MOSQUITTO)) && [[ -z $broker ]]; then broker=mqtt://localhost:1883; fi
  if ((DRY_RUN)) && [[ ! -f $app/device/lib/config-merge.mjs ]]; then app=$APP_SRC; fi
  merge=$app/device/lib/config-merge.mjs
  # --set-string: the camera, path and URL exactly as given (`0` stays the string "0", ` #` is not a comment).
  local args=(--target "$CONF_DIR/config.yaml" --template "$app/device/config.template.yaml"
    --set-string "source=${CAMERA:-$(default_camera)}" --set-string "dataDir=$DATA_DIR")
  [[ -n $broker ]] && args+=(--set-string "mqtt.broker=$broker")
  [[ -n $SEED ]] && args+=(--seed "$SEED")
  if [[ ! -d $CONF_DIR ]]; then
    change "create $CONF_DIR (root:$SVC_USER 0750)"
    run install -d -m 0750 -o root -g "$SVC_USER" "$CONF_DIR"
  fi
  if [[ -n $MODEL_KEY ]]; then
    install_model_key
    args+=(--set-string "remote.modelKey=$CONF_DIR/model-key.pub")
  fi
  if [[ ! -d $app/node_modules/yaml ]]; then
    # Only in a dry run before the app exists: nothing to merge with yet.
    if [[ -f $CONF_DIR/config.yaml ]]; then note "would merge new keys into the existing config (app not installed yet)"; else change "write $CONF_DIR/config.yaml from the device template"; fi
    return
  fi
  out=$(node "$merge" "${args[@]}" --check) || die "the config merge failed (see above); $CONF_DIR/config.yaml was not changed"
  [[ $out == *RESULT* ]] || die "the config merge ($merge) printed no result; $CONF_DIR/config.yaml was not changed"
  while IFS= read -r line; do
    case $line in
      "RESULT changed new") change "write $CONF_DIR/config.yaml (platform $PLATFORM, source $(masked "${CAMERA:-$(default_camera)}")${broker:+, broker $(masked "$broker")})" ;;
      "RESULT changed "*) : ;;
      "RESULT unchanged") ok "config up to date (your values are kept)" ;;
      added\ *) change "add new key ${line#added } to the config (backup: config.yaml.bak)" ;;
      kept\ *) note "${line#kept }" ;;
    esac
  done <<<"$out"
  if [[ $out == *"RESULT changed"* ]] && ! ((DRY_RUN)); then
    node "$merge" "${args[@]}" >/dev/null
  fi
  local f
  for f in "$CONF_DIR/config.yaml" "$CONF_DIR/config.yaml.bak"; do
    [[ -e $f ]] || continue
    if [[ $(stat -c '%U:%G %a' "$f") != "root:$SVC_USER 640" ]]; then
      change "set $f to root:$SVC_USER 0640 (readable by the service, may hold the MQTT password)"
      run chown "root:$SVC_USER" "$f"
      run chmod 0640 "$f"
    fi
  done
  if [[ -d $CONF_DIR && $(stat -c '%U:%G %a' "$CONF_DIR") != "root:$SVC_USER 750" ]]; then
    change "set $CONF_DIR to root:$SVC_USER 0750"
    run chown "root:$SVC_USER" "$CONF_DIR"
    run chmod 0750 "$CONF_DIR"
  fi
}

ensure_data_dir() {
  step "Data dir $DATA_DIR (event outbox)"
  if [[ ! -d $DATA_DIR ]]; then
    change "create $DATA_DIR ($SVC_USER 0750)"
    run install -d -m 0750 -o "$SVC_USER" -g "$SVC_USER" "$DATA_DIR"
  elif [[ $(stat -c '%U:%G' "$DATA_DIR") != "$SVC_USER:$SVC_USER" ]] || find "$DATA_DIR" ! -user "$SVC_USER" -print -quit | grep -q .; then
    # E.g. after --uninstall and a reinstall the user may have a new uid: hand the outbox back to it.
    change "give $DATA_DIR and its events to $SVC_USER"
    run chown -R "$SVC_USER:$SVC_USER" "$DATA_DIR"
  else
    ok "$DATA_DIR owned by $SVC_USER"
  fi
}

# ---------------------------------------------------------------------------------------------------------------
# Camera enablement
# ---------------------------------------------------------------------------------------------------------------
enable_camera() {
  step "Camera"
  case $PLATFORM in
    pi)
      if [[ -z $BOOT_CONFIG ]]; then
        warn "no /boot/firmware/config.txt or /boot/config.txt: cannot check camera_auto_detect"
      elif grep -Eq '^[[:space:]]*camera_auto_detect=1' "$BOOT_CONFIG"; then
        ok "camera_auto_detect=1 in $BOOT_CONFIG"
      else
        change "set camera_auto_detect=1 in $BOOT_CONFIG (takes effect after a reboot)"
        if ! ((DRY_RUN)); then
          cp -p "$BOOT_CONFIG" "$BOOT_CONFIG.emotion-kiosk.bak"
          if grep -Eq '^[[:space:]]*camera_auto_detect=' "$BOOT_CONFIG"; then
            sed -i -E 's/^[[:space:]]*camera_auto_detect=.*/camera_auto_detect=1/' "$BOOT_CONFIG"
          else
            printf '\n[all]\n# emotion-kiosk: the camera module\ncamera_auto_detect=1\n' >>"$BOOT_CONFIG"
          fi
        fi
        REBOOT_NEEDED=1
      fi
      ;;
    jetson)
      if [[ -f /lib/systemd/system/nvargus-daemon.service || -f /etc/systemd/system/nvargus-daemon.service ]]; then
        if systemctl is-enabled --quiet nvargus-daemon 2>/dev/null; then
          ok "nvargus-daemon enabled (CSI cameras via nvarguscamerasrc)"
        else
          change "enable nvargus-daemon (CSI cameras)"
          run systemctl enable nvargus-daemon
        fi
      else
        note "no nvargus-daemon: CSI cameras need JetPack's multimedia packages (nvidia-l4t-gstreamer); USB cameras work without"
      fi
      ;;
    *) ok "nothing to enable: USB/V4L2 cameras need only the video group" ;;
  esac
}

# ---------------------------------------------------------------------------------------------------------------
# systemd
# ---------------------------------------------------------------------------------------------------------------
UNIT_CHANGED=0

# install_file SRC DEST MODE: copies when the content differs.
install_file() {
  if [[ -f $2 ]] && cmp -s "$1" "$2"; then
    ok "$2"
  else
    change "install $2"
    run install -D -m "$3" "$1" "$2"
    UNIT_CHANGED=1
  fi
}

# write_file DEST MODE <<content: writes when the content differs.
write_file() {
  local tmp
  tmp=$(mktemp)
  cat >"$tmp"
  install_file "$tmp" "$1" "$2"
  rm -f "$tmp"
}

remove_file() {
  if [[ -e $1 || -L $1 ]]; then
    change "remove $1"
    run rm -f "$1"
    UNIT_CHANGED=1
  fi
}

systemd_version() { systemctl --version 2>/dev/null | awk 'NR==1 {print $2+0}'; }

# --kiosk display on a machine with a desktop (a Jetson's Ubuntu, Raspberry Pi OS with desktop): its display manager
# would hold the screen that cage needs. Boot to the console instead; the kiosk takes tty1.
screen_without_desktop() {
  local target
  target=$(systemctl get-default 2>/dev/null || true)
  if [[ $target == graphical.target ]] && systemctl cat display-manager.service >/dev/null 2>&1; then
    change "boot without the desktop: default target multi-user.target (the display manager would hold the screen; back: systemctl set-default graphical.target)"
    run systemctl set-default multi-user.target
    REBOOT_NEEDED=1
  else
    ok "no desktop at boot (default target ${target:-unknown})"
  fi
}

install_units() {
  step "systemd service"
  local src=$PREFIX/current/device
  if ((DRY_RUN)) && [[ ! -d $src ]]; then src=$APP_SRC/device; fi
  install_file "$src/emotion-kiosk.service" "$UNIT_DIR/$APP.service" 0644
  local dropins=$UNIT_DIR/$APP.service.d
  if (($(systemd_version) >= 254)); then
    write_file "$dropins/10-backoff.conf" 0644 <<'EOF'
# Written by emotion-kiosk setup.sh (systemd >= 254): restart delay grows from 5 s to 5 min.
[Service]
RestartSteps=10
RestartMaxDelaySec=5min
EOF
  else
    remove_file "$dropins/10-backoff.conf"
  fi
  if [[ $PLATFORM == jetson ]]; then
    write_file "$dropins/20-jetson.conf" 0644 <<'EOF'
# Written by emotion-kiosk setup.sh: nvarguscamerasrc (Jetson CSI cameras) reaches the camera through
# nvargus-daemon and NVIDIA's /dev/nvhost-*, /dev/nvmap devices, whose names change between L4T releases.
[Service]
DevicePolicy=auto
EOF
  else
    remove_file "$dropins/20-jetson.conf"
  fi
  # The attached screen: one drop-in per screen mode (the terminal dashboard on tty1, or the camera view in cage).
  local mode
  for mode in dashboard display; do
    if [[ $KIOSK == "$mode" ]]; then
      install_file "$src/emotion-kiosk-$mode.conf" "$dropins/30-$mode.conf" 0644
    else
      remove_file "$dropins/30-$mode.conf"
    fi
  done
  if [[ $KIOSK == display ]]; then screen_without_desktop; fi
  if ((UNIT_CHANGED)); then
    if systemd_running; then run systemctl daemon-reload; else note "systemd is not running here (chroot/container): no daemon-reload"; fi
  fi
  if systemctl is-enabled --quiet "$APP.service" 2>/dev/null; then
    ok "$APP.service enabled"
  else
    change "enable $APP.service (starts at boot)"
    run systemctl enable "$APP.service"
  fi
  if ((WITH_MOSQUITTO)); then
    if systemctl is-enabled --quiet mosquitto 2>/dev/null; then ok "mosquitto enabled"; else change "enable mosquitto"; run systemctl enable mosquitto; fi
  fi
  if [[ $KIOSK == display ]]; then
    if systemctl is-enabled --quiet seatd 2>/dev/null; then ok "seatd enabled (the seat for cage)"; else change "enable seatd (the seat for cage)"; run systemctl enable seatd; fi
  fi
}

start_service() {
  step "Start"
  if ! ((START)); then
    note "--no-start: not starting; start with: systemctl start $APP"
    return
  fi
  if ! systemd_running; then
    note "systemd is not running here (chroot/container): the service starts at the next boot"
    return
  fi
  if ((WITH_MOSQUITTO)) && ! systemctl is-active --quiet mosquitto; then change "start mosquitto"; run systemctl start mosquitto; fi
  local unit=$APP.service
  if ((APP_CHANGED || UNIT_CHANGED || CONFIG_CHANGED)) && systemctl is-active --quiet "$unit"; then
    change "restart $unit (new release, unit or config)"
    run systemctl restart "$unit"
  elif systemctl is-active --quiet "$unit"; then
    ok "$unit running"
  else
    change "start $unit"
    run systemctl start "$unit" || warn "$unit did not start: journalctl -u $unit -n 50; emotion-kiosk doctor --config $CONF_DIR/config.yaml"
  fi
}

CONFIG_CHANGED=0

doctor() {
  step "Doctor"
  if ((DRY_RUN)); then
    run "$BIN_LINK" doctor --config "$CONF_DIR/config.yaml"
    return
  fi
  # As the service user, so file permissions and groups are what the service will see.
  if command -v runuser >/dev/null; then
    runuser -u "$SVC_USER" -- "$BIN_LINK" doctor --config "$CONF_DIR/config.yaml" ||
      warn "doctor found problems (above); the service may not work until they are fixed"
  else
    "$BIN_LINK" doctor --config "$CONF_DIR/config.yaml" || warn "doctor found problems (above)"
  fi
}

summary() {
  say ""
  if ((DRY_RUN)); then
    say "Dry run: $CHANGES change(s) would be made; nothing was done."
  elif ((CHANGES == 0)) && [[ $MODE == uninstall ]]; then
    say "Nothing to do: nothing of $APP is installed (0 changes)."
  elif ((CHANGES == 0)); then
    say "Nothing to do: the device already matches this release and config (0 changes)."
  else
    say "Done: $CHANGES change(s) made."
  fi
  if ((REBOOT_NEEDED)); then say "Reboot to apply the boot changes: sudo reboot"; fi
}

# ---------------------------------------------------------------------------------------------------------------
# Rollback and uninstall
# ---------------------------------------------------------------------------------------------------------------
rollback() {
  step "Rollback"
  [[ -L $PREFIX/current ]] || die "nothing installed in $PREFIX"
  local prev cur
  prev=$(cat "$PREFIX/previous" 2>/dev/null || true)
  cur=$(readlink "$PREFIX/current")
  [[ -n $prev && -f $PREFIX/releases/$prev/.complete ]] || die "no previous release to roll back to (installed: $(find "$PREFIX/releases" -mindepth 1 -maxdepth 1 -printf '%f ' 2>/dev/null))"
  change "switch $PREFIX/current from ${cur#releases/} to $prev"
  run ln -sfn "releases/$prev" "$PREFIX/current.new"
  run mv -T "$PREFIX/current.new" "$PREFIX/current"
  if ((DRY_RUN)); then run sh -c "echo ${cur#releases/} > $PREFIX/previous"; else printf '%s\n' "${cur#releases/}" >"$PREFIX/previous"; fi
  # The unit file may differ between releases.
  install_file "$PREFIX/current/device/emotion-kiosk.service" "$UNIT_DIR/$APP.service" 0644
  if systemd_running; then
    ((UNIT_CHANGED)) && run systemctl daemon-reload
    if systemctl is-enabled --quiet "$APP.service"; then change "restart $APP.service"; run systemctl restart "$APP.service"; fi
  fi
}

uninstall() {
  step "Uninstall"
  local unit=$APP.service
  if systemd_running && systemctl is-active --quiet "$unit"; then change "stop $unit"; run systemctl stop "$unit"; fi
  if systemctl is-enabled --quiet "$unit" 2>/dev/null; then change "disable $unit"; run systemctl disable "$unit"; fi
  remove_file "$UNIT_DIR/$unit"
  if [[ -d $UNIT_DIR/$APP.service.d ]]; then change "remove $UNIT_DIR/$APP.service.d"; run rm -rf "$UNIT_DIR/$APP.service.d"; UNIT_CHANGED=1; fi
  if ((UNIT_CHANGED)) && systemd_running; then run systemctl daemon-reload; fi
  if [[ -L $BIN_LINK ]]; then change "remove $BIN_LINK"; run rm -f "$BIN_LINK"; fi
  if [[ -d $PREFIX ]]; then change "remove $PREFIX (all releases)"; run rm -rf "$PREFIX"; fi
  if id -u "$SVC_USER" >/dev/null 2>&1; then change "remove user $SVC_USER"; run userdel "$SVC_USER"; fi
  if getent group "$SVC_USER" >/dev/null; then change "remove group $SVC_USER"; run groupdel "$SVC_USER"; fi
  if ((PURGE)); then
    if [[ -d $CONF_DIR ]]; then change "delete config $CONF_DIR"; run rm -rf "$CONF_DIR"; fi
    if [[ -d $DATA_DIR ]]; then change "delete data $DATA_DIR (events not yet sent are lost)"; run rm -rf "$DATA_DIR"; fi
  else
    [[ -d $CONF_DIR ]] && note "kept config $CONF_DIR (delete it yourself, or use --uninstall --purge)"
    [[ -d $DATA_DIR ]] && note "kept data $DATA_DIR: the event outbox (owned by the removed user's uid until a reinstall takes it back)"
  fi
  note "left installed: Node.js, OpenCV, build tools and mosquitto (shared system packages: remove with apt if nothing else needs them)"
}

main() {
  parse_args "$@"
  require_root "$@"
  ((DRY_RUN)) && say "Dry run: printing every action, changing nothing."
  command -v systemctl >/dev/null || die "systemd is required (systemctl not found): the kiosk runs as a systemd service"
  case $MODE in
    uninstall) uninstall ;;
    rollback) rollback ;;
    install)
      load_choices
      detect_platform
      install_packages
      install_node
      resolve_source
      ensure_user
      install_app
      local before=$CHANGES
      write_config
      ((CHANGES > before)) && CONFIG_CHANGED=1
      save_choices
      ensure_data_dir
      enable_camera
      install_units
      start_service
      doctor
      ;;
  esac
  summary
}

# Run as a program; a test may `source` this file to call one step (write_config) with its own directories.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
