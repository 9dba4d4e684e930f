import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

export interface S3rverHandle {
  endpoint: string;
  /** Environment that lets worker subprocesses reach it through the standard AWS variables. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** A real S3 protocol server (s3rver) on 127.0.0.1 with the given buckets, in a temporary folder. */
export async function startS3rver(options: { buckets: string[] }): Promise<S3rverHandle> {
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: options.buckets.map((name) => ({ name })) });
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
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
      await server.close();
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    get injected() {
      return state.injected;
    },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
