/**
 * What the Gemini API checks in a generateContent request before any model runs: the schema of
 * structured output (responseSchema, Gemini's OpenAPI subset; responseJsonSchema, the JSON Schema
 * subset @google/genai documents on GenerationConfig.responseJsonSchema) and the safety settings
 * (HarmCategory / HarmBlockThreshold). Each problem is worded as Google words its 400 INVALID_ARGUMENT.
 */

/** A 400 INVALID_ARGUMENT: the message and, for a field Google's JSON parser refuses, the field (a BadRequest fieldViolation). */
export interface GeminiRequestProblem {
  message: string;
  field?: string;
}

/** Limits on a responseJsonSchema. Google publishes no figures: these defaults are the fake's, set so a schema a few times the product's passes. */
export interface GeminiSchemaLimits {
  /** Object/array schemas nested inside each other (Google: "exceeds the maximum allowed nesting depth"). Default 12. */
  maxDepth?: number;
  /** The schema's JSON size in characters (Google: "too many states for serving" for schemas with lots of text). Default 100 000. */
  maxChars?: number;
}

/** The fields of Gemini's Schema object (OpenAPI subset, @google/genai's `Schema`): any other name in responseSchema is a 400. */
const SCHEMA_FIELDS = new Set(['anyOf', 'default', 'description', 'enum', 'example', 'format', 'items', 'maxItems', 'maxLength', 'maxProperties', 'maximum', 'minItems', 'minLength', 'minProperties', 'minimum', 'nullable', 'pattern', 'properties', 'propertyOrdering', 'required', 'title', 'type']);

/**
 * The JSON Schema keywords responseJsonSchema supports, as listed by @google/genai (GenerationConfig.responseJsonSchema):
 * $id $defs $ref $anchor type format title description enum items prefixItems minItems maxItems minimum maximum
 * anyOf oneOf properties additionalProperties required, and the non-standard propertyOrdering.
 */
const JSON_SCHEMA_KEYWORDS = new Set(['$id', '$defs', '$ref', '$anchor', 'type', 'format', 'title', 'description', 'enum', 'items', 'prefixItems', 'minItems', 'maxItems', 'minimum', 'maximum', 'anyOf', 'oneOf', 'properties', 'additionalProperties', 'required', 'propertyOrdering']);
const JSON_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null']);

/** Google's check of a responseSchema: only Schema's own fields, recursively. */
export function responseSchemaProblem(schema: unknown, at = 'generation_config.response_schema'): GeminiRequestProblem | undefined {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return { message: `Invalid value at '${at}': expected an object.`, field: at };
  for (const [k, v] of Object.entries(schema)) {
    if (!SCHEMA_FIELDS.has(k)) return { message: `Invalid JSON payload received. Unknown name "${k}" at '${at}': Cannot find field.`, field: at };
    const children: [unknown, string][] =
      k === 'items' ? [[v, `${at}.items`]]
        : k === 'properties' ? Object.entries(v as Record<string, unknown>).map(([pk, pv]) => [pv, `${at}.properties[${pk}].value`])
          : k === 'anyOf' && Array.isArray(v) ? v.map((item, i) => [item, `${at}.any_of[${i}]`])
            : [];
    for (const [child, path] of children) {
      const p = responseSchemaProblem(child, path);
      if (p) return p;
    }
  }
  return undefined;
}

const jsonSchemaError = (path: string, what: string, note = ''): GeminiRequestProblem => ({
  message: `* GenerateContentRequest.generation_config.response_json_schema: ${what} at ${path || '(root)'}.${note}`,
});

/** The sub-schemas of one schema node, with their JSON pointer, and whether each nests one level deeper. */
function childSchemas(node: Record<string, unknown>, path: string): { schema: unknown; path: string; nested: boolean; booleanOk: boolean }[] {
  const out: { schema: unknown; path: string; nested: boolean; booleanOk: boolean }[] = [];
  const map = (key: string, nested: boolean) => {
    const v = node[key];
    if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k, s] of Object.entries(v)) out.push({ schema: s, path: `${path}/${key}/${k}`, nested, booleanOk: false });
  };
  const list = (key: string, nested: boolean) => {
    const v = node[key];
    if (Array.isArray(v)) v.forEach((s, i) => out.push({ schema: s, path: `${path}/${key}/${i}`, nested, booleanOk: false }));
  };
  map('properties', true);
  map('$defs', false);
  list('anyOf', false);
  list('oneOf', false);
  list('prefixItems', true);
  if (node.items !== undefined) out.push({ schema: node.items, path: `${path}/items`, nested: true, booleanOk: false });
  if (node.additionalProperties !== undefined) out.push({ schema: node.additionalProperties, path: `${path}/additionalProperties`, nested: true, booleanOk: true });
  return out;
}

