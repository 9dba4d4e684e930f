import * as k8s from '@kubernetes/client-node';

/**
 * The OpenAPI v3 document the fake serves for batch/v1, derived from @kubernetes/client-node's
 * generated models (each model knows its fields and their types): no hand-written schema to
 * drift from the client. kubectl reads it to learn that the server validates fields itself
 * (the `fieldValidation` parameter on PATCH), and the fake validates request bodies against it.
 */

interface Attribute {
  baseName: string;
  type: string;
  format: string;
}
interface GeneratedModel {
  getAttributeTypeMap(): Attribute[];
}
export type OpenApiSchema = {
  type?: string;
  format?: string;
  properties?: Record<string, OpenApiSchema>;
  items?: OpenApiSchema;
  additionalProperties?: OpenApiSchema;
  $ref?: string;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-group-version-kind'?: GroupVersionKind[];
};
interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

const REF_PREFIX = '#/components/schemas/';
const JOB_GVK: GroupVersionKind = { group: 'batch', version: 'v1', kind: 'Job' };

function generatedModel(type: string): GeneratedModel | undefined {
  const candidate = (k8s as unknown as Record<string, unknown>)[type];
  return candidate && typeof (candidate as GeneratedModel).getAttributeTypeMap === 'function' ? (candidate as GeneratedModel) : undefined;
}

function schemaOf(type: string, format: string, components: Record<string, OpenApiSchema>): OpenApiSchema {
  const array = /^Array<(.+)>$/.exec(type);
  if (array) return { type: 'array', items: schemaOf(array[1]!, format, components) };
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return { type: 'object', additionalProperties: schemaOf(map[1]!, format, components) };
  if (type === 'string') return { type: 'string' };
  if (type === 'Date') return { type: 'string', format: 'date-time' };
  if (type === 'boolean') return { type: 'boolean' };
  if (type === 'number') return format === 'double' ? { type: 'number', format } : { type: 'integer', format: format || 'int64' };
  if (type === 'IntOrString') return { 'x-kubernetes-int-or-string': true };
  const model = generatedModel(type);
  if (!model) return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  if (!(type in components)) {
    const schema: OpenApiSchema = { type: 'object', properties: {} };
    components[type] = schema;
    for (const attribute of model.getAttributeTypeMap()) schema.properties![attribute.baseName] = schemaOf(attribute.type, attribute.format, components);
  }
  return { $ref: `${REF_PREFIX}${type}` };
}

const fieldValidation = { name: 'fieldValidation', in: 'query', description: 'Ignore, Warn or Strict: what the server does with unknown or duplicate fields.', schema: { type: 'string', uniqueItems: true } };

/**
 * The batch/v1 OpenAPI document. `notServed`: Job fields this API server does not know, as dotted paths
 * ("spec.backoffLimitPerIndex": an API server before 1.29, or with the JobBackoffLimitPerIndex gate off).
 */
export function batchV1OpenApi(notServed: readonly string[] = []): { document: Record<string, unknown>; components: Record<string, OpenApiSchema> } {
  const components: Record<string, OpenApiSchema> = {};
  schemaOf('V1Job', '', components);
  for (const path of notServed) removeField(components, path);
  components['V1Job']!['x-kubernetes-group-version-kind'] = [JOB_GVK];
  const jobRef = { $ref: `${REF_PREFIX}V1Job` };
  const op = (action: string, extra: Record<string, unknown> = {}) => ({
    operationId: `${action}NamespacedJob`, tags: ['batch_v1'], 'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': JOB_GVK,
    responses: { '200': { description: 'OK', content: { 'application/json': { schema: jobRef } } } }, ...extra,
  });
  const namespace = { name: 'namespace', in: 'path', required: true, schema: { type: 'string' } };
  const name = { name: 'name', in: 'path', required: true, schema: { type: 'string' } };
  const body = { required: true, content: { 'application/json': { schema: jobRef } } };
  const document = {
    openapi: '3.0.0',
    info: { title: 'Kubernetes (finevideo fake)', version: 'v1.31.0' },
    paths: {
      '/apis/batch/v1/namespaces/{namespace}/jobs': {
        parameters: [namespace],
        get: op('list'),
        post: op('post', { parameters: [fieldValidation], requestBody: body }),
      },
      '/apis/batch/v1/namespaces/{namespace}/jobs/{name}': {
        parameters: [namespace, name],
        get: op('get'),
        delete: op('delete'),
        patch: op('patch', { parameters: [fieldValidation], requestBody: { required: true, content: { 'application/merge-patch+json': { schema: { type: 'object' } }, 'application/strategic-merge-patch+json': { schema: { type: 'object' } } } } }),
      },
    },
    components: { schemas: components },
  };
  return { document, components };
}

/** Fields of `value` that its schema does not know, as the API server names them ("spec.template.spec.foo"). */
export function unknownFieldPaths(value: unknown, schema: OpenApiSchema, components: Record<string, OpenApiSchema>, path = ''): string[] {
  if (schema.$ref) return unknownFieldPaths(value, components[schema.$ref.slice(REF_PREFIX.length)] ?? {}, components, path);
  if (value === null || typeof value !== 'object') return [];
  if (Array.isArray(value)) return schema.items ? value.flatMap((v, i) => unknownFieldPaths(v, schema.items!, components, `${path}[${i}]`)) : [];
  const join = (key: string) => (path ? `${path}.${key}` : key);
  const found: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const childSchema = schema.properties?.[key] ?? schema.additionalProperties;
    if (childSchema) found.push(...unknownFieldPaths(child, childSchema, components, join(key)));
    else if (schema.properties && !schema['x-kubernetes-preserve-unknown-fields']) found.push(join(key));
  }
  return found;
}

/** Removes one field (a dotted path from a Job) from the schemas, as an older API server would not have it. */
function removeField(components: Record<string, OpenApiSchema>, path: string): void {
  const segments = path.split('.');
  let schema: OpenApiSchema | undefined = components['V1Job'];
  for (const [i, segment] of segments.entries()) {
    while (schema?.$ref) schema = components[schema.$ref.slice(REF_PREFIX.length)];
    if (!schema?.properties?.[segment]) throw new Error(`notServed: expected a field path of batch/v1 Job, got ${JSON.stringify(path)}`);
    if (i === segments.length - 1) delete schema.properties[segment];
    else schema = schema.properties[segment];
  }
}

/** Deletes the fields at these paths ("spec.template.spec.containers[0].foo"), as the API server drops unknown fields it does not refuse. */
export function dropFields(value: unknown, paths: readonly string[]): void {
  for (const path of paths) {
    const segments = path.split(/\.|\[(\d+)\]/).filter((s) => s !== undefined && s !== '');
    let node = value as Record<string, unknown> | undefined;
    for (const segment of segments.slice(0, -1)) node = node?.[segment] as Record<string, unknown> | undefined;
    if (node && typeof node === 'object') delete node[segments[segments.length - 1]!];
  }
}
