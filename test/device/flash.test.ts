/**
 * device/flash.sh against image files the test makes (sfdisk + mkfs.vfat --offset + mtools: no mount, no loop
 * device), and its refusals. Refusal cases on real block devices always run with --dry-run, so nothing is written
 * even if a check were broken.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, pbkdf2Sync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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
/** A bundle whose device/setup.sh is a stand-in (prints its arguments, exits $EK_STUB_SETUP_EXIT): first boots are
 * simulated with it, so the real setup.sh never runs on this machine. */
let stubBundle = '';
const LOGIN_PASSWORD = 's3cret pass';
const WIFI_PASSWORD = 'wifi passphrase';
const MQTT_PASSWORD = 'p"w\\x';
const files = { login: '', wifi: '', mqtt: '' };

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
  const sb = path.join(tmp, 'sb', 'emotion-kiosk-0.0.0-stub', 'device');
  mkdirSync(sb, { recursive: true });
  writeFileSync(path.join(sb, 'setup.sh'), '#!/bin/sh\necho "stub setup.sh $*"\nexit "${EK_STUB_SETUP_EXIT:-0}"\n');
  stubBundle = path.join(tmp, 'emotion-kiosk-0.0.0-stub.tar.gz');
  execFileSync('tar', ['-czf', stubBundle, '-C', path.join(tmp, 'sb'), '.']);
  for (const [k, v] of [['login', LOGIN_PASSWORD], ['wifi', WIFI_PASSWORD], ['mqtt', MQTT_PASSWORD]] as const) {
    files[k] = path.join(tmp, `${k}.password`);
    writeFileSync(files[k], v + '\n', { mode: 0o600 });
  }
  key = path.join(tmp, 'id_ed25519.pub');
  writeFileSync(key, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHgcbsGt71sdS4y0a5cephOwHoGsQfW103WVhqDuT/JO operator@laptop\n');
});

after(() => rmSync(tmp, { recursive: true, force: true }));

const common = (b = bundle) => [
  '--yes', '--hostname', 'kiosk-7', '--user', 'kiosk', '--password-file', files.login, '--ssh-key', key,
  '--wifi-ssid', 'Café "Net"', '--wifi-password-file', files.wifi, '--wifi-country', 'GB',
  '--broker', 'mqtts://broker.lan:8883', '--mqtt-username', 'kiosk7', '--mqtt-password-file', files.mqtt, '--bundle', b,
];
const PSK = () => pbkdf2Sync(WIFI_PASSWORD, 'Café "Net"', 4096, 32, 'sha1').toString('hex');

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
  // The camera view at boot (setup.sh --kiosk display) is a mode a card can be flashed with too; a made-up one is refused.
  const display = run('bash', [flash, '--boot-only', '--target', out, ...common(), '--kiosk', 'display']);
  assert.equal(display.code, 0, display.stderr);
  assert.equal(provisionEnv(out).EK_KIOSK, 'display');
  const wrong = run('bash', [flash, '--boot-only', '--target', out, ...common(), '--kiosk', 'desktop']);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /--kiosk must be headless, dashboard or display/);
  assert.equal(provisionEnv(out).EK_KIOSK, 'display', 'a refused run changes nothing');
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
  // Neither, by the (fake) mount table: the table's checks pass. As root the exclusive open still has its say (the
  // disk may be in use for real, or not openable in a container); the loop-device test below covers it.
  writeFileSync(mounts, `/dev/fake-root / ext4 rw 0 0\n`);
  r = run('bash', [flash, '--dry-run', '--image', src, '--target', disk, ...common()], { EMOTION_KIOSK_FLASH_MOUNTS: mounts });
  if (r.code === 0) assert.match(r.stdout, /\[dry-run\] would write/);
  else assert.match(r.stderr, /is in use: the kernel refuses to open .* exclusively|cannot be opened exclusively/, 'only the exclusive open (as root) may refuse it');
});

