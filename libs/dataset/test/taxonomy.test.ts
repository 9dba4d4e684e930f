import assert from 'node:assert/strict';
import { LEAF_NAMES, contentTaxonomy, leafInfo, taxonomyLeaves } from '@finevideo/dataset';

describe('taxonomy', () => {
  it('has the original 9 top-level categories and 126 leaves under 123 distinct names', () => {
    assert.equal(Object.keys(contentTaxonomy).length, 9);
    assert.equal(taxonomyLeaves().length, 126);
    assert.equal(LEAF_NAMES.length, 123);
    assert.equal(new Set(LEAF_NAMES).size, 123);
    assert.deepEqual(leafInfo('Travel Vlogs'), { leaf: 'Travel Vlogs', parent: 'Vlogs', topLevel: 'Entertainment' }, 'a duplicated name maps to its first place');
  });
  it('maps a leaf to its parent and top-level category', () => {
    assert.deepEqual(leafInfo('Stand-up'), { leaf: 'Stand-up', parent: 'Comedy', topLevel: 'Entertainment' });
    assert.deepEqual(leafInfo('Cooking Tutorials'), { leaf: 'Cooking Tutorials', parent: 'Tutorials', topLevel: 'Education' });
    assert.equal(leafInfo('Comedy'), undefined, 'an inner node is not a leaf');
  });
  it('handles leaves directly under a top-level category', () => {
    assert.deepEqual(taxonomyLeaves({ A: { B: {}, C: { D: {} } } }), [
      { leaf: 'B', parent: 'A', topLevel: 'A' },
      { leaf: 'D', parent: 'C', topLevel: 'A' },
    ]);
  });
});
