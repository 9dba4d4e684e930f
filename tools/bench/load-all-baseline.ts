// The original approach, reimplemented: read every shard fully into memory, concatenate, then filter.
// Prints {"kept": n, "maxRssBytes": n} on stdout.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runDuckDb, sqlString } from '@finevideo/storage';

const dir = process.argv[2]!;
const all: Record<string, unknown>[] = [];
for (const f of (await readdir(dir)).filter((x) => x.endsWith('.parquet')).sort()) {
  // A loop, not push(...rows): a shard of 125,000+ rows overflows the call stack as arguments.
  for (const row of await runDuckDb(`SELECT * FROM read_parquet(${sqlString(join(dir, f))})`)) all.push(row);
}
const english = all.filter((r) => r.original_language === 'en' && r.transcription_language === 'en' && Number(r.word_count) > 50);
const seconds = (d: unknown) => {
  if (!d) return 0;
  const parts = String(d).split(':');
  if (parts.some((p) => !/^\d+$/.test(p)) || parts.length > 3) return NaN;
  return parts.reduce((a, p) => a * 60 + Number(p), 0);
};
const dense = english.filter((r) => {
  const s = seconds(r.duration_string);
  return s > 0 && Number(r.word_count) / s > 0.5;
});
process.stdout.write(JSON.stringify({ kept: dense.length, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
