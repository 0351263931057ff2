/** Writes src/contract/contract.schema.json from the zod contract (src/contract/contract.ts). `--check`: exit 1 when the file differs. */
import { readFileSync, writeFileSync } from 'node:fs';
import { contractJsonSchema } from '../src/contract/contract.js';

export const CONTRACT_SCHEMA_FILE = new URL('../src/contract/contract.schema.json', import.meta.url);
export const contractSchemaText = (): string => JSON.stringify(contractJsonSchema(), null, 2) + '\n';

const text = contractSchemaText();
if (process.argv.includes('--check')) {
  if (readFileSync(CONTRACT_SCHEMA_FILE, 'utf8') !== text) {
    process.stderr.write('src/contract/contract.schema.json differs from src/contract/contract.ts: run node --import tsx scripts/contract-schema.ts\n');
    process.exit(1);
  }
  process.stdout.write('contract.schema.json is up to date\n');
} else {
  writeFileSync(CONTRACT_SCHEMA_FILE, text);
  process.stdout.write(`wrote ${CONTRACT_SCHEMA_FILE.pathname}\n`);
}
