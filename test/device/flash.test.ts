/**
 * device/flash.sh against image files the test makes (sfdisk + mkfs.vfat --offset + mtools: no mount, no loop
 * device), and its refusals. Refusal cases on real block devices always run with --dry-run, so nothing is written
 * even if a check were broken.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, pbkdf2Sync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from '../helpers/fixtures.js';

const flash = path.join(repoRoot, 'device', 'flash.sh');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-flash-'));
const BOOT_START = 8192; // sectors
const BOOT_SECTORS = 98304; // 48 MiB
const offset = `@@${BOOT_START * 512}`;
const STOCK_CMDLINE = 'console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait quiet splash plymouth.ignore-serial-consoles';
let bundle = '';
let key = '';

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, MTOOLS_SKIP_CHECK: '1', ...env } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A Raspberry Pi OS-like image: MBR, FAT32 boot partition with cmdline.txt and config.txt, a Linux partition. */
function makeImage(name: string, extraBootFiles: Record<string, string> = {}): string {
  const img = path.join(tmp, name);
  execFileSync('truncate', ['-s', '80M', img]);
  execFileSync('sfdisk', ['-q', img], { input: `label: dos\nstart=${BOOT_START}, size=${BOOT_SECTORS}, type=c\nstart=${BOOT_START + BOOT_SECTORS}, type=83\n` });
  execFileSync('mkfs.vfat', ['-F', '32', '-n', 'bootfs', '--offset', String(BOOT_START), img, String(BOOT_SECTORS / 2)], { stdio: 'ignore' });
  const files = { 'cmdline.txt': STOCK_CMDLINE + '\n', 'config.txt': '[all]\ncamera_auto_detect=1\n', ...extraBootFiles };
  for (const [f, content] of Object.entries(files)) {
    const local = path.join(tmp, `${name}-${f}`);
    writeFileSync(local, content);
    execFileSync('mcopy', ['-i', img + offset, local, `::/${f}`], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  }
  return img;
}

function bootFile(img: string, f: string): string {
  const r = run('mtype', ['-i', img + offset, `::/${f}`]);
  assert.equal(r.code, 0, `::/${f} exists: ${r.stderr}`);
  return r.stdout;
}

function bootHas(img: string, f: string): boolean {
  return run('mdir', ['-b', '-i', img + offset, `::/${f}`]).code === 0;
}

/** The variables provision.env defines, as bash reads them. */
function provisionEnv(img: string): Record<string, string> {
  const file = path.join(tmp, `provision-${path.basename(img)}.env`);
  writeFileSync(file, bootFile(img, 'emotion-kiosk/provision.env'));
  const out = execFileSync('bash', ['-c', `set -eu; . "$1"; for v in \${!EK_@}; do printf '%s\\0%s\\0' "$v" "\${!v}"; done`, 'x', file], { encoding: 'utf8' });
  const parts = out.split('\0');
  const env: Record<string, string> = {};
  for (let i = 0; i + 1 < parts.length; i += 2) env[parts[i]!] = parts[i + 1]!;
  return env;
}

before(() => {
  for (const tool of ['sfdisk', 'mkfs.vfat', 'mcopy', 'xz']) assert.equal(run('sh', ['-c', `command -v ${tool}`]).code, 0, `${tool} is needed (apt install fdisk dosfstools mtools xz-utils)`);
  // A bundle as far as flash.sh cares: an archive with emotion-kiosk-*/device/setup.sh inside.
  const b = path.join(tmp, 'b', 'emotion-kiosk-0.0.0-test', 'device');
  mkdirSync(b, { recursive: true });
  writeFileSync(path.join(b, 'setup.sh'), readFileSync(path.join(repoRoot, 'device', 'setup.sh')));
  writeFileSync(path.join(path.dirname(b), 'padding.bin'), createHash('sha256').update('x').digest());
  bundle = path.join(tmp, 'emotion-kiosk-0.0.0-test.tar.gz');
  execFileSync('tar', ['-czf', bundle, '-C', path.join(tmp, 'b'), '.']);
  key = path.join(tmp, 'id_ed25519.pub');
  writeFileSync(key, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHgcbsGt71sdS4y0a5cephOwHoGsQfW103WVhqDuT/JO operator@laptop\n');
});

after(() => rmSync(tmp, { recursive: true, force: true }));

const common = () => [
  '--yes', '--hostname', 'kiosk-7', '--user', 'kiosk', '--password', 's3cret pass', '--ssh-key', key,
  '--wifi-ssid', 'Café "Net"', '--wifi-password', 'wifi passphrase', '--wifi-country', 'GB',
  '--broker', 'mqtts://broker.lan:8883', '--mqtt-username', 'kiosk7', '--mqtt-password', 'p"w\\x', '--bundle', bundle,
];

test('writes a compressed image to an image file and adds systemd-style first boot (Bullseye/Bookworm)', () => {
  const src = makeImage('raspios.img');
  execFileSync('xz', ['-k', '-1', src]);
  const out = path.join(tmp, 'card.img');
  const r = run('bash', [flash, '--image', src + '.xz', '--target', out, ...common()]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /First-boot format: systemd/);

  // cmdline.txt: still one line, the stock parameters kept, Raspberry Pi Imager's first-boot hook appended.
  const cmdline = bootFile(out, 'cmdline.txt');
  assert.equal(cmdline.trimEnd().split('\n').length, 1);
  assert.equal(cmdline.trimEnd(), `${STOCK_CMDLINE} systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target`);
  assert.equal(bootFile(out, 'config.txt'), '[all]\ncamera_auto_detect=1\n', 'other boot files untouched');
  assert.equal(bootFile(out, 'firstrun.sh'), readFileSync(path.join(repoRoot, 'device/firstboot/firstrun.sh'), 'utf8'));
  assert.equal(bootFile(out, 'emotion-kiosk/firstboot.sh'), readFileSync(path.join(repoRoot, 'device/firstboot/firstboot.sh'), 'utf8'));
  assert.equal(bootFile(out, 'emotion-kiosk/emotion-kiosk-firstboot.service'), readFileSync(path.join(repoRoot, 'device/firstboot/emotion-kiosk-firstboot.service'), 'utf8'));
  assert.ok(readFileSync(bundle).equals(Buffer.from(execFileSync('mtype', ['-i', out + offset, '::/emotion-kiosk/emotion-kiosk-bundle.tar.gz'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } }))), 'bundle copied byte for byte');
  assert.equal(bootFile(out, 'emotion-kiosk/authorized_keys'), readFileSync(key, 'utf8'));

  const env = provisionEnv(out);
  assert.equal(env.EK_HOSTNAME, 'kiosk-7');
  assert.equal(env.EK_USER, 'kiosk');
  assert.equal(env.EK_WIFI_SSID, 'Café "Net"');
  assert.equal(env.EK_WIFI_COUNTRY, 'GB');
  assert.equal(env.EK_WIFI_PSK, pbkdf2Sync('wifi passphrase', 'Café "Net"', 4096, 32, 'sha1').toString('hex'), 'WPA PSK, not the passphrase');
  assert.doesNotMatch(bootFile(out, 'emotion-kiosk/provision.env'), /wifi passphrase|s3cret pass/, 'no clear-text secrets');
  const salt = /^\$6\$([^$]+)\$/.exec(env.EK_PASSWORD_HASH!)![1]!;
  assert.equal(execFileSync('openssl', ['passwd', '-6', '-salt', salt, 's3cret pass'], { encoding: 'utf8' }).trim(), env.EK_PASSWORD_HASH, 'SHA-512 crypt of the password');
  assert.equal(env.EK_KIOSK, 'headless');

  const seed = parseYaml(bootFile(out, 'emotion-kiosk/config-seed.yaml'));
  assert.deepEqual(seed, { mqtt: { broker: 'mqtts://broker.lan:8883', username: 'kiosk7', password: 'p"w\\x', deviceId: 'kiosk-7' } });

  // Provisioning an already provisioned card again replaces the hook instead of adding a second one.
  const again = run('bash', [flash, '--boot-only', '--target', out, ...common(), '--kiosk', 'dashboard']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(bootFile(out, 'cmdline.txt').match(/systemd\.run=/g)?.length, 1);
  assert.equal(provisionEnv(out).EK_KIOSK, 'dashboard');
});

test('firstrun.sh survives Bookworm\'s initramfs fix-up (raspberrypi-sys-mods imager_fixup) intact', () => {
  const dir = path.join(tmp, 'fixup');
  mkdirSync(dir);
  const script = path.join(dir, 'firstrun.sh');
  const cmdline = path.join(dir, 'cmdline.txt');
  writeFileSync(script, readFileSync(path.join(repoRoot, 'device/firstboot/firstrun.sh')));
  writeFileSync(cmdline, `${STOCK_CMDLINE} systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target\n`);
  // What imager_fixup does on Bookworm when cmdline.txt names /boot/firstrun.sh (RPi-Distro/raspberrypi-sys-mods,
  // initramfs-tools/scripts/local-bottom/imager_fixup).
  execFileSync('sh', ['-c', `sed -i 's|/boot/|/boot/firmware/|g' "$1"; sed -n -i '/rm.*firstrun\\.sh$/q;p' "$2"; printf 'rm -f /boot/firmware/firstrun.sh\\nsed -i %s /boot/firmware/cmdline.txt\\nexit 0\\n' "'s| systemd\\.[^ ]*||g'" >> "$2"`, 'x', cmdline, script]);
  const fixed = readFileSync(script, 'utf8');
  assert.match(readFileSync(cmdline, 'utf8'), /systemd\.run=\/boot\/firmware\/firstrun\.sh/);
  for (const step of ['set_hostname', 'userconf', 'enable_ssh', 'set_wlan', 'emotion-kiosk-firstboot.service']) assert.ok(fixed.includes(step), `${step} kept`);
  assert.match(fixed, /rm -f \/boot\/firmware\/firstrun\.sh\nsed -i .*\nexit 0\n$/);
  assert.equal(run('bash', ['-n', script]).code, 0, 'still valid shell');
});

test('cloud-init images (later Trixie) get user-data / network-config instead', () => {
  const src = makeImage('trixie.img', { 'meta-data': 'instance_id: rpios-image\n', 'user-data': '#cloud-config\n' });
  const out = path.join(tmp, 'trixie-card.img');
  const r = run('bash', [flash, '--image', src, '--target', out, ...common()]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /First-boot format: cloudinit/);
  assert.equal(bootFile(out, 'cmdline.txt'), STOCK_CMDLINE + '\n', 'no systemd.run hook on a cloud-init image');
  assert.ok(!bootHas(out, 'firstrun.sh'));
  assert.equal(bootFile(out, 'meta-data'), 'instance_id: rpios-image\n', 'the image\'s meta-data kept');
  const userData = bootFile(out, 'user-data');
  assert.match(userData, /^#cloud-config\n/);
  const ud = parseYaml(userData);
  assert.equal(ud.hostname, 'kiosk-7');
  assert.equal(ud.enable_ssh, true);
  assert.equal(ud.users[0].name, 'kiosk');
  assert.deepEqual(ud.users[0].ssh_authorized_keys, [readFileSync(key, 'utf8').trim()]);
  assert.match(ud.users[0].passwd, /^\$6\$/);
  assert.ok(ud.runcmd.some((c: string[]) => c.join(' ') === 'systemctl enable --now --no-block emotion-kiosk-firstboot.service'));
  const nc = parseYaml(bootFile(out, 'network-config'));
  assert.equal(nc.network.wifis.wlan0['regulatory-domain'], 'GB');
  assert.equal(nc.network.wifis.wlan0['access-points']['Café "Net"'].password, pbkdf2Sync('wifi passphrase', 'Café "Net"', 4096, 32, 'sha1').toString('hex'));
  assert.ok(bootHas(out, 'emotion-kiosk/emotion-kiosk-bundle.tar.gz'));
});

test('refuses a missing image, a missing bundle, a 32-bit image and a target without a boot partition', () => {
  const out = path.join(tmp, 'never.img');
  let r = run('bash', [flash, '--image', path.join(tmp, 'nope.img.xz'), '--target', out, ...common()]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /image .*nope\.img\.xz not found: download Raspberry Pi OS Lite \(64-bit\)/);
  const src = makeImage('plain.img');
  r = run('bash', [flash, '--image', src, '--target', out, ...common().slice(0, -2)]);
  assert.match(r.stderr, /--bundle is required/);
  writeFileSync(path.join(tmp, '2024-11-19-raspios-bookworm-armhf-lite.img'), '');
  r = run('bash', [flash, '--image', path.join(tmp, '2024-11-19-raspios-bookworm-armhf-lite.img'), '--target', out, ...common()]);
  assert.match(r.stderr, /32-bit \(armhf\).*64-bit/);
  const blank = path.join(tmp, 'blank.img');
  execFileSync('truncate', ['-s', '8M', blank]);
  r = run('bash', [flash, '--boot-only', '--target', blank, ...common()]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no readable partition table|no FAT boot partition/);
  assert.ok(!existsSync(out), 'nothing was written');
});

/** A whole-disk block device of this machine, if there is one (e.g. vda, sda, nvme0n1). */
function someDisk(): string | undefined {
  const r = run('lsblk', ['-dnpo', 'NAME,TYPE']);
  return r.stdout.split('\n').map((l) => l.trim().split(/\s+/)).find(([, type]) => type === 'disk')?.[0];
}

test('refuses the disk the running system is on, and a mounted disk (checked with --dry-run)', (t) => {
  const src = makeImage('refuse.img');
  const disk = someDisk();
  if (!disk) {
    t.skip('no block device on this machine');
    return;
  }
  // The system disk: a mount table where / lives on that disk's first partition (or the disk itself).
  const mounts = path.join(tmp, 'mounts');
  writeFileSync(mounts, `${disk} / ext4 rw 0 0\nproc /proc proc rw 0 0\n`);
  let r = run('bash', [flash, '--dry-run', '--image', src, '--target', disk, ...common()], { EMOTION_KIOSK_FLASH_MOUNTS: mounts });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /holds the running system .*refusing to overwrite it/);
  // The live mount table too (no override): this machine's root disk is refused if / is on a block device.
  const rootSource = run('findmnt', ['-nvo', 'SOURCE', '/']).stdout.trim();
  if (rootSource.startsWith('/dev/')) {
    const rootDisk = run('lsblk', ['-npso', 'NAME', rootSource]).stdout.trim().split('\n').pop()!.trim();
    r = run('bash', [flash, '--dry-run', '--image', src, '--target', rootDisk, ...common()]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /holds the running system/);
  }
  // A mounted disk that is not the system disk: an SD card's partition mounted by the desktop.
  writeFileSync(mounts, `/dev/fake-root / ext4 rw 0 0\n${disk} /media/operator/bootfs vfat rw 0 0\n`);
  r = run('bash', [flash, '--dry-run', '--image', src, '--target', disk, ...common()], { EMOTION_KIOSK_FLASH_MOUNTS: mounts });
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`${disk} is mounted \\(${disk} on /media/operator/bootfs\\): unmount it first`));
  // Neither: the dry run passes the checks and would write.
  writeFileSync(mounts, `/dev/fake-root / ext4 rw 0 0\n`);
  r = run('bash', [flash, '--dry-run', '--image', src, '--target', disk, ...common()], { EMOTION_KIOSK_FLASH_MOUNTS: mounts });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\[dry-run\] would write/);
});
