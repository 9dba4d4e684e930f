import assert from 'node:assert/strict';
import { densityVerdict, parseDuration, wordDensity } from '@finevideo/stages/worddensity';

describe('stage worddensity', () => {
  it('parses h:m:s, m:s and s; missing is 0; garbage is unparseable', () => {
    const cases: [unknown, number | undefined][] = [
      ['1:02:03', 3723], ['2:03', 123], ['45', 45], [' 3:04 ', 184], ['0:00', 0], ['1:75', 135],
      ['', 0], [null, 0], [undefined, 0],
      ['abc', undefined], ['1:xx', undefined], ['-5', undefined], ['1.5', undefined], ['1:2:3:4', undefined], ['PT4M13S', undefined], [{}, undefined],
    ];
    for (const [input, expected] of cases) assert.equal(parseDuration(input), expected, `parseDuration(${JSON.stringify(input)})`);
  });

  it('computes word density with 0 for a zero duration', () => {
    assert.equal(wordDensity(120, 60), 2);
    assert.equal(wordDensity(120, 0), 0);
  });

  it('keeps strictly above the threshold and names the reason otherwise', () => {
    assert.deepEqual(densityVerdict({ duration_string: '1:00', word_count: 31 }, 0.5), { keep: true, durationSeconds: 60, density: 31 / 60 });
    assert.equal(densityVerdict({ duration_string: '1:00', word_count: 30 }, 0.5).keep, false, '0.5 is not above 0.5');
    assert.deepEqual(densityVerdict({ duration_string: '', word_count: 300 }, 0.5), { keep: false, reason: 'low-word-density', durationSeconds: 0, density: 0 });
    assert.deepEqual(densityVerdict({ duration_string: 'abc', word_count: 300 }, 0.5), { keep: false, reason: 'unparseable-duration' });
    assert.equal(densityVerdict({ duration_string: '1:00', word_count: 31 }, 0.6).keep, false, 'the threshold is a parameter');
  });
});
