import { InvalidArgumentError } from 'commander';
import type { ExplorerServer } from '@finevideo/explorer';
import type { S3Flags } from '@finevideo/storage';

export interface ExploreOptions extends S3Flags {
  port?: number;
  host?: string;
}

export const portNumber = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`port: expected an integer from 0 to 65535, got ${JSON.stringify(value)}`);
  return n;
};

/**
 * `finevideo explore <run | export>`: a read-only web page over a run (overview, dataset, videos),
 * on 127.0.0.1 unless --host says otherwise. Runs until Ctrl-C; returns the server for tests.
 */
export async function exploreCommand(ref: string, options: ExploreOptions, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<ExplorerServer> {
  // Loaded here, not when the launcher starts: the server, DuckDB and the AWS SDK are for this command only.
  const { openExplorerTarget, startExplorer, startDatasetExplorer, isLoopbackHost, checkPortFree } = await import('@finevideo/explorer');
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) {
    log(`finevideo explore: warning: listening on ${host}, not loopback: anyone who can reach this machine on that address can read the run, its videos and annotations (there is no login)`);
  }
  const port = options.port ?? 8377;
  // Said before indexing, which takes minutes on a large run.
  await checkPortFree(host, port);
  const target = await openExplorerTarget(ref, options);
  let server: ExplorerServer;
  if (target.kind === 'run') {
    log(`finevideo explore: reading run ${target.source.runId} from ${target.source.store.uri} (indexing its tables)`);
    server = await startExplorer(target.source, { host, port });
  } else {
    log(`finevideo explore: reading the dataset in ${target.folder.origin ? `${target.folder.origin} (copied to ${target.folder.root}, removed on exit)` : target.folder.root} (${target.folder.layout === 'flat' ? 'flat layout, no index: indexing the json column' : 'an export: its index.parquet and shards'})`);
    server = await startDatasetExplorer(target.folder, { host, port });
  }
  log(`finevideo explore: ${server.index.indexedVideos} videos indexed; Ctrl-C stops the server`);
  process.stdout.write(`${server.url}\n`);
  return server;
}

/** The command as main runs it: serves until SIGINT or SIGTERM, then closes the server and exits 0. */
export async function exploreUntilStopped(ref: string, options: ExploreOptions): Promise<{ exitCode: number; output: string }> {
  const server = await exploreCommand(ref, options);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return { exitCode: 0, output: '' };
}
