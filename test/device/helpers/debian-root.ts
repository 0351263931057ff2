/**
 * A throwaway Debian 12 root for the slow device tests (test/device/provision.slow.ts: setup.sh in a chroot;
 * test/device/boot.slow.ts: the same root booted with systemd as PID 1): debootstrap from Debian's packages, the
 * host's Node (>= 20) pre-provided in /usr/local (Debian 12's nodejs is 18), a bundle made by scripts/bundle.ts,
 * setup.sh as the operator gets it (from the bundle), Megamind.avi as the camera, a host mosquitto on a free port.
 *
 * The debootstrap download is cached: /var/cache/emotion-kiosk-debootstrap/<suite>-<variant>-<packages>.tgz (made
 * by `debootstrap --make-tarball` on the first run, unpacked with --unpack-tarball afterwards);
 * EMOTION_KIOSK_DEBOOTSTRAP_TARBALL=<file> uses that tarball instead.
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { makeUntrainedModel } from '../../../src/onnx/untrained.js';
import { makeBundle } from '../../../scripts/bundle.js';
import { megamindVideo } from '../../helpers/fixtures.js';

export const SUITE = 'bookworm';
export const DEBOOTSTRAP_CACHE = '/var/cache/emotion-kiosk-debootstrap';
/** systemd to boot; dbus for `systemd-analyze security` and `systemctl status` in the booted root. */
export const ROOT_PACKAGES = ['ca-certificates', 'systemd', 'dbus'];

export function log(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

export function sh(cmd: string, args: string[], opts: { input?: string; allowFail?: boolean; timeoutMs?: number } = {}): { code: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input, maxBuffer: 256 * 1024 * 1024, timeout: opts.timeoutMs });
  const out = (r.stdout ?? '') + (r.stderr ?? '');
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${out.slice(-4000)}`);
  return { code: r.status ?? -1, out };
}

export function hasCommand(tool: string): boolean {
  return sh('sh', ['-c', `command -v ${tool}`], { allowFail: true }).code === 0;
}

/** A clean environment for commands inside the root. */
export const ROOT_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'LANG=C.UTF-8'];

export function debianMirror(): string {
  const files = ['/etc/apt/sources.list', ...(existsSync('/etc/apt/sources.list.d') ? readdirSync('/etc/apt/sources.list.d').map((f) => `/etc/apt/sources.list.d/${f}`) : [])];
  for (const f of files) {
    if (!existsSync(f)) continue;
    const text = readFileSync(f, 'utf8');
    const m = /^URIs:\s*(\S*debian\S*)$/m.exec(text) ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S*debian\S*)\s+bookworm\s/m.exec(text);
    if (m && !/security/.test(m[1]!)) return m[1]!;
  }
  return 'http://deb.debian.org/debian';
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

/** The cached debootstrap tarball for these packages, made on first use. */
function debootstrapTarball(packages: string[]): string {
  const given = process.env.EMOTION_KIOSK_DEBOOTSTRAP_TARBALL;
  if (given) return given;
  const key = createHash('sha256').update(`${SUITE} minbase ${packages.join(',')} ${debianMirror()}`).digest('hex').slice(0, 12);
  const file = path.join(DEBOOTSTRAP_CACHE, `${SUITE}-minbase-${key}.tgz`);
  if (existsSync(file)) return file;
  mkdirSync(DEBOOTSTRAP_CACHE, { recursive: true });
  const tmpTarget = path.join(DEBOOTSTRAP_CACHE, `.make-${process.pid}`);
  const partial = `${file}.partial-${process.pid}`;
  const started = Date.now();
  try {
    sh('debootstrap', ['--variant=minbase', `--include=${packages.join(',')}`, `--make-tarball=${partial}`, SUITE, tmpTarget, debianMirror()]);
    renameSync(partial, file);
  } finally {
    rmSync(tmpTarget, { recursive: true, force: true });
    rmSync(partial, { force: true });
  }
  log(`debootstrap --make-tarball ${file} (${debianMirror()}): ${((Date.now() - started) / 1000).toFixed(0)} s, ${(statSync(file).size / 1024 / 1024).toFixed(0)} MiB`);
  return file;
}

/** debootstrap Debian 12 (minbase + ROOT_PACKAGES) into `root`, from the cached tarball. */
export function makeDebianRoot(root: string, packages = ROOT_PACKAGES): void {
  const tarball = debootstrapTarball(packages);
  const started = Date.now();
  sh('debootstrap', ['--variant=minbase', `--include=${packages.join(',')}`, `--unpack-tarball=${path.resolve(tarball)}`, SUITE, root, debianMirror()]);
  log(`debootstrap ${SUITE} from ${tarball}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  copyFileSync('/etc/resolv.conf', path.join(root, 'etc', 'resolv.conf'));
}

