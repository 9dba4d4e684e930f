import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeArguments, frameSamplingFilter, opencvConversionFilter, segmentedFreezeGraph } from '../src/index.js';

/** The stage images build ffmpeg with only the components listed in images/ffmpeg-build.sh. */
const buildScript = readFileSync(join(import.meta.dirname, '..', '..', '..', 'images', 'ffmpeg-build.sh'), 'utf8');

function enabled(kind: string): Set<string> {
  const m = new RegExp(`^${kind}='([^']*)'`, 'm').exec(buildScript);
  assert.ok(m, `images/ffmpeg-build.sh: expected a ${kind}='...' list`);
  return new Set(m[1]!.split(/\s+/).filter(Boolean));
}

/** Filter names of a filter graph: each filter is a name after a start, ',', ';' or a ']' label, before '=' or an end. */
function filterNames(graph: string): string[] {
  return [...graph.matchAll(/(?:^|[,;\]])([a-z][a-z0-9_]*)(?=[=,;[]|$)/g)].map((m) => m[1]!);
}

/** The values after `flag` in an argument list. */
const valuesOf = (args: string[], flag: string) => args.flatMap((a, i) => (a === flag && args[i + 1] ? [args[i + 1]!] : []));

describe('the images\' ffmpeg (images/ffmpeg-build.sh) has every component libs/media runs', () => {
  const gather = { width: 2, height: 2, columns: new Uint16Array(2), rows: new Uint16Array(2) };
  const graphs = [
    ...[0, 90, 180, 270].map((r) => opencvConversionFilter('yuv420p', r)),
    ...valuesOf(decodeArguments('v.mp4', 'yuv420p', gather, 90), '-filter_complex'),
    segmentedFreezeGraph(2),
    frameSamplingFilter(1.5, 256),
  ];

  it('every filter of the scene, freeze and frame-sampling graphs', () => {
    const filters = enabled('filters');
    const used = [...new Set(graphs.flatMap(filterNames))].sort();
    assert.ok(used.includes('remap') && used.includes('freezedetect') && used.includes('showinfo'), `expected the graphs' filters, got ${used.join(' ')}`);
    assert.deepEqual(used.filter((f) => !filters.has(f)), [], 'filters the stages use but the image\'s ffmpeg lacks');
  });

  it('the raw-frame output and the gather maps\' input (rawvideo), and the null output of the freeze pass', () => {
    const args = decodeArguments('v.mp4', 'yuv420p', gather);
    for (const format of valuesOf(args, '-f')) {
      assert.ok(enabled('muxers').has(format) && enabled('demuxers').has(format), `format ${format}: expected a muxer and a demuxer`);
    }
    assert.ok(enabled('encoders').has('rawvideo') && enabled('decoders').has('rawvideo'), 'rawvideo encoder and decoder');
    assert.ok(enabled('muxers').has('null') && enabled('encoders').has('wrapped_avframe'), 'null output (-f null): muxer and wrapped_avframe');
    assert.ok(enabled('muxers').has('image2pipe') && enabled('encoders').has('mjpeg'), 'frame sampling: MJPEG to image2pipe');
  });

  it('decoders of the codecs downloads carry (H.264, HEVC, VP9, AV1 with libdav1d as Debian decodes it, AAC, Opus)', () => {
    const decoders = enabled('decoders');
    for (const codec of ['h264', 'hevc', 'vp8', 'vp9', 'libdav1d', 'aac', 'opus', 'vorbis', 'mp3']) assert.ok(decoders.has(codec), `decoder ${codec}`);
    for (const format of ['mov', 'matroska']) assert.ok(enabled('demuxers').has(format), `demuxer ${format}`);
    for (const format of ['mp4', 'ipod', 'webm', 'matroska']) assert.ok(enabled('muxers').has(format), `muxer ${format} (yt-dlp's merges and fixups)`);
  });
});
