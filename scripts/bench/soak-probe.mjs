// Loaded into the soaked kiosk with `node --import` (scripts/bench/soak.ts forks it with an IPC channel): answers
// each 'sample' message with the process's own memory figures and its open file descriptors. Plain JS, no loader.
import { readdirSync, readFileSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';

/** RssAnon / RssFile from /proc/self/status in bytes (Linux; undefined elsewhere): heap vs mapped files (code). */
function rssParts() {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
    return { rssAnon: kb('RssAnon'), rssFile: kb('RssFile') };
  } catch {
    return {};
  }
}

if (typeof process.send === 'function') {
  process.on('message', (m) => {
    // { heapSnapshot: file }: a V8 heap snapshot, after a full collection (--heap-snapshots; to diff what the heap keeps).
    if (m && typeof m === 'object' && typeof m.heapSnapshot === 'string') {
      if (typeof globalThis.gc === 'function') globalThis.gc();
      process.send({ heapSnapshot: writeHeapSnapshot(m.heapSnapshot) });
      return;
    }
    if (m !== 'sample') return;
    // With --expose-gc (the soak passes it): a full collection first, so the heap figure is live data, not GC timing.
    if (typeof globalThis.gc === 'function') globalThis.gc();
    const mem = process.memoryUsage();
    let fds = -1;
    try {
      // The listing holds one descriptor of its own while it runs: subtract it.
      fds = readdirSync('/proc/self/fd').length - 1;
    } catch {
      /* not Linux */
    }
    process.send({ rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external, arrayBuffers: mem.arrayBuffers, fds, ...rssParts() });
  });
  // The IPC channel must not keep the kiosk alive once it wants to exit.
  process.channel?.unref();
}
