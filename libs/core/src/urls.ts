import { z } from 'zod';

const CREDENTIALS = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i;

/** True when a URL carries user:password (or a user) before the host. */
function hasUrlCredentials(url: string): boolean {
  return CREDENTIALS.test(url);
}

/** Replaces the credentials of every URL in a text with "***" (for messages and error rows). */
export function redactUrlCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi, '$1***@');
}

const CREDENTIALS_REFUSED = 'a URL without user:password (it would be recorded in run.json and logs); pass credentials through the environment or a Secret';

/** A zod issue for a value holding credentials: the value itself is never repeated. */
function refuseCredentials(ctx: z.RefinementCtx, message = CREDENTIALS_REFUSED): void {
  ctx.addIssue({ code: 'custom', message, params: { redactedValue: 'a URL with credentials (not shown)' } });
}

/**
 * A URL param with one of the given schemes and a host: a scheme is required ("tgi:80/v1" is refused),
 * and credentials in the URL are refused, because config values are recorded in run.json, logs and
 * error rows. The message never repeats the value (it may hold a password).
 */
export function urlParam(field: string, schemes: readonly string[], options: { credentialsMessage?: string } = {}) {
  const wanted = schemes.map((s) => `${s}://`);
  const expected = `${wanted.length > 1 ? `${wanted.slice(0, -1).join(', ')} or ${wanted.at(-1)}` : wanted[0]} URL with a host`;
  return z.string({ error: `${field}: expected a URL` }).superRefine((value, ctx) => {
    // "user:pass@host" without a scheme holds a password too: it is refused without being repeated.
    if (hasUrlCredentials(value) || /^[^/?#\s]*@/.test(value)) {
      refuseCredentials(ctx, options.credentialsMessage);
      return;
    }
    let parsed: URL | undefined;
    try {
      parsed = new URL(value);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !schemes.includes(parsed.protocol.slice(0, -1)) || !parsed.hostname) {
      ctx.addIssue({ code: 'custom', message: `an ${expected}` });
    }
  });
}

/** An http(s) URL param (endpoints): see urlParam. */
export function httpUrl(field: string) {
  return urlParam(field, ['http', 'https']);
}

/** A storage or source location (a folder, file:// or s3:// URI): credentials in it are refused, never repeated. */
export function locationWithoutCredentials(field: string) {
  return z.string({ error: `${field}: expected a folder or URI` }).min(1).superRefine((value, ctx) => {
    if (hasUrlCredentials(value)) refuseCredentials(ctx, 'a location without user:password (it would be recorded in run.json and logs); S3 credentials come from the AWS environment or a Secret');
  });
}
