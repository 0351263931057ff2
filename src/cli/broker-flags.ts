/**
 * The broker flags of the commands that reach kiosks from another machine (`dashboard`, `fleet ...`): one set of
 * options, one validation of what the person typed, one mapping to the connection settings every client uses.
 */
import type { Command } from 'commander';
import type { ConnectionSettings } from '../mqtt/index.js';
import { redactUrl, splitCredentials } from '../util/index.js';

export interface BrokerFlags {
  broker: string;
  topicPrefix: string;
  username?: string;
  password?: string;
  ca?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
}

/** Adds --broker, --topic-prefix, credentials and TLS files to a command. `who` names the account in the help. */
export function addBrokerOptions(c: Command, who: { broker: string; username: string }): Command {
  return c
    .option('--broker <url>', `mqtt[s]://host:port of ${who.broker}`, 'mqtt://127.0.0.1:1883')
    .option('--topic-prefix <prefix>', 'topic prefix the kiosks use', 'emotion-kiosk')
    .option('--username <user>', who.username)
    .option('--password <password>', 'its password (or EMOTION_KIOSK_MQTT__PASSWORD)')
    .option('--ca <file>', 'CA certificate (PEM) for mqtts://')
    .option('--cert <file>', 'client certificate (PEM) for brokers that require one (with --key)')
    .option('--key <file>', 'private key (PEM) of --cert')
    .option('--insecure', 'mqtts:// without checking the broker certificate');
}

/** Checks the flags before anything connects; the error names the flag and never shows a password. */
export function checkBrokerFlags(f: BrokerFlags): void {
  const b = splitCredentials(f.broker);
  if (!b.ok || !['mqtt', 'mqtts', 'ws', 'wss'].includes(b.scheme)) {
    throw new Error(`--broker ${redactUrl(f.broker)}: ${b.ok ? 'expected mqtt://host:port or mqtts://host:port' : `${b.problem}; or use --username / --password`}`);
  }
  if (!f.topicPrefix || /[#+]/.test(f.topicPrefix)) throw new Error(`--topic-prefix ${f.topicPrefix}: a non-empty topic without MQTT wildcards (# +)`);
}

/** The connection settings the flags describe (checked first). */
export function brokerSettings(f: BrokerFlags, keepaliveS = 30): ConnectionSettings {
  checkBrokerFlags(f);
  return {
    url: f.broker,
    username: f.username,
    password: f.password ?? process.env.EMOTION_KIOSK_MQTT__PASSWORD,
    ca: f.ca,
    cert: f.cert,
    key: f.key,
    rejectUnauthorized: !f.insecure,
    keepaliveS,
  };
}
