/**
 * Text that is safe to put on the terminal. Strings shown by the dashboard can come from the network (device ids,
 * broker error messages, log lines); blessed passes escape sequences in content through to the terminal, so one
 * `ESC ] 0 ;…` or `ESC [ 2 J` in a payload could retitle, clear or scribble on the screen. C0 controls (ESC among
 * them), DEL and C1 controls are removed; a newline survives only where a panel has lines (`multiline`). Pure.
 *
 * A one-line regex rather than a package: strip-ansi removes escape sequences but leaves lone controls and C1 bytes,
 * and this must remove every control character, not recognise sequences.
 */
const CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g;
const CONTROLS_AND_NEWLINE = /[\u0000-\u001f\u007f-\u009f]/g;

export function printable(text: string, multiline = false): string {
  return multiline ? text.replace(CONTROLS, (c) => (c === '\t' ? ' ' : '')) : text.replace(CONTROLS_AND_NEWLINE, (c) => (c === '\t' || c === '\n' ? ' ' : ''));
}