test('passwords never on the command line: the value options are refused with what to use instead', () => {
  const src = makeImage('nopw.img');
  const out = path.join(tmp, 'nopw-card.img');
  for (const [opt, value] of [['--password', LOGIN_PASSWORD], ['--wifi-password', WIFI_PASSWORD], ['--mqtt-password', MQTT_PASSWORD]]) {
    const r = run('bash', [flash, '--image', src, '--target', out, ...common(), opt!, value!]);
    assert.equal(r.code, 1, `${opt} is refused`);
    assert.match(r.stderr, new RegExp(`${opt} takes no password on the command line \\(ps and the shell history would show it\\): use ${opt}-file FILE`));
  }
  assert.ok(!existsSync(out), 'nothing was written');
  const empty = path.join(tmp, 'empty.password');
  writeFileSync(empty, '');
  let r = run('bash', [flash, '--image', src, '--target', out, ...common(), '--wifi-password-file', empty]);
  assert.match(r.stderr, /Wi-Fi password for Café "Net": .*empty\.password is empty/);
  r = run('bash', [flash, '--image', src, '--target', out, ...common(), '--wifi-password-file', '-', '--mqtt-password-file', '-']);
  assert.match(r.stderr, /only one of --password-file, --wifi-password-file, --mqtt-password-file can be - \(stdin\)/);
});

