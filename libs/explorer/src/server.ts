import { existsSync, readdirSync, statSync, createReadStream } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { extname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { Hono, type Context } from 'hono';
import { serve, type ServerType } from '@hono/node-server';
import { z } from 'zod';
import { ConfigError, isVideoId } from '@finevideo/core';
import { runBackend, type ExplorerBackend } from './backend.js';
import { DatasetIndex, datasetBackend, type DatasetFolder } from './dataset.js';
import { webAssets, type WebAssets } from './build-web.js';
import { parseRange } from './media.js';
import { parsePosterFile } from './posters.js';
import { RANGE_KEYS, RANGE_PARAMS, type RangeParam } from './range-fields.js';
import { SQL_LIMITS, SqlBox, SqlRefused } from './sql-box.js';
import { RunIndex } from './run-index.js';
import { VIDEO_SORTS, type VideoQuery } from './video-table.js';
import { videoCsv, videoIds } from './video-list.js';
import type { ExplorerSource } from './source-types.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.map': 'application/json', '.wasm': 'application/wasm', '.txt': 'text/plain; charset=utf-8', '.svg': 'image/svg+xml',
};

/** Read-only page: scripts and styles from this origin only; WebAssembly (the clip cutter) may compile. */
const CSP = [
  "default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "worker-src 'self' blob:", "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:", "media-src 'self' blob:", "connect-src 'self' blob:", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'",
].join('; ');

/** The grid's tile for a video without a poster (not exported, or dynamism did not reach it). */
const NO_POSTER_SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 9"><rect width="16" height="9" fill="#e5e7eb"/><text x="8" y="5.2" font-size="1.3" text-anchor="middle" fill="#6b7280" font-family="sans-serif">no poster</text></svg>';

const optionalText = z.string().trim().max(300).optional().transform((v) => (v ? v : undefined));
const optionalNumber = z.string().optional().transform((v, ctx) => {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    ctx.addIssue({ code: 'custom', message: `expected a non-negative number, got ${JSON.stringify(v.slice(0, 40))}` });
    return z.NEVER;
  }
  return n;
});

const videoQuerySchema = z.strictObject({
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  pageSize: z.coerce.number().int().min(1).max(200).default(50),
  q: optionalText, category: optionalText, topLevel: optionalText, channel: optionalText, status: optionalText, stage: optionalText, reason: optionalText,
  ...Object.fromEntries(RANGE_PARAMS.map((p) => [p, optionalNumber])) as Record<RangeParam, typeof optionalNumber>,
  sort: z.enum(VIDEO_SORTS).default('video_id'),
  dir: z.enum(['asc', 'desc']).default('asc'),
});

export interface ExplorerServerOptions {
  port?: number;
  host?: string;
  /** Assets already built (tests build them once). */
  assets?: WebAssets;
  cacheDir?: string;
}

export interface ExplorerServer {
  url: string;
  host: string;
  port: number;
  index: ExplorerBackend['index'];
  close(): Promise<void>;
}

const badRequest = (c: Context, message: string) => c.json({ error: message }, 400);

/** Built asset files by their URL path (a fixed set: no request path ever reaches the filesystem). */
function assetTable(assets: WebAssets): Map<string, string> {
  const table = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else table.set(`/assets/${relative(assets.dir, path).split(sep).join('/')}`, path);
    }
  };
  walk(assets.dir);
  for (const name of ['ffmpeg-core.js', 'ffmpeg-core.wasm']) {
    const path = join(assets.ffmpegCoreDir, name);
    if (existsSync(path)) table.set(`/assets/ffmpeg/${name}`, path);
  }
  return table;
}

/** Host names the page answers to; set once the port is known (loopback binds only). */
export interface HostPolicy {
  allowed?: Set<string>;
}

