import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the server does when a video's page is requested. */
export type PageBehaviour = 'ok' | 403 | 404 | 429 | 500 | 'stall';

interface Entry {
  file?: string;
  subtitles?: string;
  behaviour: PageBehaviour;
}

export interface VideoServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** A sourceUrlTemplate for the download stage: `${url}/watch?v={id}` (YouTube's shape). */
  template: string;
  /** Serves a local video file as /media/<id>.mp4, with an HTML5 page at /watch?v=<id> and optional English subtitles. */
  addVideo(id: string, file: string, options?: { subtitles?: string }): void;
  /** Makes the page of an id answer with an HTTP error, or stall (accept, then never answer). */
  setBehaviour(id: string, behaviour: PageBehaviour): void;
  /** Requests to the page of an id (one per yt-dlp attempt). */
  pageRequests(id: string): number;
  /** Requests for the media file of an id. */
  mediaRequests(id: string): number;
  close(): Promise<void>;
}

const STATUS_TEXT: Record<number, string> = { 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 500: 'Internal Server Error' };

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * A loopback HTTP server that plays YouTube for yt-dlp's generic extractor: a watch page
 * with an HTML5 <video> (and a <track> for English subtitles) pointing at a directly
 * downloadable mp4 (Range requests supported), plus scripted failures.
 */
export async function startVideoServer(): Promise<VideoServer> {
  const entries = new Map<string, Entry>();
  const pageCounts = new Map<string, number>();
  const mediaCounts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const bump = (map: Map<string, number>, id: string) => map.set(id, (map.get(id) ?? 0) + 1);

  const sendFile = async (req: IncomingMessage, res: ServerResponse, file: string, type: string) => {
    const { size } = await stat(file);
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    let start = 0;
    let end = size - 1;
    if (range && (range[1] || range[2])) {
      start = range[1] ? Number(range[1]) : size - Number(range[2]);
      end = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size || start > end) {
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      res.writeHead(206, { 'content-type': type, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${size}`, 'accept-ranges': 'bytes' });
    } else {
      res.writeHead(200, { 'content-type': type, 'content-length': size, 'accept-ranges': 'bytes' });
    }
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file, { start, end }).pipe(res);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const fail = (status: number) => res.writeHead(status, { 'content-type': 'text/plain' }).end(`${status} ${STATUS_TEXT[status] ?? ''}\n`);
    (async () => {
      if (url.pathname === '/watch') {
        const id = url.searchParams.get('v') ?? '';
        bump(pageCounts, id);
        const entry = entries.get(id);
        if (!entry) return fail(404);
        if (entry.behaviour === 'stall') return; // keep the socket open, say nothing
        if (entry.behaviour !== 'ok') return fail(entry.behaviour);
        const track = entry.subtitles ? `<track kind="subtitles" srclang="en" label="English" src="/subs/${id}.en.vtt">` : '';
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
          `<!DOCTYPE html><html><head><title>Test video ${escapeHtml(id)}</title></head><body>` +
          `<video controls><source src="/media/${id}.mp4" type="video/mp4">${track}</video></body></html>`);
        return;
      }
      const media = /^\/media\/([A-Za-z0-9_-]{11})\.mp4$/.exec(url.pathname);
      if (media) {
        bump(mediaCounts, media[1]!);
        const entry = entries.get(media[1]!);
        if (!entry?.file) return fail(404);
        return sendFile(req, res, entry.file, 'video/mp4');
      }
      const subs = /^\/subs\/([A-Za-z0-9_-]{11})\.en\.vtt$/.exec(url.pathname);
      if (subs) {
        const entry = entries.get(subs[1]!);
        if (!entry?.subtitles) return fail(404);
        res.writeHead(200, { 'content-type': 'text/vtt' }).end(entry.subtitles);
        return;
      }
      fail(404);
    })().catch((error: unknown) => {
      if (!res.headersSent) fail(500);
      else res.destroy(error as Error);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const entryOf = (id: string) => {
    let entry = entries.get(id);
    if (!entry) entries.set(id, (entry = { behaviour: 'ok' }));
    return entry;
  };
  return {
    url,
    template: `${url}/watch?v={id}`,
    addVideo(id, file, options = {}) {
      Object.assign(entryOf(id), { file, subtitles: options.subtitles });
    },
    setBehaviour(id, behaviour) {
      entryOf(id).behaviour = behaviour;
    },
    pageRequests: (id) => pageCounts.get(id) ?? 0,
    mediaRequests: (id) => mediaCounts.get(id) ?? 0,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
