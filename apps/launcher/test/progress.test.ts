import assert from 'node:assert/strict';
import { createProgressReporter } from '../src/progress.js';

/** A stream that records what is written (the reporter only writes and reads columns). */
function recorder(columns = 200) {
  const out: string[] = [];
  return { out, stream: { columns, write: (s: string) => out.push(s) } as unknown as NodeJS.WriteStream };
}

describe('progress reporter', () => {
  const waiting = (s: number) => ({ total: 2, succeeded: 0, failed: 0, running: 1, message: `chunk 0: waiting for the model server at http://tgi:80 (HTTP 503, ${s} s of 900 s)` });

  it('plain: prints count changes at once and a worker\'s changed message at most once per interval', () => {
    let clock = 0;
    const { out, stream } = recorder();
    const p = createProgressReporter('plain', stream, { messageIntervalMs: 10_000, now: () => clock });
    p.update('classify', waiting(0));
    clock = 5_000;
    p.update('classify', waiting(5));
    clock = 10_000;
    p.update('classify', waiting(10));
    p.update('classify', { total: 2, succeeded: 1, failed: 0, running: 1 });
    assert.deepEqual(out, [
      'classify: 0/2 chunks (0 ok, 0 failed, 1 running)\n',
      'classify: chunk 0: waiting for the model server at http://tgi:80 (HTTP 503, 0 s of 900 s)\n',
      'classify: chunk 0: waiting for the model server at http://tgi:80 (HTTP 503, 10 s of 900 s)\n',
      'classify: 1/2 chunks (1 ok, 0 failed, 1 running)\n',
    ]);
  });

  it('tty: the bar carries the message, cut to the terminal width', () => {
    const { out, stream } = recorder(120);
    const p = createProgressReporter('tty', stream);
    p.update('classify', waiting(40));
    p.done();
    const line = out[0]!.replace('\x1b[K', '');
    assert.match(line, /^\r\[\.{30}\] classify: 0\/2 chunks \(0 ok, 0 failed, 1 running\) \| chunk 0: waiting/);
    assert.ok(line.length <= 120, `fits 120 columns, got ${line.length}`);
    assert.ok(line.endsWith('…'));
    assert.equal(out.at(-1), '\n');
  });
});
