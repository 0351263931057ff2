/**
 * Doctor check results and their presentation. Pure: no I/O, so the verdict and the report are unit-tested.
 * Each check says ok, warn (works, but something will bite), fail (the kiosk will not work) or skip (not
 * applicable), and what to fix when it is not ok.
 */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** Stable id for scripts reading --json: platform, node, clock, config, opencv, cascade, model, camera, broker, identity, disk. */
  id: string;
  /** One line: what was found. */
  summary: string;
  status: CheckStatus;
  /** What to do about it (warn/fail). */
  fix?: string;
  /** Extra facts worth printing (versions, paths). */
  details?: string[];
}

export const ok = (id: string, summary: string, details?: string[]): CheckResult => ({ id, status: 'ok', summary, ...(details ? { details } : {}) });
export const warn = (id: string, summary: string, fix: string, details?: string[]): CheckResult => ({ id, status: 'warn', summary, fix, ...(details ? { details } : {}) });
export const fail = (id: string, summary: string, fix: string, details?: string[]): CheckResult => ({ id, status: 'fail', summary, fix, ...(details ? { details } : {}) });
export const skip = (id: string, summary: string): CheckResult => ({ id, status: 'skip', summary });

export interface DoctorReport {
  checks: CheckResult[];
  counts: Record<CheckStatus, number>;
  /** Non-zero when any check failed. */
  exitCode: number;
}

export function summarize(checks: CheckResult[]): DoctorReport {
  const counts: Record<CheckStatus, number> = { ok: 0, warn: 0, fail: 0, skip: 0 };
  for (const c of checks) counts[c.status]++;
  return { checks, counts, exitCode: counts.fail > 0 ? 1 : 0 };
}

const LABEL: Record<CheckStatus, string> = { ok: ' ok ', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

/** The human report: one line per check, its fix indented below it, a verdict at the end. */
export function formatReport(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => c.id.length), 6);
  const lines: string[] = [];
  for (const c of report.checks) {
    lines.push(`[${LABEL[c.status]}] ${c.id.padEnd(width)}  ${c.summary}`);
    for (const d of c.details ?? []) lines.push(`${' '.repeat(width + 9)}${d}`);
    if (c.fix && c.status !== 'ok') lines.push(`${' '.repeat(width + 9)}fix: ${c.fix}`);
  }
  const { ok: nOk, warn: nWarn, fail: nFail, skip: nSkip } = report.counts;
  lines.push('');
  lines.push(
    nFail > 0
      ? `${nFail} problem(s) will stop the kiosk, ${nWarn} warning(s): fix the FAIL lines above.`
      : nWarn > 0
        ? `No blocking problems; ${nWarn} warning(s) worth a look. (${nOk} ok, ${nSkip} skipped)`
        : `All ${nOk} checks passed${nSkip ? ` (${nSkip} skipped)` : ''}.`,
  );
  return lines.join('\n') + '\n';
}
