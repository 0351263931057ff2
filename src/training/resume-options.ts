/**
 * The options of a resumed run: the first start's (architecture, schedule, seed, augmentation: stored in
 * state.json) with the few that a resume may change. --epochs and --patience count only when given on the command
 * line (a default value must not replace the stored one, even when the two are equal); where the data is, the
 * backend and the worker count always come from this invocation.
 */
export const RESUMABLE_CHANGES = ['epochs', 'patience'] as const;
export const PER_INVOCATION = ['backend', 'workers', 'data', 'run'] as const;

export function resumeOptions(
  first: Record<string, unknown>,
  given: Record<string, unknown>,
  givenOnCommandLine: (name: string) => boolean,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...first, resume: true };
  for (const k of RESUMABLE_CHANGES) if (givenOnCommandLine(k)) out[k] = given[k];
  for (const k of PER_INVOCATION) out[k] = given[k];
  return out;
}
