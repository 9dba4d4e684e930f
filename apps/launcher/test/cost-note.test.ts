import assert from 'node:assert/strict';
import { costNote, stageNotes } from '../src/funnel.js';

describe('the cost line of a paid stage (run summary and status)', () => {
  it('says total dollars, tokens, per annotated video and per chunk, and what was reused', () => {
    const counters = { annotate_input_tokens: 1_200_000, annotate_output_tokens: 80_000, annotate_cost_microusd: 2_300_000, annotate_annotated: 40, annotate_cached: 10 };
    assert.equal(costNote('annotate', counters, 5), 'cost: annotate spent $2.30 for 1,200,000 input and 80,000 output tokens, $0.0575 per annotated video, $0.4600 per chunk; 10 cached annotation(s) reused at no cost');
  });
  it('names videos of a model without a price, says $0 for a re-run that only reused, and stays silent for the baseline and other stages', () => {
    assert.match(costNote('annotate', { annotate_input_tokens: 10, annotate_output_tokens: 5, annotate_unpriced_videos: 2 })!, /2 videos of a model without a price are not counted: set params\.prices/);
    assert.equal(costNote('annotate', { annotate_cached: 7 }), 'cost: annotate spent $0: 7 cached annotation(s) reused, nothing requested');
    assert.equal(costNote('annotate', { annotate_cached: 7, baseline_annotator_items: 7 }), undefined);
    assert.equal(costNote('classify', { prompt_tokens: 100 }), undefined);
  });
  it('the baseline annotator is named in the notes', () => {
    const notes = stageNotes([{ stage: 'annotate', stats: { items: 3, kept: 3, dropped: 0, errors: 0, reasons: {}, counters: { baseline_annotator_items: 3 } } }]);
    assert.match(notes[0]!, /^note: annotate used the baseline annotator, not a model, for 3 videos/);
  });
});