/** Node >= 20 with npm and its headers in /usr/local, as an operator could pre-install it (Debian 12's nodejs is 18). */
export function provideHostNode(root: string): void {
  const nodeBin = process.execPath;
  const nodePrefix = path.dirname(path.dirname(nodeBin));
  mkdirSync(path.join(root, 'usr/local/bin'), { recursive: true });
  copyFileSync(nodeBin, path.join(root, 'usr/local/bin/node'));
  chmodSync(path.join(root, 'usr/local/bin/node'), 0o755);
  cpSync(path.join(nodePrefix, 'lib/node_modules/npm'), path.join(root, 'usr/local/lib/node_modules/npm'), { recursive: true });
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(root, 'usr/local/bin/npm'));
  cpSync(path.join(nodePrefix, 'include/node'), path.join(root, 'usr/local/include/node'), { recursive: true });
}

export interface TestBundle {
  /** The .tar.gz on the host. */
  file: string;
  /** Its BUNDLE_ID: the release directory name. */
  id: string;
}

/** A bundle with an untrained model (the trained one is not needed to prove provisioning works). */
export async function makeTestBundle(work: string): Promise<TestBundle> {
  const models = path.join(work, 'models');
  await makeUntrainedModel(models);
  const file = await makeBundle({ out: work, modelsDir: models, npmCache: true, build: true });
  log(`bundle: ${file} (${(statSync(file).size / 1024 / 1024).toFixed(1)} MiB)`);
  return { file, id: /emotion-kiosk-(.+)\.tar\.gz$/.exec(file)![1]! };
}

export const UNTRAINED_MODEL = '/opt/emotion-kiosk/current/models/deep_emotion.untrained.onnx';

/**
 * What the operator has on the device before running setup.sh: the bundle and setup.sh (from the bundle) in /root,
 * the camera (Megamind.avi) at /srv/megamind.avi, and a config seed at /root/seed.yaml.
 */
export function stageForSetup(root: string, bundle: TestBundle, seedYaml: string): void {
  copyFileSync(bundle.file, path.join(root, 'root', path.basename(bundle.file)));
  execFileSync('tar', ['-xzf', bundle.file, '-C', path.join(root, 'root'), '--strip-components=2', '--wildcards', '*/device/setup.sh']);
  mkdirSync(path.join(root, 'srv'), { recursive: true });
  copyFileSync(megamindVideo, path.join(root, 'srv', 'megamind.avi'));
  chmodSync(path.join(root, 'srv', 'megamind.avi'), 0o644);
  writeFileSync(path.join(root, 'root', 'seed.yaml'), seedYaml);
}

/** setup.sh's arguments for the staged bundle (in /root). */
export function setupCommand(bundle: TestBundle, args: string[]): string[] {
  return ['bash', '/root/setup.sh', '--bundle', `/root/${path.basename(bundle.file)}`, ...args];
}

export interface Broker {
  port: number;
  stop(): void;
}

/** mosquitto on the host, on a free loopback port (the root shares the host's network). */
export async function startBroker(work: string): Promise<Broker> {
  const port = await freePort();
  const conf = path.join(work, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const child: ChildProcess = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  return { port, stop: () => child.kill('SIGTERM') };
}

/** True when something is still mounted at or under `dir`. */
export function mountedUnder(dir: string): boolean {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((l) => {
      const mp = l.split(' ')[1];
      return mp !== undefined && (mp === dir || mp.startsWith(dir + '/'));
    });
}

/** Deletes the work dir unless something is mounted under it or EK_KEEP_ROOT is set. */
export function removeWork(work: string): void {
  if (mountedUnder(work)) {
    log(`NOT deleting ${work}: something is still mounted under it`);
    return;
  }
  if (process.env.EK_KEEP_ROOT) log(`kept ${work}`);
  else spawnSync('rm', ['-rf', '--one-file-system', work]);
}