export function createExplorerApp(backend: ExplorerBackend, assets: WebAssets, hosts: HostPolicy = {}, sqlBox?: SqlBox): Hono {
  const app = new Hono();
  const index = backend.index;
  const sql = sqlBox ?? new SqlBox(index, join(index.cacheDir, 'sql'));
  const files = assetTable(assets);

  app.use('*', async (c, next) => {
    // DNS rebinding: on loopback, only requests addressed to loopback names are answered.
    if (hosts.allowed && !hosts.allowed.has((c.req.header('host') ?? '').toLowerCase())) return c.text('explore: unexpected Host header', 421);
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return c.text('explore is read-only: expected GET or HEAD', 405, { Allow: 'GET, HEAD' });
    await next();
    c.header('Content-Security-Policy', CSP);
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    c.header('X-Frame-Options', 'DENY');
    c.header('Cross-Origin-Resource-Policy', 'same-origin');
  });

  app.onError((error, c) => {
    process.stderr.write(`explore: ${c.req.method} ${c.req.path}: ${error.message}\n`);
    return c.json({ error: 'internal error; the explore command\'s terminal has the details' }, 500);
  });

  app.get('/api/run', async (c) => c.json(await backend.run()));
  app.get('/api/dataset', async (c) => c.json(await backend.dataset()));

  /** The list's filters and order from the query string, or the 400 answer naming the bad parameter. */
  const videoQuery = (c: Context, given: Record<string, string> = c.req.query()): { query: VideoQuery } | { refused: Response } => {
    const parsed = videoQuerySchema.safeParse(given);
    if (!parsed.success) return { refused: badRequest(c, `videos query: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; ')}`) };
    const query = parsed.data;
    if (query.stage !== undefined && !index.stageNames.includes(query.stage)) {
      return { refused: badRequest(c, `stage: expected one of ${index.stageNames.join(', ')}, got ${JSON.stringify(query.stage)}`) };
    }
    return { query };
  };

  app.get('/api/videos', async (c) => {
    const parsed = videoQuery(c);
    if ('refused' in parsed) return parsed.refused;
    await index.refresh();
    const result = await index.videos(parsed.query);
    return c.json({ ...result, page: parsed.query.page, pageSize: parsed.query.pageSize });
  });

  // Each range field's histogram over the list the other filters leave (the page's range filters).
  app.get('/api/histograms', async (c) => {
    const { page: _page, pageSize: _size, ...filters } = c.req.query();
    const parsed = videoQuery(c, filters);
    if ('refused' in parsed) return parsed.refused;
    await index.refresh();
    const histograms = [];
    for (const field of RANGE_KEYS) histograms.push(await index.histogram(field, parsed.query));
    return c.json({ histograms });
  });

  // The list as one DuckDB query over the files themselves (the page's "Copy as DuckDB query").
  app.get('/api/query.sql', async (c) => {
    const parsed = videoQuery(c);
    if ('refused' in parsed) return parsed.refused;
    await index.refresh();
    return c.text(index.viewSql(parsed.query), 200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
  });

  // The filtered list as a download (streamed: a whole run's ids never sit in memory).
  const download = (lines: typeof videoCsv, type: string, name: string) => async (c: Context) => {
    const parsed = videoQuery(c);
    if ('refused' in parsed) return parsed.refused;
    await index.refresh();
    const body = Readable.toWeb(Readable.from(lines(index, parsed.query))) as ReadableStream<Uint8Array>;
    return c.body(body, 200, { 'Content-Type': type, 'Content-Disposition': `attachment; filename="${name}"`, 'Cache-Control': 'no-store' });
  };
  app.get('/api/videos.csv', download(videoCsv, 'text/csv; charset=utf-8', 'videos.csv'));
  app.get('/api/ids.txt', download(videoIds, 'text/plain; charset=utf-8', 'ids.txt'));

  app.get('/api/videos/:id/neighbours', async (c) => {
    const id: string = c.req.param('id');
    if (!isVideoId(id)) return badRequest(c, `video id: expected 11 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(String(id).slice(0, 40))}`);
    const parsed = videoQuery(c);
    if ('refused' in parsed) return parsed.refused;
    await index.refresh();
    const place = await index.neighbours(id, parsed.query);
    return c.json(place ?? { position: null, total: null, previous: null, next: null });
  });

  app.get('/api/sql', async (c) => {
    const q = c.req.query('q') ?? '';
    if (!q.trim()) return badRequest(c, 'sql: expected a SELECT in q, got nothing');
    await index.refresh();
    try {
      return c.json({ ...(await sql.query(q)), limits: SQL_LIMITS });
    } catch (e) {
      if (e instanceof SqlRefused) return badRequest(c, e.message);
      throw e;
    }
  });

  app.get('/api/channels', async (c) => {
    const q = c.req.query('q') ?? '';
    if (q.length > 200) return badRequest(c, `q: expected at most 200 characters, got ${q.length}`);
    await index.refresh();
    return c.json({ channels: await index.channels(q) });
  });

  app.get('/api/videos/:id', async (c) => {
    const id: string = c.req.param('id');
    if (!isVideoId(id)) return badRequest(c, `video id: expected 11 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(String(id).slice(0, 40))}`);
    const detail = await backend.video(id);
    return detail ? c.json(detail) : c.json({ error: `video ${id}: not in ${index.describe()}` }, 404);
  });

  app.on(['GET', 'HEAD'], '/media/:file', async (c) => {
    const file = c.req.param('file');
    const id = file.endsWith('.mp4') ? file.slice(0, -4) : '';
    if (!isVideoId(id)) return badRequest(c, `media: expected <video id>.mp4 with an 11-character id, got ${JSON.stringify(file.slice(0, 40))}`);
    const size = await backend.mediaSize(id);
    if (size === undefined) return c.json({ error: backend.describeMissingMedia(id) }, 404);
    const range = parseRange(c.req.header('range'), size);
    const headers: Record<string, string> = { 'Accept-Ranges': 'bytes', 'Content-Type': 'video/mp4', 'Cache-Control': 'private, max-age=300' };
    if (range.kind === 'unsatisfiable') return c.body(null, 416, { ...headers, 'Content-Range': `bytes */${size}` });
    const r = range.kind === 'range' ? range.range : undefined;
    const length = r ? r.end - r.start + 1 : size;
    headers['Content-Length'] = String(length);
    if (r) headers['Content-Range'] = `bytes ${r.start}-${r.end}/${size}`;
    const status = r ? 206 : 200;
    if (c.req.method === 'HEAD') return c.body(null, status, headers);
    const body = Readable.toWeb(await backend.mediaRead(id, r)) as ReadableStream<Uint8Array>;
    return c.body(body, status, headers);
  });

  // A video's poster or strip, as made at export or by dynamism (never transcoded here).
  app.on(['GET', 'HEAD'], '/posters/:file', async (c) => {
    const file = c.req.param('file');
    const wanted = parsePosterFile(file);
    if (!wanted) return badRequest(c, `posters: expected <video id>.jpg or <video id>.strip.jpg with an 11-character id, got ${JSON.stringify(file.slice(0, 40))}`);
    const jpeg = await backend.poster(wanted.id, wanted.kind);
    // The grid asks with ?placeholder: a video without a poster shows a plain tile (no failed image load).
    if (!jpeg && c.req.query('placeholder') !== undefined) return c.body(NO_POSTER_SVG, 200, { 'Content-Type': 'image/svg+xml', 'X-Poster': 'none', 'Cache-Control': 'private, max-age=300' });
    if (!jpeg) return c.json({ error: `video ${wanted.id}: no ${wanted.kind} in ${index.describe()}` }, 404);
    const headers = { 'Content-Type': 'image/jpeg', 'Content-Length': String(jpeg.length), 'Cache-Control': 'private, max-age=300' };
    return c.req.method === 'HEAD' ? c.body(null, 200, headers) : c.body(new Uint8Array(jpeg), 200, headers);
  });

  app.get('/assets/*', (c) => {
    const path = files.get(c.req.path);
    if (!path) return c.json({ error: `asset ${JSON.stringify(c.req.path.slice(0, 80))}: not found` }, 404);
    const type = CONTENT_TYPES[extname(path)] ?? 'application/octet-stream';
    const cache = /\/chunks\/|ffmpeg-core/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache';
    const body = Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>;
    return c.body(body, 200, { 'Content-Type': type, 'Content-Length': String(statSync(path).size), 'Cache-Control': cache });
  });

  const page = (c: Context) => {
    const path = files.get('/assets/index.html');
    if (!path) return c.text('explore: the page was not built', 500);
    return c.body(Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>, 200, { 'Content-Type': CONTENT_TYPES['.html']!, 'Cache-Control': 'no-cache' });
  };
  app.get('/', page);
  app.get('/index.html', page);
  app.notFound((c) => c.json({ error: `not found: ${c.req.method} ${c.req.path.slice(0, 80)}` }, 404));
  return app;
}

/**
 * Fails with a sentence when host:port is taken, before the run is indexed (which can take minutes on
 * a large run): binds a throwaway listener and closes it. Port 0 (any free port) is always free.
 */
export async function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') reject(new ConfigError(`explore: port ${port} on ${host} is in use (another explore or server); choose a free one with --port, e.g. --port ${port === 65535 ? port - 1 : port + 1}, or --port 0 for any`));
      else if (e.code === 'EACCES') reject(new ConfigError(`explore: port ${port} on ${host} needs privileges this user does not have; choose one above 1023 with --port`));
      else reject(e);
    });
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);
export const isLoopbackHost = (host: string): boolean => LOOPBACK.has(host) || host.startsWith('127.');

