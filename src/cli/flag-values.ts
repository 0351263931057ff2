/** Parsers for command-line values, shared by the commands: the error names the flag and what it got. */
import { InvalidArgumentError } from 'commander';

export function parsePositiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive integer, got "${v}"`);
  return n;
}
