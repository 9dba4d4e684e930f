import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProbeTimeoutError, VideoCorruptError, checkVideoIntegrity } from '@finevideo/media';
import { generateVideo, generateWithoutMoov, truncateCopy, type VideoSpec } from '@finevideo/testing';

describe('checkVideoIntegrity (real ffprobe on generated videos)', function () {
  this.timeout(60_000);
  let dir: string;
  let whole: string;
  const spec: VideoSpec = { sections: [{ kind: 'motion', seconds: 6 }], width: 160, height: 120, fps: 25, audio: true };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'integrity-'));
    whole = join(dir, 'whole.mp4');
    await generateVideo(whole, spec);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('passes a whole file and returns its probed facts', async () => {
    const facts = await checkVideoIntegrity(whole, { expectedBytes: (await stat(whole)).size });
    assert.equal(facts.video?.width, 160);
    assert.equal(facts.video?.fps, 25);
    assert.ok(Math.abs(facts.durationSec - 6) < 0.2, `duration ${facts.durationSec}`);
  });

  it('refuses a faststart copy cut to a third: its index still says 6 s, the tail decode finds no frames', async () => {
    const cut = join(dir, 'cut.mp4');
    await truncateCopy(whole, cut, 0.33);
    await assert.rejects(checkVideoIntegrity(cut), (e: unknown) => e instanceof VideoCorruptError && /expected video frames up to 6\.00 s/.test(e.message));
  });

  it('refuses a file of another size than download recorded, naming both sizes', async () => {
    const size = (await stat(whole)).size;
    await assert.rejects(checkVideoIntegrity(whole, { expectedBytes: size + 1 }), new RegExp(`expected ${size + 1} bytes as downloaded, got ${size}`));
  });

  it('refuses a file without its index (moov) as an unreadable container', async () => {
    const noMoov = join(dir, 'nomoov.mp4');
    await generateWithoutMoov(noMoov, spec);
    await assert.rejects(checkVideoIntegrity(noMoov), (e: unknown) => e instanceof VideoCorruptError && /^unreadable container/.test(e.message));
  });

  it('an ffprobe that runs out of time is not the file\'s fault: ProbeTimeoutError, never VideoCorruptError', async () => {
    await assert.rejects(checkVideoIntegrity(whole, { timeoutMs: 1 }), (e: unknown) => e instanceof ProbeTimeoutError && !(e instanceof VideoCorruptError));
  });
});
