import taxonomyData from './content_taxonomy.json' with { type: 'json' };

/** A nested taxonomy: a leaf is a key whose value is an empty object. */
export type TaxonomyNode = { [name: string]: TaxonomyNode };

export interface TaxonomyLeaf {
  leaf: string;
  parent: string;
  topLevel: string;
}

/** FineVideo's content taxonomy (9 top-level categories, 3 levels, 126 leaves), bundled with the product. */
export const contentTaxonomy: TaxonomyNode = taxonomyData as TaxonomyNode;

export function taxonomyLeaves(taxonomy: TaxonomyNode = contentTaxonomy): TaxonomyLeaf[] {
  const leaves: TaxonomyLeaf[] = [];
  const walk = (node: TaxonomyNode, parent: string, topLevel: string) => {
    for (const [name, child] of Object.entries(node)) {
      if (Object.keys(child).length === 0) leaves.push({ leaf: name, parent: parent || name, topLevel: topLevel || name });
      else walk(child, name, topLevel || name);
    }
  };
  walk(taxonomy, '', '');
  return leaves;
}

const byLeaf = new Map<string, TaxonomyLeaf>();
for (const l of taxonomyLeaves()) if (!byLeaf.has(l.leaf)) byLeaf.set(l.leaf, l);

/**
 * The parent and top-level category of a leaf of the bundled taxonomy, or undefined.
 * Three leaf names occur twice (Short Films, Game Reviews, Travel Vlogs); a model answers
 * with a name only, so such a name maps to its first place in the taxonomy.
 */
export function leafInfo(leaf: string): TaxonomyLeaf | undefined {
  return byLeaf.get(leaf);
}

/** The distinct leaf names (123 of the 126 leaves): the answers a classifier may give. */
export const LEAF_NAMES: readonly string[] = [...byLeaf.keys()];
