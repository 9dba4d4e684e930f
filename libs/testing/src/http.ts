import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A fake server listening on loopback: its URL and a close that also drops kept-alive connections. */
export interface LoopbackServer {
  url: string;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 at a free port; close() ends open connections first, so tests never hang on keep-alive. */
export async function listenOnLoopback(server: Server): Promise<LoopbackServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Sets environment variables for a test and returns what puts the previous values back. */
export function setEnv(vars: Record<string, string>): () => void {
  const saved = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries(vars)) {
    if (!saved.has(k)) saved.set(k, process.env[k]);
    process.env[k] = v;
  }
  return () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

/** A fake model server (TGI, OpenAI, vLLM): its root URL, its OpenAI-compatible base URL (url + "/v1"), what it saw. */
export interface FakeModelServer<Stats> extends LoopbackServer {
  baseURL: string;
  stats: Stats;
}