test('a password can come on stdin (--wifi-password-file -)', () => {
  const src = makeImage('stdin.img');
  const out = path.join(tmp, 'stdin-card.img');
  const r = spawnSync('bash', [flash, '--image', src, '--target', out, ...common(), '--wifi-password-file', '-'], {
    encoding: 'utf8',
    input: 'another passphrase\n',
    env: { ...process.env, MTOOLS_SKIP_CHECK: '1' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(provisionEnv(out).EK_WIFI_PSK, pbkdf2Sync('another passphrase', 'Café "Net"', 4096, 32, 'sha1').toString('hex'));
});

/**
 * A PATH where every program is a logging stand-in for the real one: the test sees the command line of every program
 * flash.sh starts (what `ps` shows to every user on the machine during the write).
 */
function loggingPath(dir: string, logFile: string): string {
  mkdirSync(dir, { recursive: true });
  const wrapper = path.join(dir, '.log-argv');
  writeFileSync(
    wrapper,
    '#!/bin/sh\nn=${0##*/}\n{ printf "%s" "$n"; for a in "$@"; do printf " %s" "$a"; done; printf "\\n"; } >>"$EK_ARGV_LOG"\n' +
      'IFS=:\nfor d in $EK_REAL_PATH; do if [ -x "$d/$n" ]; then exec "$d/$n" "$@"; fi; done\necho "no $n" >&2; exit 127\n',
  );
  chmodSync(wrapper, 0o755);
  const seen = new Set<string>();
  for (const d of (process.env.PATH ?? '').split(':')) {
    let names: string[] = [];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      if (seen.has(n) || n.startsWith('.')) continue;
      seen.add(n);
      symlinkSync(wrapper, path.join(dir, n));
    }
  }
  writeFileSync(logFile, '');
  return dir;
}

test('no password, hash or PSK is on the command line of any program flash.sh runs', () => {
  const src = makeImage('argv.img');
  execFileSync('xz', ['-k', '-1', src]);
  const argvLog = path.join(tmp, 'argv.log');
  const shims = loggingPath(path.join(tmp, 'argv-bin'), argvLog);
  const out = path.join(tmp, 'argv-card.img');
  const r = spawnSync('bash', [flash, '--image', src + '.xz', '--target', out, ...common()], {
    encoding: 'utf8',
    env: { ...process.env, MTOOLS_SKIP_CHECK: '1', PATH: shims, EK_REAL_PATH: process.env.PATH, EK_ARGV_LOG: argvLog },
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = readFileSync(argvLog, 'utf8').split('\n').filter(Boolean);
  assert.ok(lines.some((l) => /^(openssl|mkpasswd) /.test(l)), 'the password was hashed by a program (it is logged)');
  assert.ok(lines.some((l) => /^(python3|node) /.test(l)), 'the PSK was computed by a program (it is logged)');
  const env = provisionEnv(out);
  for (const secret of [LOGIN_PASSWORD, WIFI_PASSWORD, MQTT_PASSWORD, env.EK_PASSWORD_HASH!, env.EK_WIFI_PSK!]) {
    const hit = lines.find((l) => l.includes(secret));
    assert.equal(hit, undefined, `a program got ${JSON.stringify(secret)} on its command line: ${hit}`);
  }
});

test('--target the image itself (or a link to it) is refused, and the image is left as it was', () => {
  const src = makeImage('self.img');
  const before = readFileSync(src);
  const link = path.join(tmp, 'self-link.img');
  symlinkSync(src, link);
  for (const target of [src, link]) {
    const r = run('bash', [flash, '--image', src, '--target', target, ...common()]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--target .* is the image itself \(--image .*self\.img\): writing it would destroy the image/);
  }
  assert.ok(readFileSync(src).equals(before), 'the image is untouched');
});

/** A loop device over a new blank file, or undefined when this machine cannot make one (not root, no loop). */
function loopDevice(name: string): { dev: string; file: string } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const file = path.join(tmp, name);
  execFileSync('truncate', ['-s', '80M', file]);
  const r = run('losetup', ['--find', '--show', file]);
  return r.code === 0 && r.stdout.trim().startsWith('/dev/') ? { dev: r.stdout.trim(), file } : undefined;
}

test('a disk something holds exclusively (as LVM, MD RAID or ZFS do) is refused; a free one is written (O_EXCL)', async (t) => {
  const loop = loopDevice('loop-target.img');
  if (!loop) {
    t.skip('needs root and a loop device (losetup)');
    return;
  }
  const holder = spawn('python3', ['-c', 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL); print("held", flush=True); sys.stdin.read()', loop.dev], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.once('data', () => resolve());
      holder.once('exit', (code) => reject(new Error(`the holder exited ${code}`)));
    });
    const src = makeImage('loop-src.img');
    for (const dry of [['--dry-run'], []]) {
      const r = run('bash', [flash, ...dry, '--image', src, '--target', loop.dev, ...common()]);
      assert.equal(r.code, 1, `${dry.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, new RegExp(`${loop.dev} is in use: the kernel refuses to open ${loop.dev} exclusively.*LVM volume group, an MD RAID array, a ZFS pool.*Nothing was written`));
    }
    const head = Buffer.alloc(1024 * 1024);
    assert.ok(readFileSync(loop.file).subarray(0, head.length).equals(head), 'not a byte was written');
    holder.stdin!.end();
    await new Promise((resolve) => holder.once('exit', resolve));
    const r = run('bash', [flash, '--image', src, '--target', loop.dev, ...common()]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /MiB written and flushed/);
    assert.match(bootFile(loop.file, 'cmdline.txt'), /systemd\.run=\/boot\/firstrun\.sh/, 'written through the device and provisioned');
  } finally {
    holder.kill();
    run('losetup', ['-d', loop.dev]);
  }
});

// ---------------------------------------------------------------------------------------------------------------
// The first boot, simulated: firstboot.sh runs against the image's boot partition, mounted the way a Pi mounts it.
// ---------------------------------------------------------------------------------------------------------------

function canMountFat(): string | undefined {
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse';
  for (const tool of ['fusefat', 'fusermount']) if (run('sh', ['-c', `command -v ${tool}`]).code !== 0) return `${tool} is not installed (apt install fusefat fuse)`;
  return undefined;
}

/** The boot partition's raw bytes (FAT, deleted clusters included). */
function partitionBytes(img: string): Buffer {
  return readFileSync(img).subarray(BOOT_START * 512, (BOOT_START + BOOT_SECTORS) * 512);
}

/** Secrets found in the partition's raw bytes. */
function secretsIn(bytes: Buffer, secrets: string[]): string[] {
  return secrets.filter((x) => bytes.includes(Buffer.from(x, 'utf8')));
}

/**
 * Runs device/firstboot/firstboot.sh against the image's boot partition as /boot/firmware of a stand-in root: the
 * partition is copied out, mounted with fusefat (read-write, like the Pi's vfat mount), the script runs, the
 * partition is unmounted and copied back. `systemctl` is a stand-in that logs.
 */
function firstBoot(img: string, name: string, env: NodeJS.ProcessEnv = {}, args: string[] = []): { code: number; out: string; systemctl: string } {
  const root = path.join(tmp, `${name}-root`);
  const boot = path.join(root, 'boot', 'firmware');
  mkdirSync(boot, { recursive: true });
  mkdirSync(path.join(root, 'etc', 'cloud', 'cloud.cfg.d'), { recursive: true });
  const bin = path.join(tmp, `${name}-bin`);
  mkdirSync(bin, { recursive: true });
  writeFileSync(path.join(bin, 'systemctl'), `#!/bin/sh
echo "systemctl $*" >>"${path.join(tmp, `${name}-systemctl.log`)}"
`);
  chmodSync(path.join(bin, 'systemctl'), 0o755);
  const part = path.join(tmp, `${name}-part.img`);
  execFileSync('dd', [`if=${img}`, `of=${part}`, 'bs=512', `skip=${BOOT_START}`, `count=${BOOT_SECTORS}`, 'status=none']);
  execFileSync('fusefat', ['-o', 'rw+', part, boot], { stdio: 'ignore' });
  let r;
  try {
    r = spawnSync('bash', [path.join(repoRoot, 'device/firstboot/firstboot.sh'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, EMOTION_KIOSK_FIRSTBOOT_ROOT: root, PATH: `${bin}:${process.env.PATH}`, ...env },
    });
  } finally {
    execFileSync('fusermount', ['-u', boot]);
  }
  execFileSync('dd', [`if=${part}`, `of=${img}`, 'bs=512', `seek=${BOOT_START}`, 'conv=notrunc', 'status=none']);
  const log = path.join(tmp, `${name}-systemctl.log`);
  return { code: r.status ?? -1, out: r.stdout + r.stderr, systemctl: existsSync(log) ? readFileSync(log, 'utf8') : '' };
}

for (const format of ['systemd', 'cloudinit'] as const) {
  test(`after a successful first boot no password, hash or PSK is left on the boot partition, not even in its free space (${format})`, (t) => {
    const why = canMountFat();
    if (why) {
      t.skip(`mounting the FAT partition needs fusefat: ${why}`);
      return;
    }
    const extra: Record<string, string> = format === 'cloudinit' ? { 'meta-data': 'instance_id: rpios-image\n', 'user-data': '#cloud-config\n' } : {};
    const src = makeImage(`fb-${format}.img`, extra);
    const card = path.join(tmp, `fb-${format}-card.img`);
    let r = run('bash', [flash, '--image', src, '--target', card, ...common(stubBundle)]);
    assert.equal(r.code, 0, r.stderr);
    const hashes = [format === 'systemd' ? provisionEnv(card).EK_PASSWORD_HASH! : (parseYaml(bootFile(card, 'user-data')) as { users: { passwd: string }[] }).users[0]!.passwd];
    // Provisioned twice, as an operator may: the first copies of the files stay in the FAT's free clusters.
    r = run('bash', [flash, '--boot-only', '--target', card, ...common(stubBundle)]);
    assert.equal(r.code, 0, r.stderr);
    hashes.push(format === 'systemd' ? provisionEnv(card).EK_PASSWORD_HASH! : (parseYaml(bootFile(card, 'user-data')) as { users: { passwd: string }[] }).users[0]!.passwd);
    assert.notEqual(hashes[0], hashes[1], 'a new salt each time');
    // Each secret as it may lie on the card: as such, and as the files encode it (bash %q escapes a hash's `$`, so
    // its checksum, the part after the last `$`, is searched too; YAML/JSON escapes the MQTT password's `"` and `\`).
    const checksums = hashes.map((h) => h.slice(h.lastIndexOf('$') + 1));
    const mqttEncoded = JSON.stringify(MQTT_PASSWORD).slice(1, -1);
    const secrets = [LOGIN_PASSWORD, WIFI_PASSWORD, MQTT_PASSWORD, mqttEncoded, PSK(), ...hashes, ...checksums];
    if (format === 'cloudinit') {
      const env = provisionEnv(card);
      assert.deepEqual([env.EK_PASSWORD_HASH, env.EK_WIFI_PSK], ['', ''], 'with cloud-init, provision.env holds neither');
    }
    const found = secretsIn(partitionBytes(card), secrets);
    for (const x of [mqttEncoded, PSK(), ...checksums]) assert.ok(found.includes(x), `before: ${x} is on the card (so the search finds it)`);

    const boot = firstBoot(card, `fb-${format}`);
    assert.equal(boot.code, 0, boot.out);
    assert.match(boot.out, /stub setup\.sh --bundle .*emotion-kiosk-bundle\.tar\.gz --kiosk headless --config-seed .*config-seed\.yaml/);
    assert.match(boot.systemctl, /^systemctl disable emotion-kiosk-firstboot\.service$/m);

    assert.deepEqual(secretsIn(partitionBytes(card), secrets), [], 'after: no secret in the partition\'s bytes');
    for (const f of ['emotion-kiosk/provision.env', 'emotion-kiosk/config-seed.yaml', 'emotion-kiosk/authorized_keys', 'emotion-kiosk/emotion-kiosk-bundle.tar.gz', 'network-config']) {
      assert.ok(!bootHas(card, f), `${f} is gone`);
    }
    assert.ok(bootHas(card, 'emotion-kiosk/firstboot.done'));
    const log = bootFile(card, 'emotion-kiosk/firstboot.log');
    assert.match(log, /provisioned\n.*removing the secrets/s);
    assert.match(log, /no secret is left on the boot partition/);
    assert.ok(bootFile(card, 'cmdline.txt').startsWith(STOCK_CMDLINE), 'boot files kept');
    if (format === 'cloudinit') {
      const ud = bootFile(card, 'user-data');
      assert.match(ud, /^#cloud-config\n# emotion-kiosk: provisioned /, 'cloud-init still finds its seed, an empty one');
      assert.equal(parseYaml(ud), null);
      assert.equal(bootFile(card, 'meta-data'), 'instance_id: rpios-image\n', 'same instance: cloud-init runs nothing again');
      assert.match(readFileSync(path.join(tmp, `fb-${format}-root`, 'etc/cloud/cloud.cfg.d/99-emotion-kiosk-network.cfg'), 'utf8'), /^network: \{config: disabled\}$/m);
    }
  });
}

for (const format of ['systemd', 'cloudinit'] as const) {
  test(`while provisioning fails, firstboot.log says which secrets are still on the card and keeps them for the retry (${format})`, () => {
    const src = makeImage(`fb-fail-${format}.img`, format === 'cloudinit' ? { 'meta-data': 'instance_id: rpios-image\n', 'user-data': '#cloud-config\n' } : {});
    const card = path.join(tmp, `fb-fail-${format}-card.img`);
    const r = run('bash', [flash, '--image', src, '--target', card, ...common(stubBundle)]);
    assert.equal(r.code, 0, r.stderr);
    // The boot files as plain files: nothing is scrubbed on this path, so no FAT mount is needed.
    const root = path.join(tmp, `fb-fail-${format}-root`);
    const boot = path.join(root, 'boot', 'firmware');
    mkdirSync(boot, { recursive: true });
    execFileSync('mcopy', ['-s', '-n', '-i', card + offset, '::/*', boot + '/'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
    const bin = path.join(tmp, `fb-fail-${format}-bin`);
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'systemctl'), '#!/bin/sh\necho "systemctl $*" >&2\n');
    chmodSync(path.join(bin, 'systemctl'), 0o755);
    const before = readFileSync(path.join(boot, 'emotion-kiosk/config-seed.yaml'));
    const fail = spawnSync('bash', [path.join(repoRoot, 'device/firstboot/firstboot.sh')], {
      encoding: 'utf8',
      env: { ...process.env, EMOTION_KIOSK_FIRSTBOOT_ROOT: root, PATH: `${bin}:${process.env.PATH}`, EK_STUB_SETUP_EXIT: '7' },
    });
    assert.equal(fail.status, 7, fail.stdout + fail.stderr);
    assert.doesNotMatch(fail.stderr, /systemctl disable/, 'stays enabled: systemd retries');
    const log = readFileSync(path.join(boot, 'emotion-kiosk/firstboot.log'), 'utf8');
    assert.match(log, /provisioning FAILED \(exit 7; the reason is above\)\. systemd retries every 2 minutes\./);
    assert.match(log, /these secrets are STILL ON THE BOOT PARTITION, readable by anyone who has the card:/);
    const listed = log.split('\n').filter((l) => l.startsWith('  /'));
    const expected =
      format === 'systemd'
        ? ['emotion-kiosk/provision.env (login password hash, Wi-Fi PSK)', 'emotion-kiosk/config-seed.yaml (MQTT password']
        : ['emotion-kiosk/config-seed.yaml (MQTT password', 'user-data (cloud-init: login password hash', 'network-config (cloud-init: Wi-Fi PSK'];
    for (const f of expected) assert.ok(listed.some((l) => l.includes(`/boot/firmware/${f}`)), `${f} listed:\n${log}`);
    assert.equal(listed.length, expected.length, `only files that hold secrets are listed (with cloud-init provision.env holds none):\n${log}`);
    assert.match(log, /To remove them now \(provisioning then cannot resume\): sudo emotion-kiosk-firstboot --scrub/);
    assert.ok(readFileSync(path.join(boot, 'emotion-kiosk/config-seed.yaml')).equals(before), 'kept for the retry');
    assert.ok(!log.includes(MQTT_PASSWORD), 'the log itself holds no secret');
  });
}
