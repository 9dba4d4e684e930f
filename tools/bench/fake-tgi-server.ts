// Runs the fake TGI in its own process (a real server is another machine): prints its URL, serves until killed.
//   node --import tsx tools/bench/fake-tgi-server.ts <latencyMs> <capacity> [tgiVersion]
import { startFakeTgi } from '@finevideo/testing';

const tgi = await startFakeTgi({ latencyMs: Number(process.argv[2] ?? 200), capacity: Number(process.argv[3] ?? 128), version: process.argv[4] ?? '3.3.4' });
process.stdout.write(`${JSON.stringify({ url: tgi.url, baseURL: tgi.baseURL })}\n`);
process.on('SIGTERM', () => void tgi.close().then(() => process.exit(0)));
