#!/usr/bin/env bash
# emotion-kiosk flash: writes a Raspberry Pi OS image (64-bit) to an SD card / USB disk, or to an image file, and adds
# first-boot provisioning to its boot (FAT) partition: hostname, user + SSH key, Wi-Fi, MQTT settings, the release
# bundle, and a one-shot service that runs device/setup.sh on the first boot with network.
#
#   sudo device/flash.sh --image 2025-05-13-raspios-bookworm-arm64-lite.img.xz --target /dev/sdX \
#     --hostname kiosk-1 --user kiosk --ssh-key ~/.ssh/id_ed25519.pub \
#     --wifi-ssid MyNet --wifi-password-file ~/wifi.pass --wifi-country GB \
#     --broker mqtt://broker.lan:1883 --bundle emotion-kiosk-0.1.0.tar.gz
#
# Passwords are read from a file or typed at a prompt (FILE "-": the terminal, or one line on stdin), never taken
# on the command line, and never passed on any program's command line: they would show in `ps` for the whole write.
#
# The boot partition is edited with mtools (no mount, no loop device). Two first-boot formats exist:
#   systemd   firstrun.sh + `systemd.run=` in cmdline.txt: Raspberry Pi OS Bullseye, Bookworm and the first
#             Trixie release (2025-10-01); Raspberry Pi Imager's "init_format": "systemd".
#   cloudinit user-data / network-config for cloud-init: later Trixie images ("init_format": "cloudinit-rpi").
# --init-format auto (the default) picks cloudinit when the image's boot partition has cloud-init seed files
# (user-data, meta-data or network-config) and systemd otherwise.
set -Eeuo pipefail

readonly APP=emotion-kiosk
SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
FIRSTBOOT_DIR=$SCRIPT_DIR/firstboot

IMAGE=""
TARGET=""
BOOT_ONLY=0
HOSTNAME_=""
USER_=""
PASSWORD=""
PASSWORD_FILE=""
SSH_KEYS=()
WIFI_SSID=""
WIFI_PASSWORD=""
WIFI_PASSWORD_FILE=""
WIFI_COUNTRY=""
BROKER=""
MQTT_USERNAME=""
MQTT_PASSWORD=""
MQTT_PASSWORD_FILE=""
CAMERA=""
BUNDLE=""
KIOSK=headless
WITH_MOSQUITTO=0
INIT_FORMAT=auto
YES=0
DRY_RUN=0
WORK=""
WIFI_PSK=""

