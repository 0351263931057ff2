#!/bin/bash
# emotion-kiosk first boot, part 2 (installed as /usr/local/sbin/emotion-kiosk-firstboot and run by
# emotion-kiosk-firstboot.service once the network is online): runs setup.sh with the bundle and the settings
# flash.sh put on the boot partition. On success it removes the secrets (Wi-Fi and MQTT passwords) and the
# bundle from the boot partition and disables itself; on failure systemd retries, and the log is kept in the
# journal (journalctl -u emotion-kiosk-firstboot) and in emotion-kiosk/firstboot.log on the boot partition.
set -Eeuo pipefail

EK_DIR=""
for d in /boot/firmware/emotion-kiosk /boot/emotion-kiosk; do
  if [[ -f $d/provision.env ]]; then EK_DIR=$d; break; fi
done
if [[ -z $EK_DIR ]]; then
  echo "emotion-kiosk-firstboot: no emotion-kiosk/provision.env on the boot partition: nothing to do"
  systemctl disable emotion-kiosk-firstboot.service || true
  exit 0
fi
exec > >(tee -a "$EK_DIR/firstboot.log") 2>&1
echo "emotion-kiosk firstboot $(date -u +%FT%TZ) from $EK_DIR"

EK_KIOSK=headless EK_WITH_MOSQUITTO=0
# shellcheck source=/dev/null
. "$EK_DIR/provision.env"

BUNDLE=$EK_DIR/emotion-kiosk-bundle.tar.gz
[[ -f $BUNDLE ]] || { echo "emotion-kiosk-firstboot: $BUNDLE is missing: run flash.sh again with --bundle"; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
tar -xzf "$BUNDLE" -C "$WORK" --wildcards '*/device/setup.sh'
SETUP=$(find "$WORK" -path '*/device/setup.sh' -print -quit)
[[ -n $SETUP ]] || { echo "emotion-kiosk-firstboot: the bundle has no device/setup.sh"; exit 1; }

args=(--bundle "$BUNDLE" --kiosk "$EK_KIOSK")
[[ -f $EK_DIR/config-seed.yaml ]] && args+=(--config-seed "$EK_DIR/config-seed.yaml")
[[ $EK_WITH_MOSQUITTO == 1 ]] && args+=(--with-mosquitto)
bash "$SETUP" "${args[@]}"

echo "emotion-kiosk-firstboot: provisioned; removing the secrets and the bundle from the boot partition"
rm -f "$EK_DIR/provision.env" "$EK_DIR/config-seed.yaml" "$EK_DIR/authorized_keys" "$BUNDLE"
date -u +%FT%TZ >"$EK_DIR/firstboot.done"
systemctl disable emotion-kiosk-firstboot.service
