#!/bin/bash
# emotion-kiosk first boot, part 2 (installed as /usr/local/sbin/emotion-kiosk-firstboot and run by
# emotion-kiosk-firstboot.service once the network is online): runs setup.sh with the bundle and the settings
# flash.sh put on the boot partition.
#
# On success nothing secret stays on the boot partition: every file holding a secret (provision.env: the login
# password hash and Wi-Fi PSK; config-seed.yaml: the MQTT password; cloud-init's user-data and network-config) is
# overwritten with zeros and deleted (user-data is replaced by an empty #cloud-config: cloud-init needs the file),
# the bundle is deleted, and then the partition's free space is overwritten with zeros, because a FAT file system
# keeps a deleted file's bytes (and those of files flash.sh replaced) until their clusters are reused. Then the
# service disables itself.
# On failure systemd retries every two minutes; firstboot.log (emotion-kiosk/ on the boot partition, readable from
# any computer; also /var/log/emotion-kiosk-firstboot.log) and the journal (journalctl -u emotion-kiosk-firstboot)
# say why, and which secrets are still on the card.
#
#   emotion-kiosk-firstboot           provision (what the service runs)
#   emotion-kiosk-firstboot --scrub   only remove the secrets from the boot partition (provisioning cannot resume)
#
# EMOTION_KIOSK_FIRSTBOOT_ROOT: the root of the system being provisioned (default /); tests point it elsewhere.
set -Eeuo pipefail

ROOT=${EMOTION_KIOSK_FIRSTBOOT_ROOT:-}
MODE=provision
case ${1:-} in
  "") ;;
  --scrub) MODE=scrub ;;
  *) echo "usage: $0 [--scrub]" >&2; exit 2 ;;
esac

readonly WIPE_NAME=.emotion-kiosk-wipe
BOOT=""
for d in "$ROOT/boot/firmware" "$ROOT/boot"; do
  if [[ -f $d/emotion-kiosk/provision.env ]]; then BOOT=$d; break; fi
done

# Overwrites the free space of the FAT partition mounted at $1 with zeros: a file as large as the free space,
# flushed, then deleted. Nothing may be logged to the partition meanwhile (it is full until the file is gone).
# Returns 1 (and does nothing) when $1 is not a FAT partition's own mount.
wipe_free_space() {
  local fill=$1/$WIPE_NAME type
  # Only the FAT boot partition (its own mount; fuseblk: a FAT mounted through FUSE), never a directory on a large
  # file system that filling would take down.
  type=$(stat -f -c %T -- "$1" 2>/dev/null || true)
  if ! mountpoint -q -- "$1" || [[ ! $type =~ ^(msdos|vfat|fuseblk)$ ]]; then
    return 1
  fi
  dd if=/dev/zero of="$fill" bs=1M conv=fsync status=none 2>/dev/null || true
  sync
  rm -f -- "$fill"
  sync
}

# A wipe cut short (power lost) left the partition full: finish it, then there is nothing more to do.
for d in "$ROOT/boot/firmware" "$ROOT/boot"; do
  if [[ -e $d/$WIPE_NAME ]]; then
    echo "emotion-kiosk-firstboot: finishing the wipe of the free space on $d that was cut short"
    wipe_free_space "$d" || true
  fi
done

if [[ -z $BOOT ]]; then
  echo "emotion-kiosk-firstboot: no emotion-kiosk/provision.env on the boot partition: nothing to do"
  systemctl disable emotion-kiosk-firstboot.service || true
  exit 0
fi
EK_DIR=$BOOT/emotion-kiosk
# The log is kept on the root file system and copied whole to the boot partition (firstboot.log, readable from any
# computer) after each step: nothing is appended to the FAT, and nothing is written to it while its free space is
# being wiped.
mkdir -p "$ROOT/var/log"
RLOG=$ROOT/var/log/emotion-kiosk-firstboot.log
LOG=$EK_DIR/firstboot.log
log() { printf '%s\n' "$*" | tee -a "$RLOG"; }
copy_log() {
  rm -f -- "$LOG"
  cp -- "$RLOG" "$LOG" 2>/dev/null || true
}

# The files on the boot partition that hold secrets, each with what it holds (only those present and non-empty).
secrets_present() {
  local f what
  # provision.env holds secrets only for the systemd first-boot format (with cloud-init they are empty there).
  if (
    EK_PASSWORD_HASH="" EK_WIFI_PSK=""
    # shellcheck source=/dev/null
    . "$EK_DIR/provision.env" 2>/dev/null
    [[ -n $EK_PASSWORD_HASH$EK_WIFI_PSK ]]
  ); then
    printf '  %s (%s)\n' "$EK_DIR/provision.env" "login password hash, Wi-Fi PSK"
  fi
  while IFS='|' read -r f what; do
    [[ -s $f ]] && printf '  %s (%s)\n' "$f" "$what"
  done <<EOF
$EK_DIR/config-seed.yaml|MQTT password and settings
$BOOT/user-data|cloud-init: login password hash, SSH keys
$BOOT/network-config|cloud-init: Wi-Fi PSK
EOF
  # user-data after the scrub is an empty #cloud-config: not a secret.
  return 0
}

