import type { z } from 'zod';

/** Describes a value for an error message without dumping large or secret-looking payloads. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return value.length > 80 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** A configuration or input error: never retried, reported as "expected X, got Y". */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(message: string, readonly issues: string[] = []) {
    super(issues.length ? `${message}:\n  - ${issues.join('\n  - ')}` : message);
  }
}

function pathOf(path: readonly PropertyKey[]): string {
  return path.length ? path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[') : '(root)';
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

/** Turns zod issues into lines naming the field, the expectation and the value found. */
export function formatZodIssues(error: z.ZodError, input: unknown): string[] {
  return error.issues.map((issue) => {
    const where = pathOf(issue.path);
    // A check may say the value must not be repeated (a URL holding a password).
    const redacted = issue.code === 'custom' ? (issue.params as { redactedValue?: string } | undefined)?.redactedValue : undefined;
    const got = redacted ?? describeValue(valueAt(input, issue.path));
    switch (issue.code) {
      case 'invalid_type':
        return `${where}: expected ${issue.expected}, got ${got}`;
      case 'invalid_value':
        return `${where}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${got}`;
      case 'invalid_key': {
        // A bad record key: name the key, never its value (it may be a secret).
        const inner = issue.issues[0]?.message ?? issue.message;
        return `${pathOf(issue.path.slice(0, -1))}: expected ${inner.replace(/^Invalid input: /, '').replace(/^expected /i, '')}, got key ${JSON.stringify(issue.path.at(-1))}`;
      }
      case 'unrecognized_keys':
        return `${where}: expected no other keys, got unknown ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
      case 'invalid_union': {
        const options = /Expected (.+)$/i.exec(issue.message)?.[1];
        if (options) return `${where}: expected one of ${options.replace(/'/g, '"').split(' | ').join(', ')}, got ${got}`;
        return `${where}: expected ${issue.message}, got ${got}`;
      }
      default:
        return `${where}: expected ${issue.message.replace(/^Invalid input: /, '').replace(/^expected /i, '')}, got ${got}`;
    }
  });
}

/** Parses with a zod schema, throwing a ConfigError that names every bad field. */
export function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(`invalid ${what}`, formatZodIssues(result.error, input));
}

/** The message of anything thrown, for error rows. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
