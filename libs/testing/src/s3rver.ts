import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from './http.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';

export interface S3rverHandle {
  endpoint: string;
  /** Environment that lets worker subprocesses reach it through the standard AWS variables. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

// Runs in the child: starts s3rver, prints its port, and exits when the parent goes away (stdin closes).
const CHILD = `
const S3rver = require(process.env.S3RVER_MODULE);
const server = new S3rver(JSON.parse(process.env.S3RVER_OPTIONS));
server.run().then((a) => process.stdout.write(JSON.stringify({ port: a.port }) + '\\n'), (e) => { console.error(e); process.exit(1); });
process.stdin.on('end', () => process.exit(0)).resume();
`;

/**
 * A real S3 protocol server (s3rver) on 127.0.0.1 with the given buckets, in a temporary folder.
 * It runs in a child Node with OpenSSL's legacy provider: s3rver encrypts ListObjectsV2 continuation
 * tokens with DES, which OpenSSL 3 offers only there, so in-process every listing of more than 1,000
 * keys failed with a 500.
 */
export async function startS3rver(options: { buckets: string[] }): Promise<S3rverHandle> {
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  const settings = { address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: options.buckets.map((name) => ({ name })) };
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD], {
    env: { PATH: process.env.PATH ?? '', S3RVER_MODULE: createRequire(import.meta.url).resolve('s3rver'), S3RVER_OPTIONS: JSON.stringify(settings) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n')) resolve((JSON.parse(line!) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`s3rver: expected it to start, got exit code ${code}: ${stderr.trim()}`)));
    child.once('error', reject);
  }).catch(async (e: unknown) => {
    await rm(directory, { recursive: true, force: true });
    throw e;
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    env: {
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_S3: endpoint,
      FINEVIDEO_S3_FORCE_PATH_STYLE: '1',
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}

export interface FaultProxy {
  endpoint: string;
  /** Requests seen, and how many were answered with an injected fault. */
  requests: number;
  injected: number;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of an S3 endpoint that answers the first `failFirst` requests
 * with an S3 error (503 SlowDown by default), then forwards everything.
 */
export async function startFaultProxy(target: string, plan: { failFirst: number; status?: number; code?: string }): Promise<FaultProxy> {
  const upstream = new URL(target);
  const state = { requests: 0, injected: 0 };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    state.requests++;
    if (state.injected < plan.failFirst) {
      state.injected++;
      req.resume();
      const code = plan.code ?? 'SlowDown';
      res.writeHead(plan.status ?? 503, { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected fault</Message><RequestId>fault</RequestId></Error>`);
      return;
    }
    const forward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  const { url, close } = await listenOnLoopback(server);
  return {
    endpoint: url,
    get requests() {
      return state.requests;
    },
    get injected() {
      return state.injected;
    },
    close,
  };
}