/** Starts the page's server on host:port (port 0: any free port) and builds the run's index first. */
export async function startExplorer(source: ExplorerSource, options: ExplorerServerOptions = {}): Promise<ExplorerServer> {
  const index = new RunIndex(source, options.cacheDir);
  await index.refresh(true);
  return serveBackend(runBackend(source, index), options);
}

/** Serves a dataset folder on its own (an export copied away from its run, or the flat published layout). */
export async function startDatasetExplorer(folder: DatasetFolder, options: ExplorerServerOptions = {}): Promise<ExplorerServer> {
  const index = new DatasetIndex(folder, options.cacheDir);
  try {
    await index.build();
  } catch (e) {
    await index.close();
    throw e;
  }
  return serveBackend(datasetBackend(index), options);
}

/** Serves a backend (its index built) on host:port (port 0: any free port); closing the server closes the index. */
export async function serveBackend(backend: ExplorerBackend, options: ExplorerServerOptions = {}): Promise<ExplorerServer> {
  const host = options.host ?? '127.0.0.1';
  const index = backend.index;
  const hosts: HostPolicy = {};
  const sqlBox = new SqlBox(index, join(index.cacheDir, 'sql'));
  let server: ServerType | undefined;
  const port = await (async () => {
    const assets = options.assets ?? (await webAssets());
    const app = createExplorerApp(backend, assets, hosts, sqlBox);
    return new Promise<number>((resolve, reject) => {
      server = serve({ fetch: app.fetch, port: options.port ?? 0, hostname: host }, (info: AddressInfo) => resolve(info.port));
      server.once('error', reject);
    });
  })().catch(async (e: unknown) => {
    await index.close();
    throw e;
  });
  if (isLoopbackHost(host)) {
    const names = ['127.0.0.1', 'localhost', '[::1]', host.includes(':') ? `[${host}]` : host];
    hosts.allowed = new Set(names.map((n) => `${n}:${port}`));
  }
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost === '0.0.0.0' ? '127.0.0.1' : shownHost}:${port}/`,
    host,
    port,
    index,
    close: async () => {
      await new Promise<void>((resolve) => {
        const s = server as unknown as { closeAllConnections?: () => void; close: (cb: () => void) => void };
        s.closeAllConnections?.();
        s.close(() => resolve());
      });
      sqlBox.close();
      await index.close();
    },
  };
}
