import type { z } from 'zod';

/** Describes a value for an error message without dumping large or secret-looking payloads. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return value.length > 80 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'a mapping';
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

/** Edit distance with adjacent transpositions ("treshold" -> "threshold" is 1, "tresh" -> "thres" is 1). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number) => d[i * cols + j]!;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      d[i * cols + j] = best;
    }
  }
  return at(a.length, b.length);
}

/** The valid name closest to a misspelt one, when it is close enough to be a likely typo. */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const wanted = name.toLowerCase();
  for (const candidate of candidates) {
    const distance = editDistance(wanted, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // A third of the name may be wrong ("treshold", "itemPerChunk", "paralelism"), never more than 3 edits.
  return best !== undefined && bestDistance <= Math.min(3, Math.max(1, Math.floor(name.length / 3))) ? best : undefined;
}

/** The zod internals this module reads to find an object's keys (zod 4 keeps them in `_zod.def`). */
interface SchemaDef {
  type?: string;
  shape?: Record<string, unknown>;
  innerType?: unknown;
  in?: unknown;
  element?: unknown;
  valueType?: unknown;
  options?: unknown[];
  discriminator?: string;
  getter?: () => unknown;
}

function defOf(schema: unknown): SchemaDef | undefined {
  return (schema as { _zod?: { def?: SchemaDef } } | undefined)?._zod?.def;
}

/** Unwraps optional, default, pipe and lazy wrappers; picks a discriminated union's option from the input. */
function unwrap(schema: unknown, input: unknown): unknown {
  for (let depth = 0; depth < 20; depth++) {
    const def = defOf(schema);
    if (!def) return schema;
    if (def.innerType) schema = def.innerType;
    else if (def.type === 'pipe' && def.in) schema = def.in;
    else if (def.type === 'lazy' && def.getter) schema = def.getter();
    else if (def.type === 'union' && def.options) {
      const tag = def.discriminator && input && typeof input === 'object' ? (input as Record<string, unknown>)[def.discriminator] : undefined;
      const objects = def.options.map((o) => unwrap(o, input)).filter((o) => defOf(o)?.type === 'object');
      const match = objects.find((o) => {
        const literal = defOf(defOf(o)?.shape?.[def.discriminator ?? '']) as { values?: unknown[] } | undefined;
        return literal?.values?.includes(tag);
      });
      return match ?? (objects.length === 1 ? objects[0] : schema);
    } else return schema;
  }
  return schema;
}

/** The schema that describes the value at a path of the input, when it can be followed. */
function schemaAt(schema: unknown, input: unknown, path: readonly PropertyKey[]): unknown {
  let cur = unwrap(schema, input);
  let value = input;
  for (const key of path) {
    const def = defOf(cur);
    value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
    if (def?.type === 'object' && typeof key === 'string') cur = def.shape?.[key];
    else if (def?.type === 'array') cur = def.element;
    else if (def?.type === 'record') cur = def.valueType;
    else return undefined;
    cur = unwrap(cur, value);
  }
  return cur;
}

function isIntegerSchema(schema: unknown): boolean {
  return (schema as { isInt?: boolean } | undefined)?.isInt === true;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string', number: 'a number', int: 'an integer', boolean: 'true or false', array: 'a list', object: 'a mapping',
  record: 'a mapping', bigint: 'an integer', date: 'a date', null: 'null', undefined: 'nothing',
};

function typeWords(expected: string): string {
  return TYPE_WORDS[expected] ?? expected;
}

/** "a number >= 0", "a non-empty string", "a list of at most 3 items": what a size check expects. */
function sizeWords(origin: string, bound: number | bigint, inclusive: boolean, exact: boolean | undefined, side: 'min' | 'max', integer: boolean): string {
  const n = Number(bound);
  if (origin === 'number' || origin === 'int' || origin === 'bigint') {
    const noun = integer || origin !== 'number' ? 'an integer' : 'a number';
    const op = side === 'min' ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<';
    return `${noun} ${op} ${n}`;
  }
  const unit = origin === 'string' ? 'character' : 'item';
  const noun = origin === 'string' ? 'a string' : origin === 'array' || origin === 'set' ? 'a list' : `a ${origin}`;
  if (exact) return `${noun} of exactly ${n} ${unit}${n === 1 ? '' : 's'}`;
  if (side === 'min' && n === 1 && inclusive) return origin === 'string' ? 'a non-empty string' : `a non-empty ${noun.slice(2)}`;
  const limit = side === 'min' ? (inclusive ? n : n + 1) : inclusive ? n : n - 1;
  return `${noun} of ${side === 'min' ? 'at least' : 'at most'} ${limit} ${unit}${limit === 1 ? '' : 's'}`;
}

const DEFAULT_MESSAGE = /^(Invalid (input|string|number|URL|value)|Too (small|big)|Unrecognized)/;

/** What an issue expected, in plain words ("a number >= 0", "one of "local", "kubernetes""). */
function expectation(issue: z.core.$ZodIssue, schema: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      return isIntegerSchema(schema) && issue.expected === 'number' ? 'an integer' : typeWords(issue.expected);
    case 'too_small':
      return sizeWords(issue.origin, issue.minimum, issue.inclusive ?? true, issue.exact, 'min', isIntegerSchema(schema));
    case 'too_big':
      return sizeWords(issue.origin, issue.maximum, issue.inclusive ?? true, issue.exact, 'max', isIntegerSchema(schema));
    case 'not_multiple_of':
      return `a multiple of ${String(issue.divisor)}`;
    case 'invalid_format': {
      // A custom message names the format the author meant ("an environment variable name").
      if (!DEFAULT_MESSAGE.test(issue.message)) return issue.message;
      if (issue.format === 'regex') return `a string matching ${(issue as { pattern?: string }).pattern ?? 'the pattern'}`;
      if (issue.format === 'url') return 'a URL';
      if (issue.format === 'starts_with' || issue.format === 'ends_with' || issue.format === 'includes') return issue.message.replace(/^Invalid string: must /, 'a string that must ');
      return `a string in ${issue.format} format`;
    }
    case 'invalid_value':
      return issue.values.length === 1 ? JSON.stringify(issue.values[0]) : `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_union': {
      const options = /Expected (.+)$/i.exec(issue.message)?.[1];
      if (options) return `one of ${options.replace(/'/g, '"').split(' | ').join(', ')}`;
      const branches = issue.errors.map((branch) => (branch[0] ? expectation(branch[0], undefined) : undefined)).filter((b): b is string => !!b);
      return branches.length ? [...new Set(branches)].join(' or ') : 'a valid value';
    }
    case 'custom':
      return DEFAULT_MESSAGE.test(issue.message) ? 'a valid value' : issue.message;
    default:
      return DEFAULT_MESSAGE.test(issue.message) ? 'a valid value' : issue.message.replace(/^expected /i, '');
  }
}

export interface FormatOptions {
  /** The schema that was parsed: unknown keys are named with the closest valid one. */
  schema?: z.ZodType;
  /** What an unknown key is called in messages ("param" for stage params; "field" otherwise). */
  keyNoun?: string;
}

/** Turns zod issues into lines naming the field, the expectation and the value found. */
export function formatZodIssues(error: z.ZodError, input: unknown, options: FormatOptions = {}): string[] {
  return error.issues.flatMap((issue) => {
    const where = pathOf(issue.path);
    if (issue.code === 'unrecognized_keys') {
      // One line per key, with the closest valid key when one is close enough to be a typo.
      const def = defOf(options.schema ? schemaAt(options.schema, input, issue.path) : undefined);
      const valid = def?.type === 'object' ? Object.keys(def.shape ?? {}) : [];
      return issue.keys.map((key) => {
        const near = closestName(key, valid);
        const hint = near ? `; did you mean ${near}?` : valid.length && valid.length <= 20 ? ` (expected one of ${valid.join(', ')})` : '';
        return `${pathOf([...issue.path, key])}: unknown ${options.keyNoun ?? 'field'}${hint}`;
      });
    }
    if (issue.code === 'invalid_key') {
      // A bad record key: name the key, never its value (it may be a secret).
      const inner = issue.issues[0];
      return [`${pathOf(issue.path.slice(0, -1))}: expected ${inner ? expectation(inner, undefined) : 'a valid key'}, got key ${JSON.stringify(issue.path.at(-1))}`];
    }
    // A check may say the value must not be repeated (a URL holding a password).
    const redacted = issue.code === 'custom' ? (issue.params as { redactedValue?: string } | undefined)?.redactedValue : undefined;
    const value = valueAt(input, issue.path);
    const got = redacted ?? describeValue(value);
    const schema = options.schema ? schemaAt(options.schema, input, issue.path) : undefined;
    const expected = expectation(issue, schema);
    if (issue.code === 'invalid_type' && value === undefined) return [`${where}: expected ${expected}, got nothing (it is required)`];
    return [`${where}: expected ${expected}, got ${got}`];
  });
}

/** Parses with a zod schema, throwing a ConfigError that names every bad field. */
export function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(`invalid ${what}`, formatZodIssues(result.error, input, { schema, keyNoun: /params/.test(what) ? 'param' : 'field' }));
}

/** The message of anything thrown, for error rows. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
