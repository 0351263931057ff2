/** Rollout planning, pure: the canary devices alone first, then batches of the rest. */
export function planRollout(devices: readonly string[], canary: number, batch: number): string[][] {
  if (!Number.isInteger(canary) || canary < 0) throw new Error(`--canary ${canary}: expected a whole number >= 0`);
  if (!Number.isInteger(batch) || batch < 0) throw new Error(`--batch ${batch}: expected a whole number >= 0 (0: all the rest at once)`);
  const unique = [...new Set(devices)];
  const phases: string[][] = [];
  const first = unique.slice(0, canary);
  if (first.length > 0) phases.push(first);
  const rest = unique.slice(first.length);
  const size = batch === 0 ? rest.length : batch;
  for (let i = 0; i < rest.length; i += size) phases.push(rest.slice(i, i + size));
  return phases;
}
