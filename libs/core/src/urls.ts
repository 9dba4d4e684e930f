import { z } from 'zod';

const CREDENTIALS = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i;

/** True when a URL carries user:password (or a user) before the host. */
export function hasUrlCredentials(url: string): boolean {
  return CREDENTIALS.test(url);
}

/** Replaces the credentials of every URL in a text with "***" (for messages and error rows). */
export function redactUrlCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi, '$1***@');
}

/**
 * An http(s) URL param: a scheme is required ("tgi:80/v1" is refused), and credentials in the URL are
 * refused, because config values are recorded in run.json, logs and error rows. The message never
 * repeats the value (it may hold a password).
 */
export function httpUrl(field: string) {
  return z.string({ error: `${field}: expected an http(s) URL` }).superRefine((value, ctx) => {
    if (hasUrlCredentials(value)) {
      ctx.addIssue({ code: 'custom', message: 'a URL without user:password (it would be recorded in run.json and logs); pass credentials through the environment or a Secret', params: { redactedValue: 'a URL with credentials (not shown)' } });
      return;
    }
    let parsed: URL | undefined;
    try {
      parsed = new URL(value);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || !parsed.hostname) {
      ctx.addIssue({ code: 'custom', message: 'an http:// or https:// URL with a host' });
    }
  });
}
