// Anomaly stage throughput: one global task judging aligned annotations read from a folder store (the
// per-video work: one read, one JSON parse and schema check, twelve rules), and the pure alignment
// (timestamp parsing, snapping, clamping) per video, to show one anomaly task keeps up with align's many.
//   node --import tsx tools/bench/anomaly.ts [--videos 5000] [--concurrency 16]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { GlobalContext, Row } from '@finevideo/core';
import { alignContentMetadata, type DetectedScenes } from '@finevideo/dataset';
import { FileStore } from '@finevideo/storage';
import { anomalyParams, anomalyStage, type AnomalyParams } from '@finevideo/stages/anomaly';
import { sampleAnnotation } from '@finevideo/testing';

const { values } = parseArgs({ options: { videos: { type: 'string', default: '5000' }, concurrency: { type: 'string', default: '16' } } });
const videos = Number(values.videos);
const fps = 30;
const seconds = 300;
const frameCount = fps * seconds;
// Five scenes of a 5-minute video with a cut every 6 s (49 cuts), the annotation's boundaries among them.
const cuts = Array.from({ length: seconds / 6 - 1 }, (_, k) => (k + 1) * 6 * fps);
const starts = [0, ...cuts];
const detection: DetectedScenes = { fps, frameCount, cuts, scenes: starts.map((s, k) => ({ startFrame: s, endFrame: starts[k + 1] ?? frameCount })) };
const annotation = sampleAnnotation({ durationSeconds: seconds, scenes: 5, seed: 3 });

let t = performance.now();
let aligned;
const alignRounds = 2000;
for (let k = 0; k < alignRounds; k++) aligned = alignContentMetadata(annotation, detection);
const alignMs = (performance.now() - t) / alignRounds;
if (!aligned?.ok) throw new Error(`bench: expected the sample to align, got ${aligned?.ok === false ? aligned.failure.message : 'nothing'}`);

const dir = await mkdtemp(join(tmpdir(), 'bench-anomaly-'));
try {
  const store = new FileStore(dir);
  const text = JSON.stringify(aligned.metadata);
  const ids = Array.from({ length: videos }, (_, k) => `bench${String(k).padStart(6, '0')}`);
  for (let k = 0; k < ids.length; k += 200) await Promise.all(ids.slice(k, k + 200).map((id) => store.put(`aligned/${id}.json`, text)));
  const rows: Row[] = ids.map((id) => ({ video_id: id, cuts: cuts.length, fps, frame_count: frameCount, duration_seconds: seconds, annotator: 'gemini' }));
  let report = '';
  const ctx: GlobalContext<AnomalyParams> = {
    params: anomalyParams.parse({ concurrency: Number(values.concurrency) }), runId: 'bench', stageName: 'anomaly', store, chunkIndex: 0, attempt: 1, tmpDir: dir,
    log: { info: () => undefined, warn: () => undefined, error: () => undefined }, signal: new AbortController().signal, count: () => undefined,
    input: () => (async function* () { yield* rows; })(),
    writeArtifact: async (_name, content) => { report = content; },
  };
  t = performance.now();
  let kept = 0;
  for await (const o of anomalyStage.run(ctx)) if (o.status === 'kept') kept++;
  const anomalySec = (performance.now() - t) / 1000;
  if (kept !== videos || !report) throw new Error(`bench: expected ${videos} kept and a report, got ${kept}`);
  console.log(`annotation: ${(text.length / 1024).toFixed(1)} KiB aligned JSON, 5 scenes, ${cuts.length} cuts, ${fps} fps, ${seconds} s`);
  console.log(`align (pure: parse, snap, clamp, format): ${alignMs.toFixed(3)} ms per video`);
  console.log(`anomaly (one task, folder store, concurrency ${values.concurrency}): ${videos} videos in ${anomalySec.toFixed(1)} s = ${Math.round(videos / anomalySec)} videos/s; 2,000,000 videos would take ${(2e6 / (videos / anomalySec) / 60).toFixed(0)} min`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