/** The problem with one node's own keywords (not its children's). */
function nodeProblem(node: Record<string, unknown>, path: string, root: Record<string, unknown>): GeminiRequestProblem | undefined {
  for (const key of Object.keys(node)) if (!JSON_SCHEMA_KEYWORDS.has(key)) return jsonSchemaError(path, `unsupported keyword "${key}"`, ` Supported: ${[...JSON_SCHEMA_KEYWORDS].join(', ')}.`);
  const { type, enum: values, $ref: ref, required } = node;
  if (type !== undefined) {
    const types = Array.isArray(type) ? type : [type];
    if (!types.length || types.some((t) => typeof t !== 'string' || !JSON_TYPES.has(t))) return jsonSchemaError(path, `invalid "type" ${JSON.stringify(type)}, expected one of ${[...JSON_TYPES].join(', ')} or a list of them`);
  }
  if (values !== undefined && (!Array.isArray(values) || !values.length || values.some((v) => typeof v !== 'string' && typeof v !== 'number'))) {
    return jsonSchemaError(path, '"enum" must be a non-empty list of strings or numbers');
  }
  if (required !== undefined && (!Array.isArray(required) || required.some((r) => typeof r !== 'string'))) return jsonSchemaError(path, '"required" must be a list of property names');
  for (const key of ['minItems', 'maxItems'] as const) {
    const v = node[key];
    if (v !== undefined && !(Number.isSafeInteger(v) && (v as number) >= 0)) return jsonSchemaError(path, `"${key}" must be a non-negative integer, got ${JSON.stringify(v)}`);
  }
  for (const key of ['minimum', 'maximum'] as const) if (node[key] !== undefined && typeof node[key] !== 'number') return jsonSchemaError(path, `"${key}" must be a number, got ${JSON.stringify(node[key])}`);
  if (ref !== undefined) {
    const others = Object.keys(node).filter((k) => !k.startsWith('$'));
    if (others.length) return jsonSchemaError(path, `a schema with "$ref" may set no other property except those starting with "$", got ${others.map((o) => `"${o}"`).join(', ')}`);
    const defs = (root.$defs ?? {}) as Record<string, unknown>;
    const target = typeof ref === 'string' ? /^#\/\$defs\/([^/]+)$/.exec(ref)?.[1] : undefined;
    if (ref !== '#' && (target === undefined || !(target in defs))) return jsonSchemaError(path, `"$ref" ${JSON.stringify(ref)} does not name a schema of this document's $defs`);
  }
  return undefined;
}

/**
 * Gemini's check of a responseJsonSchema: the supported keywords only (the SDK's documented list), valid
 * types, enums of strings or numbers, a $ref alone (bar $-keywords) and resolvable in $defs, and the
 * nesting and size limits. Walks breadth-first with an explicit queue: a hostile schema cannot overflow the stack.
 */
export function responseJsonSchemaProblem(schema: unknown, limits: GeminiSchemaLimits = {}): GeminiRequestProblem | undefined {
  const maxDepth = limits.maxDepth ?? 12;
  const maxChars = limits.maxChars ?? 100_000;
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return jsonSchemaError('', 'the schema must be a JSON object');
  if (JSON.stringify(schema).length > maxChars) {
    return { message: 'The specified schema produces a constraint that has too many states for serving. Typical causes of this error are schemas with lots of text (for example, very long property or enum names), schemas with long array length limits (especially when nested), or schemas using complex value matchers (for example, integers or numbers with minimum/maximum bounds or strings with complex formats like date-time)' };
  }
  const root = schema as Record<string, unknown>;
  const queue: { schema: unknown; path: string; depth: number; booleanOk: boolean }[] = [{ schema, path: '', depth: 1, booleanOk: false }];
  for (let i = 0; i < queue.length; i++) {
    const { schema: node, path, depth, booleanOk } = queue[i]!;
    if (typeof node === 'boolean' && booleanOk) continue;
    if (!node || typeof node !== 'object' || Array.isArray(node)) return jsonSchemaError(path, 'expected a schema object');
    if (depth > maxDepth) return { message: 'A schema in GenerationConfig in the request exceeds the maximum allowed nesting depth.' };
    const problem = nodeProblem(node as Record<string, unknown>, path, root);
    if (problem) return problem;
    for (const child of childSchemas(node as Record<string, unknown>, path)) queue.push({ schema: child.schema, path: child.path, depth: child.nested ? depth + 1 : depth, booleanOk: child.booleanOk });
  }
  return undefined;
}

