#!/bin/bash
# emotion-kiosk first boot, part 1: written to the boot partition by device/flash.sh for Raspberry Pi OS images
# that use the "systemd" first-boot format (Bullseye, Bookworm, the first Trixie release): cmdline.txt gets
#   systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target
# exactly as Raspberry Pi Imager writes it. On Bookworm, raspberrypi-sys-mods' initramfs hook (imager_fixup)
# rewrites that to /boot/firmware/firstrun.sh and replaces everything from the `rm ... firstrun.sh` line on with
# its own clean-up, so that line must stay the first of the final three.
#
# This part runs early, without network: hostname, user, SSH key, Wi-Fi, and it installs the one-shot
# emotion-kiosk-firstboot.service, which runs setup.sh with the bundle once the network is up (part 2).
set +e

BOOT_DIR=$(dirname "$(readlink -f "$0")")
EK_DIR=$BOOT_DIR/emotion-kiosk
exec >>"$EK_DIR/firstrun.log" 2>&1
echo "emotion-kiosk firstrun.sh $(date -u +%FT%TZ) from $BOOT_DIR"

EK_HOSTNAME="" EK_USER="" EK_PASSWORD_HASH="" EK_WIFI_SSID="" EK_WIFI_PSK="" EK_WIFI_COUNTRY=""
# shellcheck source=/dev/null
. "$EK_DIR/provision.env"
IMAGER_CUSTOM=/usr/lib/raspberrypi-sys-mods/imager_custom

if [ -n "$EK_HOSTNAME" ]; then
  CURRENT_HOSTNAME=$(tr -d " \t\n\r" </etc/hostname)
  if [ -x "$IMAGER_CUSTOM" ]; then
    "$IMAGER_CUSTOM" set_hostname "$EK_HOSTNAME"
  else
    echo "$EK_HOSTNAME" >/etc/hostname
    sed -i "s/127.0.1.1.*$CURRENT_HOSTNAME/127.0.1.1\t$EK_HOSTNAME/g" /etc/hosts
  fi
fi

# The first user (uid 1000): renamed to EK_USER, password set or locked (key-only login).
if [ -n "$EK_USER" ]; then
  if [ -x /usr/lib/userconf-pi/userconf ]; then
    /usr/lib/userconf-pi/userconf "$EK_USER" "$EK_PASSWORD_HASH"
  else
    FIRSTUSER=$(getent passwd 1000 | cut -d: -f1)
    if [ -n "$FIRSTUSER" ] && [ "$FIRSTUSER" != "$EK_USER" ]; then
      usermod -l "$EK_USER" "$FIRSTUSER"
      usermod -m -d "/home/$EK_USER" "$EK_USER"
      groupmod -n "$EK_USER" "$FIRSTUSER"
    fi
    if [ -n "$EK_PASSWORD_HASH" ]; then echo "$EK_USER:$EK_PASSWORD_HASH" | chpasswd -e; fi
  fi
fi

if [ -s "$EK_DIR/authorized_keys" ]; then
  mapfile -t KEYS <"$EK_DIR/authorized_keys"
  if [ -x "$IMAGER_CUSTOM" ]; then
    "$IMAGER_CUSTOM" enable_ssh -k "${KEYS[@]}"
  else
    FIRSTUSER=$(getent passwd 1000 | cut -d: -f1)
    FIRSTUSERHOME=$(getent passwd 1000 | cut -d: -f6)
    install -o "$FIRSTUSER" -m 700 -d "$FIRSTUSERHOME/.ssh"
    cat "$EK_DIR/authorized_keys" >>"$FIRSTUSERHOME/.ssh/authorized_keys"
    chown "$FIRSTUSER:$FIRSTUSER" "$FIRSTUSERHOME/.ssh/authorized_keys"
    chmod 600 "$FIRSTUSERHOME/.ssh/authorized_keys"
    echo 'PasswordAuthentication no' >>/etc/ssh/sshd_config
    systemctl enable ssh
  fi
fi

if [ -n "$EK_WIFI_SSID" ]; then
  if [ -x "$IMAGER_CUSTOM" ] && [ -d /etc/NetworkManager ]; then
    "$IMAGER_CUSTOM" set_wlan "$EK_WIFI_SSID" "$EK_WIFI_PSK" "$EK_WIFI_COUNTRY"
  else
    # Bullseye: wpa_supplicant.
    SSID_ESCAPED=$(printf '%s' "$EK_WIFI_SSID" | sed 's/\\/\\\\/g; s/"/\\"/g')
    case ${#EK_WIFI_PSK} in 64) PSK_LINE="psk=$EK_WIFI_PSK" ;; *) PSK_LINE="psk=\"$EK_WIFI_PSK\"" ;; esac
    {
      [ -n "$EK_WIFI_COUNTRY" ] && echo "country=$EK_WIFI_COUNTRY"
      echo "ctrl_interface=DIR=/var/run/wpa_supplicant GROUP=netdev"
      echo "ap_scan=1"
      echo "update_config=1"
      echo "network={"
      echo "	ssid=\"$SSID_ESCAPED\""
      echo "	$PSK_LINE"
      echo "}"
    } >/etc/wpa_supplicant/wpa_supplicant.conf
    chmod 600 /etc/wpa_supplicant/wpa_supplicant.conf
  fi
  rfkill unblock wifi
  for f in /var/lib/systemd/rfkill/*:wlan; do [ -e "$f" ] && echo 0 >"$f"; done
fi

# Part 2 runs once the network is up (setup.sh installs packages with apt).
install -m 0755 "$EK_DIR/firstboot.sh" /usr/local/sbin/emotion-kiosk-firstboot
install -m 0644 "$EK_DIR/emotion-kiosk-firstboot.service" /etc/systemd/system/emotion-kiosk-firstboot.service
mkdir -p /etc/systemd/system/multi-user.target.wants
ln -sf /etc/systemd/system/emotion-kiosk-firstboot.service /etc/systemd/system/multi-user.target.wants/emotion-kiosk-firstboot.service
echo "emotion-kiosk firstrun.sh done; emotion-kiosk-firstboot.service runs setup.sh after the reboot"

rm -f /boot/firstrun.sh
sed -i 's| systemd.run.*||g' /boot/cmdline.txt
exit 0