usage() {
  cat <<EOF
Usage: $0 --image FILE --target DISK|FILE.img [options]
       $0 --boot-only --target DISK|FILE.img [options]   (provision an already written card/image)

  --image FILE           Raspberry Pi OS image: .img, .img.xz or .img.gz (64-bit; 32-bit cannot run the kiosk)
  --target DISK|FILE     whole disk (/dev/sdX, /dev/mmcblk0) or an image file to write
  --boot-only            do not write an image: only add provisioning to the target's boot partition
  --hostname NAME        device host name (also the kiosk's MQTT device id by default)
  --user NAME            login user (Raspberry Pi OS has no default user since 2022-04)
  --password-file FILE   its password, the first line of FILE (stored as a SHA-512 crypt hash); without it,
                         key-only login. FILE "-": typed at a prompt, or one line on stdin
  --ssh-key FILE         public key allowed to log in over SSH (repeatable); enables SSH
  --wifi-ssid SSID       Wi-Fi network; --wifi-password-file FILE|-, --wifi-country CC (e.g. GB, DE, US) go with it
  --broker URL           MQTT broker for the kiosk (mqtt://host:1883, mqtts://..., embedded, none)
  --mqtt-username U, --mqtt-password-file FILE|-
  --camera SOURCE        camera source for the config (default on a Pi: rpicam)
  --bundle FILE          release bundle from 'npm run bundle' (required unless --boot-only on a prepared card)
  --kiosk MODE           headless (default) | dashboard (terminal dashboard on tty1) | display (camera view full screen, cage)
  --with-mosquitto       install a local mosquitto broker on the device
  --init-format F        auto (default) | systemd | cloudinit
  --yes                  do not ask before overwriting the target
  --dry-run              check everything, print what would be done, write nothing
EOF
}

die() {
  printf '%s-flash: error: %s\n' "$APP" "$*" >&2
  exit 1
}
say() { printf '%s\n' "$*"; }
cleanup() { if [[ -n $WORK && -d $WORK ]]; then rm -rf -- "$WORK"; fi; }
trap cleanup EXIT

# read_secret VAR FILE WHAT: the first line of FILE into VAR; FILE "-" is the terminal (a prompt, not echoed) or,
# when stdin is not a terminal, one line of stdin.
read_secret() {
  local -n var=$1
  local file=$2 what=$3 line=""
  if [[ $file == - ]]; then
    if [[ -t 0 ]]; then
      IFS= read -r -s -p "$what: " line || true
      printf '\n' >&2
    else
      IFS= read -r line || [[ -n $line ]] || die "$what: nothing on stdin (give it as one line, or use a file)"
    fi
  else
    [[ -f $file && -r $file ]] || die "$what: $file is not a readable file"
    IFS= read -r line <"$file" || [[ -n $line ]] || die "$what: $file is empty"
  fi
  line=${line%$'\r'}
  [[ -n $line ]] || die "$what: empty password (${file/#-/stdin})"
  # shellcheck disable=SC2034 # a nameref
  var=$line
}

read_passwords() {
  local stdin_users=0 f
  for f in "$PASSWORD_FILE" "$WIFI_PASSWORD_FILE" "$MQTT_PASSWORD_FILE"; do [[ $f == - ]] && stdin_users=$((stdin_users + 1)); done
  ((stdin_users <= 1)) || die "only one of --password-file, --wifi-password-file, --mqtt-password-file can be - (stdin): put the others in files"
  [[ -z $PASSWORD_FILE ]] || read_secret PASSWORD "$PASSWORD_FILE" "login password for ${USER_:-the user}"
  [[ -z $WIFI_PASSWORD_FILE ]] || read_secret WIFI_PASSWORD "$WIFI_PASSWORD_FILE" "Wi-Fi password${WIFI_SSID:+ for $WIFI_SSID}"
  [[ -z $MQTT_PASSWORD_FILE ]] || read_secret MQTT_PASSWORD "$MQTT_PASSWORD_FILE" "MQTT password${MQTT_USERNAME:+ for $MQTT_USERNAME}"
  return 0
}

parse_args() {
  while (($#)); do
    case $1 in
      --image) IMAGE=${2:?--image needs a file}; shift ;;
      --target) TARGET=${2:?--target needs a disk or file}; shift ;;
      --boot-only) BOOT_ONLY=1 ;;
      --hostname) HOSTNAME_=${2:?--hostname needs a name}; shift ;;
      --user) USER_=${2:?--user needs a name}; shift ;;
      --password | --wifi-password | --mqtt-password)
        die "$1 takes no password on the command line (ps and the shell history would show it): use $1-file FILE (its first line), or $1-file - to type it or pipe it on stdin" ;;
      --password-file) PASSWORD_FILE=${2:?--password-file needs a file (or - for a prompt/stdin)}; shift ;;
      --ssh-key) SSH_KEYS+=("${2:?--ssh-key needs a file}"); shift ;;
      --wifi-ssid) WIFI_SSID=${2:?--wifi-ssid needs a value}; shift ;;
      --wifi-password-file) WIFI_PASSWORD_FILE=${2:?--wifi-password-file needs a file (or - for a prompt/stdin)}; shift ;;
      --wifi-country) WIFI_COUNTRY=${2:?--wifi-country needs a code}; shift ;;
      --broker) BROKER=${2:?--broker needs a URL}; shift ;;
      --mqtt-username) MQTT_USERNAME=${2:?--mqtt-username needs a value}; shift ;;
      --mqtt-password-file) MQTT_PASSWORD_FILE=${2:?--mqtt-password-file needs a file (or - for a prompt/stdin)}; shift ;;
      --camera) CAMERA=${2:?--camera needs a source}; shift ;;
      --bundle) BUNDLE=${2:?--bundle needs a file}; shift ;;
      --kiosk) KIOSK=${2:?--kiosk needs headless, dashboard or display}; shift ;;
      --with-mosquitto) WITH_MOSQUITTO=1 ;;
      --init-format) INIT_FORMAT=${2:?--init-format needs auto, systemd or cloudinit}; shift ;;
      --yes) YES=1 ;;
      --dry-run) DRY_RUN=1 ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
  done
  [[ -n $TARGET ]] || { usage >&2; die "--target is required"; }
  read_passwords
  if ((BOOT_ONLY)); then
    [[ -z $IMAGE ]] || die "--boot-only writes no image: drop --image"
  else
    [[ -n $IMAGE ]] || { usage >&2; die "--image is required (or --boot-only for a card that is already written)"; }
    [[ -f $IMAGE ]] || die "image $IMAGE not found: download Raspberry Pi OS Lite (64-bit) from https://www.raspberrypi.com/software/operating-systems/"
    [[ -r $IMAGE ]] || die "image $IMAGE is not readable"
    case $IMAGE in
      *.img | *.img.xz | *.img.gz) ;;
      *) die "image $IMAGE: expected .img, .img.xz or .img.gz" ;;
    esac
    case $IMAGE in *armhf*) die "image $IMAGE is a 32-bit (armhf) build: the kiosk needs the 64-bit (arm64) image" ;; esac
    if [[ -e $TARGET && $IMAGE -ef $TARGET ]]; then
      die "--target $TARGET is the image itself (--image $IMAGE): writing it would destroy the image. Give the SD card (/dev/sdX) or a new file name"
    fi
  fi
  case $KIOSK in headless | dashboard | display) ;; *) die "--kiosk must be headless, dashboard or display" ;; esac
  case $INIT_FORMAT in auto | systemd | cloudinit) ;; *) die "--init-format must be auto, systemd or cloudinit" ;; esac
  if [[ -n $HOSTNAME_ && ! $HOSTNAME_ =~ ^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$ ]]; then
    die "--hostname '$HOSTNAME_': letters, digits and inner hyphens only, at most 63 characters"
  fi
  if [[ -n $USER_ && ! $USER_ =~ ^[a-z_][a-z0-9_-]{0,31}$ ]]; then die "--user '$USER_': lowercase letters, digits, _ and - only"; fi
  if [[ -n $PASSWORD && -z $USER_ ]]; then die "--password-file needs --user"; fi
  local k
  for k in "${SSH_KEYS[@]}"; do
    [[ -r $k ]] || die "--ssh-key $k: no such readable file"
    grep -Eq '^(ssh-|ecdsa-|sk-)' "$k" || die "--ssh-key $k does not look like a public key (ssh-ed25519 AAAA...): pass the .pub file"
  done
  if ((${#SSH_KEYS[@]})) && [[ -z $USER_ ]]; then die "--ssh-key needs --user (the account the key logs in to)"; fi
  if [[ -n $WIFI_SSID ]]; then
    [[ -n $WIFI_COUNTRY ]] || die "--wifi-ssid needs --wifi-country (e.g. GB): Wi-Fi stays blocked without a regulatory country"
    if [[ -n $WIFI_PASSWORD ]] && ((${#WIFI_PASSWORD} < 8 || ${#WIFI_PASSWORD} > 63)); then
      die "the Wi-Fi password must be 8 to 63 characters (WPA2 passphrase), it has ${#WIFI_PASSWORD}"
    fi
  elif [[ -n $WIFI_PASSWORD || -n $WIFI_COUNTRY ]]; then
    die "--wifi-password-file/--wifi-country need --wifi-ssid"
  fi
  if [[ -n $WIFI_COUNTRY && ! $WIFI_COUNTRY =~ ^[A-Z]{2}$ ]]; then die "--wifi-country: two capital letters (GB, DE, US)"; fi
  if [[ -n $BROKER && ! $BROKER =~ ^(embedded|none|mqtts?://.+|wss?://.+)$ ]]; then
    die "--broker '$BROKER' is not mqtt://host:port, mqtts://host:port, embedded or none"
  fi
  local v
  for v in "$HOSTNAME_" "$WIFI_SSID" "$WIFI_PASSWORD" "$MQTT_USERNAME" "$MQTT_PASSWORD" "$CAMERA"; do
    [[ $v != *[$'\n\r']* ]] || die "settings cannot contain line breaks"
  done
  if [[ -n $BUNDLE ]]; then
    [[ -r $BUNDLE ]] || die "--bundle $BUNDLE: no such readable file (make one with 'npm run bundle')"
    tar -tzf "$BUNDLE" 2>/dev/null | grep -q '/device/setup.sh$' || die "--bundle $BUNDLE is not an emotion-kiosk bundle (no device/setup.sh inside)"
  else
    die "--bundle is required: the device installs the kiosk from it on first boot (make one with 'npm run bundle')"
  fi
}

# ---------------------------------------------------------------------------------------------------------------
# Target safety: never a mounted disk, never the disk the running system lives on.
# EMOTION_KIOSK_FLASH_MOUNTS (a file in /proc/mounts format) replaces the live mount table; tests use it.
# ---------------------------------------------------------------------------------------------------------------
MOUNTS=${EMOTION_KIOSK_FLASH_MOUNTS:-/proc/mounts}

# The whole-disk names (sda, mmcblk0, nvme0n1) under a block device, following partitions and dm/md slaves.
disks_of() {
  local name sys
  name=$(basename "$(readlink -f "$1")")
  sys=/sys/class/block/$name
  [[ -e $sys ]] || return 0
  if [[ -f $sys/partition ]]; then
    basename "$(dirname "$(readlink -f "$sys")")"
  elif compgen -G "$sys/slaves/*" >/dev/null; then
    local s
    for s in "$sys"/slaves/*; do disks_of "/dev/$(basename "$s")"; done
  else
    printf '%s\n' "$name"
  fi
}

system_disks() {
  local src mp rest
  while read -r src mp rest; do
    case $mp in
      / | /boot | /boot/firmware | /boot/efi | /usr | /var | /home)
        if [[ $src == /dev/root && -z ${EMOTION_KIOSK_FLASH_MOUNTS:-} ]]; then
          # Raspberry Pi OS names the root device /dev/root: find it by the device number of /.
          local dev
          dev=$(stat -c '%Hd:%Ld' /)
          src=/dev/$(basename "$(readlink -f "/sys/dev/block/$dev")")
        fi
        [[ $src == /dev/* ]] && disks_of "$src"
        ;;
    esac
  done <"$MOUNTS"
  if [[ -z ${EMOTION_KIOSK_FLASH_MOUNTS:-} ]]; then
    local dev
    dev=$(stat -c '%Hd:%Ld' /)
    [[ -e /sys/dev/block/$dev ]] && disks_of "/dev/$(basename "$(readlink -f "/sys/dev/block/$dev")")"
    while read -r src rest; do [[ $src == /dev/* ]] && disks_of "$src"; done < <(tail -n +2 /proc/swaps)
  fi
  return 0
}

# Block devices are opened exclusively (O_EXCL): the kernel then refuses while anything holds the disk or one of its
# partitions (a mount, an LVM volume group, an MD RAID array, a ZFS pool, dm-crypt, swap), also what the mount table
# does not show. Bash cannot open O_EXCL: python3 does.
#   probe DISK PART...: open each exclusively and close it again
#   write DISK PART...: probe the partitions, then copy stdin to DISK through an exclusive descriptor, fsync
# Busy devices are listed on fd 3, exit 3; other errors exit 1 with the reason.
readonly EXCL_PY='
import errno, os, sys
mode, target, parts = sys.argv[1], sys.argv[2], sys.argv[3:]
def excl(path, flags):
    try:
        return os.open(path, flags | os.O_EXCL)
    except OSError as e:
        if e.errno == errno.EBUSY:
            return None
        sys.exit("cannot open %s exclusively: %s" % (path, e.strerror))
busy = []
for p in parts + ([target] if mode == "probe" else []):
    fd = excl(p, os.O_RDONLY)
    if fd is None: busy.append(p)
    else: os.close(fd)
fd = None
if not busy and mode == "write":
    fd = excl(target, os.O_WRONLY)
    if fd is None: busy.append(target)
if busy:
    os.write(3, (" ".join(busy) + "\n").encode())
    sys.exit(3)
if fd is not None:
    total, report = 0, 0
    while True:
        block = sys.stdin.buffer.read(4 << 20)
        if not block: break
        view = memoryview(block)
        while view:
            view = view[os.write(fd, view):]
        total += len(block)
        if total >= report:
            sys.stderr.write("\r%d MiB written" % (total >> 20)); sys.stderr.flush(); report += 64 << 20
    os.fsync(fd)
    os.close(fd)
    sys.stderr.write("\r%d MiB written and flushed\n" % (total >> 20))
'

# /dev/<name> of each partition of the whole disk DISK (a name such as sdb).
partitions_of() {
  local p
  for p in /sys/class/block/"$1"/"$1"*; do
    [[ -f $p/partition && -b /dev/${p##*/} ]] && printf '/dev/%s\n' "${p##*/}"
  done
  return 0
}

# "sdb1 (held by dm-0)" for each of the disk's devices with a holder in sysfs (LVM, MD, dm-crypt).
holders_of() {
  local d h out=()
  for d in /sys/class/block/"$1" /sys/class/block/"$1"/"$1"*; do
    [[ -d $d/holders ]] || continue
    for h in "$d"/holders/*; do out+=("${d##*/} held by ${h##*/}"); done
  done
  printf '%s' "${out[*]}"
}

# Runs EXCL_PY MODE for TARGET; dies with what holds it when the kernel says busy.
exclusive() {
  local mode=$1 disk rc=0 busy_file parts=()
  disk=$(basename "$(readlink -f "$TARGET")")
  mapfile -t parts < <(partitions_of "$disk")
  command -v python3 >/dev/null || die "python3 is needed to open $TARGET exclusively (apt install python3)"
  busy_file=$(mktemp)
  if [[ $mode == write ]]; then
    "${CAT_CMD[@]}" "$IMAGE" | python3 -c "$EXCL_PY" write "$TARGET" "${parts[@]}" 3>"$busy_file" || rc=$?
  else
    python3 -c "$EXCL_PY" probe "$TARGET" "${parts[@]}" 3>"$busy_file" || rc=$?
  fi
  local busy holders
  busy=$(cat "$busy_file")
  rm -f "$busy_file"
  if ((rc == 3)); then
    holders=$(holders_of "$disk")
    die "$TARGET is in use: the kernel refuses to open ${busy// /, } exclusively${holders:+ ($holders)}. Something holds it: a mounted partition, an LVM volume group, an MD RAID array, a ZFS pool, dm-crypt or swap. Check with: lsblk -o NAME,TYPE,FSTYPE,MOUNTPOINTS $TARGET; release it (umount, vgchange -an VG, mdadm --stop /dev/mdX, zpool export POOL, swapoff) or pick the SD card's device. Nothing was written"
  elif ((rc != 0)); then
    if [[ $mode == write ]]; then die "writing $IMAGE to $TARGET failed (corrupt download? card removed?)"; fi
    die "$TARGET cannot be opened exclusively (see above)"
  fi
}

check_block_target() {
  local disk
  disk=$(basename "$(readlink -f "$TARGET")")
  [[ -f /sys/class/block/$disk/partition ]] &&
    die "$TARGET is a partition: give the whole disk (e.g. /dev/$(disks_of "$TARGET")), the image brings its own partitions"
  # (Captured first: with pipefail, grep -q closing the pipe early would make the producer "fail".)
  local sys_disks
  sys_disks=$(system_disks)
  if grep -qx "$disk" <<<"$sys_disks"; then
    die "$TARGET holds the running system (/, /boot or swap are on it): refusing to overwrite it. Pick the SD card's device (lsblk shows it; it appears when you plug the card in)"
  fi
  local src mp rest mounted=()
  while read -r src mp rest; do
    [[ $src == /dev/* ]] || continue
    if grep -qx "$disk" <<<"$(disks_of "$src")"; then mounted+=("$src on $mp"); fi
  done <"$MOUNTS"
  if ((${#mounted[@]})); then
    die "$TARGET is mounted (${mounted[*]}): unmount it first (sudo umount ${mounted[0]%% on *}), then run this again"
  fi
  if ((EUID == 0)); then
    exclusive probe
  else
    say "[dry-run] not root: cannot check that the kernel lets $TARGET be opened exclusively (the real run does)"
  fi
}

check_target() {
  if [[ -b $TARGET ]]; then
    ((EUID == 0)) || ((DRY_RUN)) || die "writing to $TARGET needs root: sudo $0 ..."
    check_block_target
  elif [[ -e $TARGET && ! -f $TARGET ]]; then
    die "$TARGET is neither a block device nor a regular file"
  elif ((BOOT_ONLY)) && [[ ! -f $TARGET ]]; then
    die "--boot-only: $TARGET does not exist"
  fi
}

confirm() {
  ((YES || DRY_RUN)) && return 0
  local what=$TARGET
  if [[ -b $TARGET ]]; then what="$TARGET ($(lsblk -dno SIZE,MODEL "$TARGET" 2>/dev/null | xargs))"; fi
  if [[ ! -t 0 ]]; then die "about to overwrite $what: confirm with --yes (no terminal to ask on)"; fi
  local answer
  read -r -p "Everything on $what will be erased. Type 'yes' to continue: " answer
  [[ $answer == yes ]] || die "cancelled; nothing was written"
}

CAT_CMD=(cat)
write_image() {
  case $IMAGE in
    *.xz) CAT_CMD=(xz -dc) ;;
    *.gz) CAT_CMD=(gzip -dc) ;;
  esac
  command -v "${CAT_CMD[0]}" >/dev/null || die "${CAT_CMD[0]} is needed to decompress $IMAGE (apt install xz-utils)"
  if ((DRY_RUN)); then
    say "[dry-run] would write $IMAGE to $TARGET"
    return
  fi
  say "Writing $IMAGE to $TARGET ..."
  if [[ -b $TARGET ]]; then
    # Through an exclusive descriptor: refused while anything holds the disk.
    exclusive write
  else
    # A file target is replaced, never appended to.
    : >"$TARGET"
    "${CAT_CMD[@]}" "$IMAGE" | dd of="$TARGET" bs=4M status=progress conv=fsync 2>&1 || die "writing $IMAGE to $TARGET failed (corrupt download? full disk?)"
  fi
  sync
  if [[ -b $TARGET ]]; then blockdev --rereadpt "$TARGET" 2>/dev/null || partprobe "$TARGET" 2>/dev/null || true; fi
}

# ---------------------------------------------------------------------------------------------------------------
# The boot partition, through mtools at a byte offset (works on image files and on disks alike)
# ---------------------------------------------------------------------------------------------------------------
FAT=""

find_boot_partition() {
  command -v sfdisk >/dev/null || die "sfdisk is needed (apt install fdisk)"
  command -v mcopy >/dev/null || die "mtools is needed to edit the boot partition without mounting it (apt install mtools)"
  local table start
  table=$(sfdisk --dump "$TARGET" 2>/dev/null) || die "$TARGET has no readable partition table: is it a Raspberry Pi OS image?"
  # First partition with a FAT type (MBR c/b/e, or the GPT EFI / basic-data types).
  local line type
  while IFS= read -r line; do
    [[ $line == *" : start="* ]] || continue
    type=$(sed -nE 's/.*type= *([^ ,]+).*/\1/p' <<<"$line")
    case ${type^^} in
      C | B | E | EF | C12A7328-F81F-11D2-BA4B-00A0C93EC93B | EBD0A0A2-B9E5-4433-87C0-68B6B72699C7)
        start=$(sed -nE 's/.*start= *([0-9]+).*/\1/p' <<<"$line")
        break
        ;;
    esac
  done <<<"$table"
  [[ -n $start ]] || die "$TARGET has no FAT boot partition: is it a Raspberry Pi OS image?"
  local sector
  sector=$(awk '/^sector-size:/ {print $2}' <<<"$table")
  FAT="$TARGET@@$((start * ${sector:-512}))"
  export MTOOLS_SKIP_CHECK=1
  mdir -i "$FAT" -b ::/ >/dev/null 2>&1 || die "the first FAT partition of $TARGET cannot be read by mtools (damaged image?)"
}

fat_has() { mdir -i "$FAT" -b "::/$1" >/dev/null 2>&1; }
fat_read() { mtype -i "$FAT" "::/$1"; }
fat_put() {
  if ((DRY_RUN)); then say "[dry-run] would write ::/$2 ($(stat -c %s "$1") bytes)"; else mcopy -o -i "$FAT" "$1" "::/$2"; fi
}

fat_free_bytes() { mdir -i "$FAT" ::/ 2>/dev/null | sed -nE 's/^ *([0-9][0-9 ,.]*) bytes free.*/\1/p' | tr -d ' ,.'; }

# JSON string literal (valid YAML double-quoted scalar too).
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

# Secrets reach the helpers on stdin (printf is a shell builtin): never on a command line.
password_hash() {
  if command -v openssl >/dev/null; then printf '%s\n' "$PASSWORD" | openssl passwd -6 -stdin
  elif command -v mkpasswd >/dev/null; then printf '%s\n' "$PASSWORD" | mkpasswd -m sha-512 -s
  else die "--password-file needs openssl (or mkpasswd from whois) to hash the password"; fi
}

# WPA2 PSK from the passphrase (PBKDF2-HMAC-SHA1, 4096 rounds), as Raspberry Pi Imager stores it: the
# passphrase itself never lands on the card. Falls back to the passphrase when no tool can compute it.
wifi_psk() {
  [[ -n $WIFI_PASSWORD ]] || return 0
  if command -v python3 >/dev/null; then
    printf '%s' "$WIFI_PASSWORD" | python3 -c 'import hashlib,sys; print(hashlib.pbkdf2_hmac("sha1", sys.stdin.buffer.read(), sys.argv[1].encode(), 4096, 32).hex())' "$WIFI_SSID"
  elif command -v node >/dev/null; then
    printf '%s' "$WIFI_PASSWORD" | node -e 'console.log(require("crypto").pbkdf2Sync(require("fs").readFileSync(0), process.argv[1], 4096, 32, "sha1").toString("hex"))' "$WIFI_SSID"
  else
    printf '%s\n' "$WIFI_PASSWORD"
  fi
}

detect_init_format() {
  if [[ $INIT_FORMAT != auto ]]; then return; fi
  if fat_has user-data || fat_has meta-data || fat_has network-config; then INIT_FORMAT=cloudinit; else INIT_FORMAT=systemd; fi
  say "First-boot format: $INIT_FORMAT (auto-detected from the boot partition)"
}

provision_boot() {
  WORK=$(mktemp -d)
  local pw_hash="" psk f
  [[ -n $PASSWORD ]] && pw_hash=$(password_hash)
  psk=$(wifi_psk)
  WIFI_PSK=$psk
  fat_has cmdline.txt || die "the boot partition has no cmdline.txt: this is not a Raspberry Pi OS image"

  # Space: the bundle goes on the FAT partition.
  local need free
  need=$(($(stat -c %s "$BUNDLE") + 1024 * 1024))
  free=$(fat_free_bytes)
  if [[ -n $free ]] && ((free < need)); then
    die "the boot partition has $((free / 1024 / 1024)) MiB free, the bundle needs $((need / 1024 / 1024)) MiB: make a smaller bundle (npm run bundle -- --no-npm-cache) or use --boot-only after resizing"
  fi

  # emotion-kiosk/provision.env: read by firstrun.sh and firstboot.sh (bash). The password hash and the PSK only
  # for firstrun.sh (the systemd format): with cloud-init they are in user-data and network-config alone.
  local env_hash=$pw_hash env_psk=$psk
  if [[ $INIT_FORMAT == cloudinit ]]; then env_hash="" env_psk=""; fi
  {
    printf '# emotion-kiosk first-boot settings, written by flash.sh %s. Removed after provisioning.\n' "$(date -u +%FT%TZ)"
    printf 'EK_HOSTNAME=%q\n' "$HOSTNAME_"
    printf 'EK_USER=%q\n' "$USER_"
    printf 'EK_PASSWORD_HASH=%q\n' "$env_hash"
    printf 'EK_WIFI_SSID=%q\n' "$WIFI_SSID"
    printf 'EK_WIFI_PSK=%q\n' "$env_psk"
    printf 'EK_WIFI_COUNTRY=%q\n' "$WIFI_COUNTRY"
    printf 'EK_KIOSK=%q\n' "$KIOSK"
    printf 'EK_WITH_MOSQUITTO=%q\n' "$WITH_MOSQUITTO"
  } >"$WORK/provision.env"

  # emotion-kiosk/config-seed.yaml: values for the new /etc/emotion-kiosk/config.yaml.
  {
    printf '# emotion-kiosk settings from flash.sh; setup.sh merges them into /etc/emotion-kiosk/config.yaml.\n'
    [[ -n $CAMERA ]] && printf 'source: %s\n' "$(json_str "$CAMERA")"
    if [[ -n $BROKER || -n $MQTT_USERNAME || -n $MQTT_PASSWORD || -n $HOSTNAME_ ]]; then
      printf 'mqtt:\n'
      [[ -n $BROKER ]] && printf '  broker: %s\n' "$(json_str "$BROKER")"
      [[ -n $MQTT_USERNAME ]] && printf '  username: %s\n' "$(json_str "$MQTT_USERNAME")"
      [[ -n $MQTT_PASSWORD ]] && printf '  password: %s\n' "$(json_str "$MQTT_PASSWORD")"
      [[ -n $HOSTNAME_ ]] && printf '  deviceId: %s\n' "$(json_str "${HOSTNAME_//[^A-Za-z0-9_-]/_}")"
    fi
    true
  } >"$WORK/config-seed.yaml"

  : >"$WORK/authorized_keys"
  for f in "${SSH_KEYS[@]}"; do grep -E '^(ssh-|ecdsa-|sk-)' "$f" >>"$WORK/authorized_keys"; done

  if ((DRY_RUN)); then say "[dry-run] would create ::/emotion-kiosk"; elif ! fat_has emotion-kiosk; then mmd -i "$FAT" ::/emotion-kiosk; fi
  fat_put "$WORK/provision.env" emotion-kiosk/provision.env
  fat_put "$WORK/config-seed.yaml" emotion-kiosk/config-seed.yaml
  fat_put "$WORK/authorized_keys" emotion-kiosk/authorized_keys
  fat_put "$FIRSTBOOT_DIR/firstboot.sh" emotion-kiosk/firstboot.sh
  fat_put "$FIRSTBOOT_DIR/emotion-kiosk-firstboot.service" emotion-kiosk/emotion-kiosk-firstboot.service
  fat_put "$BUNDLE" emotion-kiosk/emotion-kiosk-bundle.tar.gz

  if [[ $INIT_FORMAT == systemd ]]; then
    fat_put "$FIRSTBOOT_DIR/firstrun.sh" firstrun.sh
    local cmdline hook='systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target'
    cmdline=$(fat_read cmdline.txt | tr -d '\r' | head -n1)
    if [[ $cmdline == *systemd.run=* ]]; then
      # Already provisioned (by us or by Imager): replace the first-boot hook, keep everything else.
      cmdline=$(sed -E 's/ ?systemd\.(run|run_success_action|unit)=[^ ]*//g' <<<"$cmdline")
    fi
    printf '%s %s\n' "${cmdline% }" "$hook" >"$WORK/cmdline.txt"
    fat_put "$WORK/cmdline.txt" cmdline.txt
  else
    write_cloud_init "$pw_hash"
  fi
}

write_cloud_init() {
  local pw_hash=$1 key boot=/boot/firmware
  {
    printf '#cloud-config\n# Written by emotion-kiosk flash.sh: first-boot settings and the kiosk provisioning.\n'
    if [[ -n $HOSTNAME_ ]]; then printf 'hostname: %s\nmanage_etc_hosts: true\n' "$HOSTNAME_"; fi
    if ((${#SSH_KEYS[@]})) || [[ -n $USER_ ]]; then
      printf 'enable_ssh: %s\n' "$( ((${#SSH_KEYS[@]})) && echo true || echo false)"
      printf 'users:\n- name: %s\n' "$USER_"
      printf '  groups: users,adm,dialout,audio,netdev,video,plugdev,cdrom,games,input,gpio,spi,i2c,render,sudo\n'
      printf '  shell: /bin/bash\n'
      if [[ -n $pw_hash ]]; then printf '  lock_passwd: false\n  passwd: %s\n' "$(json_str "$pw_hash")"; else printf '  lock_passwd: true\n'; fi
      if ((${#SSH_KEYS[@]})); then
        printf '  ssh_authorized_keys:\n'
        while IFS= read -r key; do printf '    - %s\n' "$(json_str "$key")"; done <"$WORK/authorized_keys"
        printf '  sudo: ALL=(ALL) NOPASSWD:ALL\n'
      fi
    fi
    printf 'runcmd:\n'
    printf '  - [ install, -m, "0755", %s/emotion-kiosk/firstboot.sh, /usr/local/sbin/emotion-kiosk-firstboot ]\n' "$boot"
    printf '  - [ install, -m, "0644", %s/emotion-kiosk/emotion-kiosk-firstboot.service, /etc/systemd/system/emotion-kiosk-firstboot.service ]\n' "$boot"
    printf '  - [ systemctl, daemon-reload ]\n'
    printf '  - [ systemctl, enable, --now, --no-block, emotion-kiosk-firstboot.service ]\n'
  } >"$WORK/user-data"
  fat_put "$WORK/user-data" user-data
  if [[ -n $WIFI_SSID ]]; then
    {
      printf 'network:\n  version: 2\n  wifis:\n    wlan0:\n      dhcp4: true\n      optional: true\n'
      printf '      regulatory-domain: %s\n' "$(json_str "$WIFI_COUNTRY")"
      printf '      access-points:\n        %s:\n' "$(json_str "$WIFI_SSID")"
      if [[ -n $WIFI_PSK ]]; then printf '          password: %s\n' "$(json_str "$WIFI_PSK")"; fi
    } >"$WORK/network-config"
    fat_put "$WORK/network-config" network-config
  fi
  if ! fat_has meta-data; then
    printf 'instance_id: emotion-kiosk-%s\n' "$(date -u +%Y%m%d%H%M%S)" >"$WORK/meta-data"
    fat_put "$WORK/meta-data" meta-data
  fi
}

main() {
  parse_args "$@"
  check_target
  confirm
  if ! ((BOOT_ONLY)); then write_image; fi
  if ((DRY_RUN)) && [[ ! -f $TARGET && ! -b $TARGET ]]; then
    say "[dry-run] would add first-boot provisioning to the boot partition of $TARGET"
    return
  fi
  if ((DRY_RUN)) && ! ((BOOT_ONLY)); then
    say "[dry-run] would add first-boot provisioning to the boot partition of the written image"
    return
  fi
  find_boot_partition
  detect_init_format
  provision_boot
  sync
  if ((DRY_RUN)); then say "Dry run: nothing was written."; return; fi
  say "Done: $TARGET provisions itself on first boot ($INIT_FORMAT format)."
  say "First boot: the Pi sets itself up, reboots, then installs the kiosk once online (several minutes)."
  say "Follow it with: ssh ${USER_:-<user>}@${HOSTNAME_:-<host>}.local journalctl -fu emotion-kiosk-firstboot"
}

main "$@"