/** HarmCategory values the Gemini API (not Vertex) takes in safetySettings. */
export const GEMINI_HARM_CATEGORIES = ['HARM_CATEGORY_HARASSMENT', 'HARM_CATEGORY_HATE_SPEECH', 'HARM_CATEGORY_SEXUALLY_EXPLICIT', 'HARM_CATEGORY_DANGEROUS_CONTENT', 'HARM_CATEGORY_CIVIC_INTEGRITY'];
/** Other names of the HarmCategory enum (PaLM's, Vertex's image ones, UNSPECIFIED): parsed, then refused for Gemini models. */
const OTHER_HARM_CATEGORIES = ['HARM_CATEGORY_UNSPECIFIED', 'HARM_CATEGORY_DEROGATORY', 'HARM_CATEGORY_TOXICITY', 'HARM_CATEGORY_VIOLENCE', 'HARM_CATEGORY_SEXUAL', 'HARM_CATEGORY_MEDICAL', 'HARM_CATEGORY_DANGEROUS', 'HARM_CATEGORY_JAILBREAK', 'HARM_CATEGORY_IMAGE_HATE', 'HARM_CATEGORY_IMAGE_DANGEROUS_CONTENT', 'HARM_CATEGORY_IMAGE_HARASSMENT', 'HARM_CATEGORY_IMAGE_SEXUALLY_EXPLICIT'];
/** HarmBlockThreshold values (@google/genai's enum). */
export const GEMINI_BLOCK_THRESHOLDS = ['HARM_BLOCK_THRESHOLD_UNSPECIFIED', 'BLOCK_LOW_AND_ABOVE', 'BLOCK_MEDIUM_AND_ABOVE', 'BLOCK_ONLY_HIGH', 'BLOCK_NONE', 'OFF'];

/** Google's check of safetySettings: enum names the JSON parser knows, and categories Gemini models serve. */
export function safetySettingsProblem(settings: unknown, apiVersion: string): GeminiRequestProblem | undefined {
  if (settings === undefined) return undefined;
  if (!Array.isArray(settings)) return { message: `Invalid value at 'safety_settings' (type.googleapis.com/google.ai.generativelanguage.${apiVersion}.SafetySetting), ${JSON.stringify(settings)}`, field: 'safety_settings' };
  for (const [i, raw] of settings.entries()) {
    const at = `safety_settings[${i}]`;
    const s = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
    for (const key of Object.keys(s)) if (key !== 'category' && key !== 'threshold' && key !== 'method') return { message: `Invalid JSON payload received. Unknown name "${key}" at '${at}': Cannot find field.`, field: at };
    if (s.method !== undefined) return { message: `* GenerateContentRequest.${at}.method: method is not supported in Gemini API.` };
    if (typeof s.category !== 'string' || ![...GEMINI_HARM_CATEGORIES, ...OTHER_HARM_CATEGORIES].includes(s.category)) {
      return { message: `Invalid value at '${at}.category' (type.googleapis.com/google.ai.generativelanguage.${apiVersion}.HarmCategory), ${JSON.stringify(s.category)}`, field: `${at}.category` };
    }
    if (typeof s.threshold !== 'string' || !GEMINI_BLOCK_THRESHOLDS.includes(s.threshold)) {
      return { message: `Invalid value at '${at}.threshold' (type.googleapis.com/google.ai.generativelanguage.${apiVersion}.SafetySetting.HarmBlockThreshold), ${JSON.stringify(s.threshold)}`, field: `${at}.threshold` };
    }
    if (!GEMINI_HARM_CATEGORIES.includes(s.category)) {
      return { message: `* GenerateContentRequest.${at}: element predicate failed: $.category in (${GEMINI_HARM_CATEGORIES.map((c) => `HarmCategory.${c}`).join(', ')})` };
    }
  }
  return undefined;
}