# Overwrites a file with zeros where it lies (a FAT file system rewrites a file's own clusters), then deletes it.
scrub() {
  local f
  for f; do
    [[ -e $f ]] || continue
    shred --iterations=0 --zero -- "$f" 2>/dev/null || dd if=/dev/zero of="$f" bs="$(stat -c %s -- "$f")" count=1 conv=notrunc,fsync status=none
    rm -f -- "$f"
  done
}

remove_secrets() {
  log "emotion-kiosk-firstboot: removing the secrets and the bundle from the boot partition"
  scrub "$EK_DIR/config-seed.yaml" "$EK_DIR/authorized_keys" "$BOOT/network-config"
  rm -f -- "$EK_DIR/emotion-kiosk-bundle.tar.gz"
  if [[ -e $BOOT/user-data ]]; then
    # cloud-init finds its seed only with a user-data file: an empty config, so that nothing runs again.
    scrub "$BOOT/user-data"
    printf '#cloud-config\n# emotion-kiosk: provisioned %s; the first-boot settings (user, password hash, SSH keys) were removed.\n' \
      "$(date -u +%FT%TZ)" >"$BOOT/user-data"
    if [[ -d $ROOT/etc/cloud/cloud.cfg.d ]]; then
      # network-config is gone: cloud-init must never render the network again (the Wi-Fi it set up stays).
      printf '# emotion-kiosk-firstboot: the network was set up on the first boot; its seed (with the Wi-Fi PSK) is deleted.\nnetwork: {config: disabled}\n' \
        >"$ROOT/etc/cloud/cloud.cfg.d/99-emotion-kiosk-network.cfg"
    fi
  fi
  # Last: provision.env starts this service.
  scrub "$EK_DIR/provision.env"
  log "emotion-kiosk-firstboot: overwriting the free space of the boot partition with zeros (deleted files keep their bytes on FAT until overwritten)"
  if wipe_free_space "$BOOT"; then
    log "emotion-kiosk-firstboot: no secret is left on the boot partition"
  else
    log "emotion-kiosk-firstboot: the secret files are overwritten and deleted; $BOOT is not the FAT boot partition's own mount ($(stat -f -c %T -- "$BOOT" 2>/dev/null)), so its free space was not wiped"
  fi
}

if [[ $MODE == scrub ]]; then
  remove_secrets
  copy_log
  systemctl disable emotion-kiosk-firstboot.service || true
  exit 0
fi

on_exit() {
  local rc=$?
  [[ -n ${WORK:-} ]] && rm -rf -- "$WORK"
  ((rc == 0)) && return
  log "emotion-kiosk-firstboot: provisioning FAILED (exit $rc; the reason is above). systemd retries every 2 minutes."
  log "emotion-kiosk-firstboot: until it succeeds these secrets are STILL ON THE BOOT PARTITION, readable by anyone who has the card:"
  secrets_present | tee -a "$RLOG"
  log "emotion-kiosk-firstboot: they are overwritten and deleted after the first successful run. To remove them now (provisioning then cannot resume): sudo emotion-kiosk-firstboot --scrub"
  copy_log
}
trap on_exit EXIT

log "emotion-kiosk firstboot $(date -u +%FT%TZ) from $EK_DIR"
copy_log

EK_KIOSK=headless EK_WITH_MOSQUITTO=0
# shellcheck source=/dev/null
. "$EK_DIR/provision.env"

BUNDLE=$EK_DIR/emotion-kiosk-bundle.tar.gz
[[ -f $BUNDLE ]] || { log "emotion-kiosk-firstboot: $BUNDLE is missing: run flash.sh again with --bundle"; exit 1; }
WORK=$(mktemp -d)
tar -xzf "$BUNDLE" -C "$WORK" --wildcards '*/device/setup.sh' 2>&1 | tee -a "$RLOG"
SETUP=$(find "$WORK" -path '*/device/setup.sh' -print -quit)
[[ -n $SETUP ]] || { log "emotion-kiosk-firstboot: the bundle has no device/setup.sh"; exit 1; }

args=(--bundle "$BUNDLE" --kiosk "$EK_KIOSK")
[[ -f $EK_DIR/config-seed.yaml ]] && args+=(--config-seed "$EK_DIR/config-seed.yaml")
[[ $EK_WITH_MOSQUITTO == 1 ]] && args+=(--with-mosquitto)
copy_log
bash "$SETUP" "${args[@]}" 2>&1 | tee -a "$RLOG"

log "emotion-kiosk-firstboot: provisioned"
remove_secrets
date -u +%FT%TZ >"$EK_DIR/firstboot.done"
copy_log
systemctl disable emotion-kiosk-firstboot.service
