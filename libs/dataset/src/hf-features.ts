import type { z } from 'zod';

/**
 * A Hugging Face `datasets` feature, as a dataset card's YAML lists it under dataset_info.features:
 * `{name, dtype}` for a value, `{name, struct: [...]}` for an object, `{name, list: [...]}` for a list of
 * objects, `{name, sequence: dtype}` for a list of values.
 */
export type HfFeature =
  | { name: string; dtype: string }
  | { name: string; struct: HfFeature[] }
  | { name: string; list: HfFeature[] }
  | { name: string; sequence: string };

type Shape = Record<string, z.ZodType>;

function valueDtype(schema: z.ZodType, where: string): string {
  const def = schema.def as { type: string; innerType?: z.ZodType };
  switch (def.type) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'number':
      return (schema as z.ZodNumber).isInt ? 'int64' : 'float64';
    case 'optional':
    case 'nullable':
      return valueDtype(def.innerType!, where);
    default:
      throw new Error(`${where}: expected a string, number or boolean schema for a Hugging Face value, got ${def.type}`);
  }
}

function unwrap(schema: z.ZodType): z.ZodType {
  const def = schema.def as { type: string; innerType?: z.ZodType };
  return def.type === 'optional' || def.type === 'nullable' ? unwrap(def.innerType!) : schema;
}

function feature(name: string, raw: z.ZodType, where: string): HfFeature {
  const schema = unwrap(raw);
  const type = (schema.def as { type: string }).type;
  if (type === 'object') return { name, struct: hfFeatures((schema as z.ZodObject).shape as Shape, where) };
  if (type === 'array') {
    const element = unwrap((schema as z.ZodArray<z.ZodType>).element);
    if ((element.def as { type: string }).type === 'object') return { name, list: hfFeatures((element as z.ZodObject).shape as Shape, `${where}[]`) };
    return { name, sequence: valueDtype(element, `${where}[]`) };
  }
  return { name, dtype: valueDtype(schema, where) };
}

/**
 * The features of an object schema, in the schema's field order: what a dataset card's
 * dataset_info.features says about parquet written from rows of that schema, so card and data
 * come from one definition.
 */
export function hfFeatures(shape: Shape, where = '(root)'): HfFeature[] {
  return Object.entries(shape).map(([name, schema]) => feature(name, schema, where === '(root)' ? name : `${where}.${name}`));
}
