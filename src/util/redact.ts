/**
 * The one redactor for everything the kiosk logs or shows that may carry a credential: MQTT broker URLs, rtsp/http
 * camera URLs, GStreamer pipelines (`location=rtsp://user:pass@cam/…`, `user-pw=…`). Pure.
 *
 * It fails closed: the userinfo of a URL is found without trusting a URL parser (a password with `#`, `/`, `?` or `@`
 * makes parsers end the authority early and show the rest of the password as a path or fragment). When the string is
 * a clean URL (it parses and its only `@` ends the authority) the user name stays and the password becomes `***`;
 * otherwise everything between `scheme://` and the last `@` is masked.
 *
 *   mqtt://kiosk:s3cr3t@broker:1883      -> mqtt://kiosk:***@broker:1883
 *   rtsp://admin:p@ss@cam/h264           -> rtsp://admin:***@cam/h264
 *   mqtt://kiosk:s3cr#t@broker:1883      -> mqtt://***@broker:1883   (does not parse as written)
 */

export const MASK = '***';

const SCHEME = /^([a-z][a-z0-9+.-]*:\/\/)/i;

/** Where the userinfo of `raw` (a `scheme://…` string) ends, and whether it can be trusted to split user and password. */
function userinfo(raw: string): { scheme: string; rest: string; at: number; clean: boolean } | null {
  const m = SCHEME.exec(raw);
  if (!m) return null;
  const scheme = m[1]!;
  const rest = raw.slice(scheme.length);
  const lastAt = rest.lastIndexOf('@');
  if (lastAt < 0) return { scheme, rest, at: -1, clean: true };
  const end = rest.search(/[/?#\\]/);
  const authorityEnd = end < 0 ? rest.length : end;
  const at = authorityEnd > 0 ? rest.lastIndexOf('@', authorityEnd - 1) : -1;
  // An '@' after the authority means the authority ended inside the credentials (or the path has an '@': masking
  // a little too much is the safe side).
  const clean = at >= 0 && at === lastAt && parses(raw);
  return { scheme, rest, at: lastAt, clean };
}

function parses(raw: string): boolean {
  try {
    new URL(raw);
    return true;
  } catch {
    return false;
  }
}

/** A URL safe to log or show: the password (or, when in doubt, the whole userinfo) masked. Non-URLs are returned as they are. */
export function redactUrl(raw: string): string {
  const u = userinfo(raw);
  if (!u || u.at < 0) return raw;
  if (!u.clean) return `${u.scheme}${MASK}${u.rest.slice(u.at)}`;
  const info = u.rest.slice(0, u.at);
  const colon = info.indexOf(':');
  return colon < 0 ? raw : `${u.scheme}${info.slice(0, colon)}:${MASK}${u.rest.slice(u.at)}`;
}

/** GStreamer properties whose value is a secret by itself. */
const SECRET_PROPERTIES = /\b((?:user|proxy)-pw|passwd|password|pass|secret|token)=("[^"]*"|'[^']*'|\S+)/gi;

/**
 * Any text that may hold URLs with credentials (a source spec, a GStreamer pipeline, an error message): every
 * `scheme://…` in it is redacted, as are `user-pw=` style properties. A URL reaches the next pipeline separator
 * (` ! `), its closing quote, or the end of the text, so a password with spaces is still masked.
 */
export function redactSecrets(text: string): string {
  let out = '';
  let i = 0;
  const scheme = /[a-z][a-z0-9+.-]*:\/\//gi;
  for (let m = scheme.exec(text); m; m = scheme.exec(text)) {
    if (m.index < i) continue;
    const before = text[m.index - 1];
    const quote = before === '"' || before === "'" ? before : null;
    let end = quote ? text.indexOf(quote, m.index) : -1;
    if (end < 0) {
      const bang = text.slice(m.index).search(/\s!\s|\s!$/);
      end = bang < 0 ? text.length : m.index + bang;
    }
    out += text.slice(i, m.index) + redactUrl(text.slice(m.index, end));
    i = end;
    scheme.lastIndex = Math.max(end, m.index + 1);
  }
  out += text.slice(i);
  return out.replace(SECRET_PROPERTIES, (_all, key: string) => `${key}=${MASK}`);
}

/** Config keys whose values are secrets. */
const SECRET_KEY = /(password|passwd|secret|token|api[-_]?key|private[-_]?key)$/i;

/**
 * A copy of a configuration tree with secrets masked: values of password/secret/token keys become `***`, strings that
 * hold URLs or pipelines are redacted. For `emotion-kiosk config` and anything else that prints a config.
 */
export function maskConfig<T>(value: T, key = ''): T {
  if (typeof value === 'string') return (SECRET_KEY.test(key) ? MASK : redactSecrets(value)) as T;
  if (Array.isArray(value)) return value.map((v) => maskConfig(v, key)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null ? MASK : maskConfig(v, k);
    return out as T;
  }
  return value;
}

export type UrlCredentials =
  | { ok: true; scheme: string; /** The URL without its userinfo. */ address: string; hostname: string; username?: string; password?: string }
  | { ok: false; problem: string };

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // a lone '%' is meant literally
  }
}

/**
 * Splits `scheme://user:password@host…` into the address without credentials and the (percent-decoded) user and
 * password, or says why it cannot be trusted to: a URL that does not parse, or whose authority ends before the last
 * `@` (a password with `#`, `/`, `?` or `\`), would make a URL parser connect somewhere else. Problems never quote
 * the credentials.
 */
export function splitCredentials(raw: string): UrlCredentials {
  const u = userinfo(raw);
  if (!u) return { ok: false, problem: 'not a URL (expected scheme://host:port)' };
  let parsed: URL;
  try {
    parsed = new URL(u.at < 0 ? raw : `${u.scheme}${u.rest.slice(u.at + 1)}`);
  } catch {
    return { ok: false, problem: 'does not parse as a URL' };
  }
  if (u.at >= 0 && !u.clean) {
    return {
      ok: false,
      problem:
        'the user name or password has a character that ends the host part (# / ? or \\) or does not parse: percent-encode it (# %23, / %2F, ? %3F, @ %40, : %3A, space %20)',
    };
  }
  if (!parsed.hostname) return { ok: false, problem: 'has no host name' };
  const address = u.at < 0 ? raw : `${u.scheme}${u.rest.slice(u.at + 1)}`;
  if (u.at < 0) return { ok: true, scheme: u.scheme.slice(0, -3).toLowerCase(), address, hostname: parsed.hostname };
  const info = u.rest.slice(0, u.at);
  const colon = info.indexOf(':');
  return {
    ok: true,
    scheme: u.scheme.slice(0, -3).toLowerCase(),
    address,
    hostname: parsed.hostname,
    username: decode(colon < 0 ? info : info.slice(0, colon)),
    ...(colon < 0 ? {} : { password: decode(info.slice(colon + 1)) }),
  };
}
