/**
 * `emotion-kiosk fleet`: the operator's tools. keygen / sign / verify work on files (model signing, src/fleet/signing.ts);
 * status and command talk to the kiosks over the broker's command bus (README: fleet operations).
 */
import type { Command } from 'commander';
import { SUMMARIES } from './summaries.js';
import { keygenFiles, signFiles, verifyFiles, FleetClient, type RequestOutcome, modelUpdateRequest, runRollout } from '../fleet/index.js';
import { addBrokerOptions, brokerSettings, type BrokerFlags } from './broker-flags.js';

interface FleetBrokerFlags extends BrokerFlags {
  timeout: string;
  discoverMs: string;
}

function brokerOptions(c: Command): Command {
  return addBrokerOptions(c, { broker: 'the fleet broker', username: 'the operator account' })
    .option('--timeout <ms>', 'how long to wait for each response', '10000')
    .option('--discover-ms <ms>', 'how long to collect the devices\' retained state (all, status)', '1500');
}


const ms = (v: string, flag: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} ${v}: expected milliseconds (a whole number >= 1)`);
  return n;
};

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => pad(c, widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

async function discover(fleet: FleetClient, f: FleetBrokerFlags): Promise<string[]> {
  await new Promise((r) => setTimeout(r, ms(f.discoverMs, '--discover-ms')));
  return [...fleet.devices.keys()].sort();
}

export function registerFleetCommand(program: Command): void {
  const fleet = program.command('fleet').description(SUMMARIES.fleet);

  fleet
    .command('keygen')
    .description('create an Ed25519 model-signing key pair: <out>.key (private, keep it on the operator machine) and <out>.pub (copy it to each device: remote.modelKey)')
    .option('--out <path>', 'file name without extension', 'model-signing')
    .action((o: { out: string }) => {
      const k = keygenFiles(o.out);
      process.stdout.write(`private key ${k.privateFile} (mode 600; never copy it to a device)\npublic key  ${k.publicFile} (key id ${k.keyId}): copy it to each device and set remote.modelKey to its path\n`);
    });

  fleet
    .command('sign')
    .description('sign a model (its ONNX sha256 and size, and its manifest): writes <model>.sig.json')
    .requiredOption('--model <file.onnx>', 'the model; its manifest <file>.json beside it')
    .requiredOption('--key <file.key>', 'the private key (fleet keygen)')
    .action((o: { model: string; key: string }) => {
      const { signatureFile, signed } = signFiles(o.model, o.key);
      const s = signed.statement;
      process.stdout.write(`signed ${s.name} ${s.version}: ${s.file} sha256 ${s.modelSha256} (${s.modelSize} bytes), key ${signed.keyId} -> ${signatureFile}\n`);
    });

  fleet
    .command('verify')
    .description('check a model\'s signature as a device would (exit 1 when refused)')
    .requiredOption('--model <file.onnx>', 'the model; <file>.json and <file>.sig.json beside it')
    .requiredOption('--public-key <file.pub...>', 'trusted public key(s)')
    .action((o: { model: string; publicKey: string[] }) => {
      const r = verifyFiles(o.model, o.publicKey);
      if (r.ok) process.stdout.write(`ok: ${r.statement.name} ${r.statement.version}, sha256 ${r.statement.modelSha256}, signed ${r.statement.signedAt}\n`);
      else {
        process.stdout.write(`refused: ${r.reason}\n`);
        process.exitCode = 1;
      }
    });

  brokerOptions(fleet.command('command'))
    .description('send one command to a device or to all devices seen on the broker; prints each response (exit 1 when any failed or timed out)')
    .argument('<device>', 'device id, a,b,c, or all')
    .argument('<command>', 'health_check, detection, options, snapshot, restart, model/rollback, ...')
    .argument('[json]', 'parameters, e.g. \'{"enabled": false}\'', '{}')
    .action(async (device: string, command: string, json: string, f: FleetBrokerFlags) => {
      let params: Record<string, unknown>;
      try {
        params = JSON.parse(json) as Record<string, unknown>;
      } catch {
        throw new Error(`parameters ${json}: not JSON`);
      }
      const client = await FleetClient.connect(brokerSettings(f), f.topicPrefix);
      try {
        const targets = device === 'all' ? await discover(client, f) : device.split(',').filter(Boolean);
        if (targets.length === 0) throw new Error('no devices seen on the broker (is --topic-prefix right?)');
        const outcomes = await Promise.all(targets.map((d) => client.request(d, command, params, ms(f.timeout, '--timeout'))));
        let failed = 0;
        for (const o of outcomes) {
          if ('timeout' in o) {
            failed += 1;
            process.stdout.write(`${o.deviceId}: ${o.error ?? `no response within ${f.timeout} ms (offline, remote.enabled false, or the ACL)`}\n`);
          } else {
            if (o.response.status !== 'ok') failed += 1;
            process.stdout.write(`${o.deviceId}: ${JSON.stringify(o.response)}\n`);
          }
        }
        if (failed > 0) process.exitCode = 1;
      } finally {
        await client.close();
      }
    });

  brokerOptions(fleet.command('rollout'))
    .description('send a signed model to the devices: the canary first, then batches, each waiting until healthy; stops at the first failure (exit 1)')
    .requiredOption('--model <file.onnx>', 'the model, with <file>.json and <file>.sig.json (fleet sign) beside it')
    .option('--devices <a,b|all>', 'which devices', 'all')
    .option('--canary <n>', 'devices updated first, alone', '1')
    .option('--batch <n>', 'devices per batch after the canary (0: all the rest at once)', '0')
    .option('--wait-healthy <s>', 'seconds each device has to report healthy after its update', '60')
    .action(async (f: FleetBrokerFlags & { model: string; devices: string; canary: string; batch: string; waitHealthy: string }) => {
      const request = modelUpdateRequest(f.model);
      const client = await FleetClient.connect(brokerSettings(f), f.topicPrefix);
      try {
        const targets = f.devices === 'all' ? await discover(client, f) : f.devices.split(',').filter(Boolean);
        if (targets.length === 0) throw new Error('no devices seen on the broker (is --topic-prefix right?)');
        const { results, failed } = await runRollout(client, request, {
          prefix: f.topicPrefix.replace(/^\/+|\/+$/g, ''),
          targets,
          canary: Number(f.canary),
          batch: Number(f.batch),
          waitHealthyMs: ms(String(Number(f.waitHealthy) * 1000), '--wait-healthy'),
          updateTimeoutMs: Math.max(ms(f.timeout, '--timeout'), 120_000),
          out: (line) => process.stdout.write(line + '\n'),
        });
        const rows = [['device', 'result']];
        for (const d of targets) rows.push([d, results.get(d)!]);
        process.stdout.write('\n' + table(rows));
        if (failed) process.exitCode = 1;
      } finally {
        await client.close();
      }
    });

  brokerOptions(fleet.command('status'))
    .description('every device seen on the broker: online, model version, fps, outbox, detection, and a health check')
    .action(async (f: FleetBrokerFlags) => {
      const client = await FleetClient.connect(brokerSettings(f), f.topicPrefix);
      try {
        const devices = await discover(client, f);
        const health = new Map<string, RequestOutcome>();
        await Promise.all(
          devices.filter((d) => client.devices.get(d)?.online !== false).map(async (d) => health.set(d, await client.request(d, 'health_check', {}, ms(f.timeout, '--timeout')))),
        );
        const rows = [['device', 'online', 'model', 'fps', 'outbox', 'detection', 'health']];
        let unhealthy = 0;
        for (const d of devices) {
          const v = client.devices.get(d)!;
          const h = health.get(d);
          const hs = !h ? '-' : 'timeout' in h ? 'no response' : h.response.status === 'ok' ? (h.response.data.healthy ? 'healthy' : 'UNHEALTHY') : `error: ${h.response.error}`;
          if (hs !== 'healthy') unhealthy += 1;
          rows.push([d, v.online === null ? '?' : v.online ? 'yes' : 'no', v.model ?? '?', v.fps === null ? '?' : v.fps.toFixed(1), v.outboxPending === null ? '?' : String(v.outboxPending), v.detection === null ? '?' : v.detection ? 'on' : 'paused', hs]);
        }
        process.stdout.write(devices.length === 0 ? 'no devices seen on the broker\n' : table(rows));
        if (unhealthy > 0) process.exitCode = 1;
      } finally {
        await client.close();
      }
    });
}
