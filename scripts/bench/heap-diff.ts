/**
 * What a V8 heap kept between two snapshots (`npm run bench -- soak --heap-snapshots=300,1450` writes them):
 *
 *   node --import tsx scripts/bench/heap-diff.ts early.heapsnapshot late.heapsnapshot [--top 30]
 *
 * Groups the nodes of each snapshot by (type, name) (a constructor for objects, the kind for code, strings cut to 40
 * characters) and prints the groups whose self size grew most, then those whose count grew most. Compiled code
 * (type "code") that grows and levels off is V8 optimising more functions; objects of the kiosk's own classes that
 * keep growing are a leak.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

type Groups = Map<string, { count: number; size: number }>;

function groups(file: string): Groups {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const out: Groups = new Map();
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const type = types[snap.nodes[i + iType]!]!;
    const name = snap.strings[snap.nodes[i + iName]!]!.slice(0, /string/.test(type) ? 40 : 60).replace(/\s+/g, ' ');
    const g = out.get(`${type}|${name}`) ?? { count: 0, size: 0 };
    g.count++;
    g.size += snap.nodes[i + iSize]!;
    out.set(`${type}|${name}`, g);
  }
  return out;
}

const [a, b] = process.argv.slice(2).filter((x) => !x.startsWith('--'));
if (!a || !b) {
  process.stderr.write('usage: heap-diff.ts <early.heapsnapshot> <late.heapsnapshot> [--top N]\n');
  process.exit(2);
}
const topArg = process.argv.indexOf('--top');
const top = topArg > 0 ? Number(process.argv[topArg + 1]) : 30;
const early = groups(a);
const late = groups(b);
const rows: { key: string; dCount: number; dSize: number; count: number }[] = [];
for (const [key, g] of late) {
  const e = early.get(key) ?? { count: 0, size: 0 };
  rows.push({ key, dCount: g.count - e.count, dSize: g.size - e.size, count: g.count });
}
for (const [key, e] of early) if (!late.has(key)) rows.push({ key, dCount: -e.count, dSize: -e.size, count: 0 });
const total = (gs: Groups) => [...gs.values()].reduce((s, g) => s + g.size, 0);
const byType = new Map<string, number>();
for (const r of rows) byType.set(r.key.split('|')[0]!, (byType.get(r.key.split('|')[0]!) ?? 0) + r.dSize);
console.log(`self size: ${(total(early) / 1e6).toFixed(2)} MB -> ${(total(late) / 1e6).toFixed(2)} MB; growth by node type: ${[...byType].sort((x, y) => y[1] - x[1]).map(([t, d]) => `${t} ${(d / 1e3).toFixed(0)} kB`).join(', ')}`);
const print = (title: string, list: typeof rows) => {
  console.log(`\n${title}\n     bytes   count     now  type|name`);
  for (const r of list.slice(0, top)) console.log(`${String(r.dSize).padStart(10)} ${String(r.dCount).padStart(7)} ${String(r.count).padStart(7)}  ${r.key}`);
};
print('grew most in size:', [...rows].sort((x, y) => y.dSize - x.dSize));
print('grew most in count:', [...rows].sort((x, y) => y.dCount - x.dCount));
