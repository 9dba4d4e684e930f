/**
 * A dataset folder served by the explorer in a process of its own (tools/bench/explore.ts measures its
 * RSS while it serves a video out of a large shard). Prints its URL; SIGTERM closes it.
 */
import { detectDatasetFolder, startDatasetExplorer } from '../../libs/explorer/src/index.js';
import { buildWebAssets, ffmpegCoreDir } from '../../libs/explorer/src/build-web.js';

const [folder, assetsDir, cacheDir] = process.argv.slice(2);
if (!folder || !assetsDir || !cacheDir) throw new Error('explore-serve: expected <dataset folder> <assets dir> <cache dir>');
const assets = { dir: assetsDir, ffmpegCoreDir: ffmpegCoreDir() };
if (process.env.BENCH_BUILD_ASSETS) await buildWebAssets(new URL('../../libs/explorer/web', import.meta.url).pathname, assetsDir);
const server = await startDatasetExplorer(detectDatasetFolder(folder)!, { assets, cacheDir });
process.stdout.write(`${server.url}\n`);
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
