/** Types for config-merge.mjs (plain JavaScript so that it runs on a device with nothing but Node). */
export class ConfigMergeError extends Error {}
export interface ConfigSet {
  path: string[];
  value: unknown;
}
export interface MergeInput {
  existingText: string | null;
  templateText: string;
  seedText?: string | null;
  sets?: ConfigSet[];
}
export interface MergeResult {
  text: string;
  changed: boolean;
  added: string[];
  kept: string[];
}
export function parseSetValue(raw: string): unknown;
export function printable(value: unknown): string;
export function parseSet(arg: string, options?: { string?: boolean }): ConfigSet;
export function mergeConfig(input: MergeInput): MergeResult;
export function main(argv: string[]): void;
