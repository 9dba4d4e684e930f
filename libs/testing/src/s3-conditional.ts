import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from './http.js';

export interface ConditionalWriteProxy {
  endpoint: string;
  /** Conditional PUTs seen, and how many were refused with 412. */
  conditionalPuts: number;
  refused: number;
  close(): Promise<void>;
}

/**
 * S3 conditional writes (PutObject with If-None-Match: *) in front of an S3 endpoint that lacks
 * them: s3rver 3.7 honours If-None-Match on GET/HEAD only and overwrites on PUT. A conditional
 * PUT of an existing key gets S3's 412 PreconditionFailed; conditional PUTs are serialized, so
 * of two racing writers exactly one wins, as on AWS. Everything else is forwarded unchanged.
 */
export async function startConditionalWriteProxy(target: string): Promise<ConditionalWriteProxy> {
  const upstream = new URL(target);
  const state = { conditionalPuts: 0, refused: 0 };
  let queue: Promise<void> = Promise.resolve();
  const forward = (req: IncomingMessage, res: ServerResponse, body?: Buffer) => new Promise<void>((resolve) => {
    const headers = { ...req.headers };
    delete headers['if-none-match'];
    const out = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
      up.on('end', resolve);
    });
    out.on('error', () => (res.destroy(), resolve()));
    if (body) out.end(body);
    else req.pipe(out);
  });
  const exists = (path: string) => new Promise<boolean>((resolve, reject) => {
    // s3rver accepts unsigned requests; the original request's signature would not fit a HEAD.
    const head = request({ host: upstream.hostname, port: upstream.port, method: 'HEAD', path: path.split('?')[0] }, (r) => {
      r.resume();
      resolve(r.statusCode === 200);
    });
    head.on('error', reject);
    head.end();
  });
  const server = createServer((req, res) => {
    if (req.method !== 'PUT' || req.headers['if-none-match'] !== '*') {
      void forward(req, res);
      return;
    }
    state.conditionalPuts++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      queue = queue.then(async () => {
        try {
          if (await exists(req.url ?? '/')) {
            state.refused++;
            res.writeHead(412, { 'content-type': 'application/xml' });
            res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition><RequestId>proxy</RequestId></Error>');
            return;
          }
          await forward(req, res, Buffer.concat(chunks));
        } catch {
          res.writeHead(502);
          res.end();
        }
      });
    });
  });
  const { url, close } = await listenOnLoopback(server);
  return {
    endpoint: url,
    get conditionalPuts() {
      return state.conditionalPuts;
    },
    get refused() {
      return state.refused;
    },
    close,
  };
}
