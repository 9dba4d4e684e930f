#!/usr/bin/env node
// Mutation testing (StrykerJS) over the modules where a wrong line costs data or money.
// Each module runs in its own Stryker pass with only the tests that cover it, so a pass stays minutes,
// not hours, on 2 cores. Prints the mutation score per file and exits 1 when one is under the goal.
//   npm run mutate                     # every module below
//   npm run mutate -- timecodes rules  # those whose path contains one of the words
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const GOAL = 80;
export const TARGETS = [
  { file: 'libs/dataset/src/timecodes.ts', specs: ['libs/dataset/test/timecodes*.test.ts'] },
  { file: 'libs/stages/src/anomaly/rules.ts', specs: ['libs/stages/test/anomaly*.test.ts'] },
  { file: 'libs/core/src/failures.ts', specs: ['libs/core/test/failures*.test.ts', 'libs/runtime/test/errors.test.ts'] },
  { file: 'libs/stages/src/annotate/validate.ts', specs: ['libs/stages/test/annotate-units*.test.ts', 'libs/stages/test/annotate-validate*.test.ts'] },
  { file: 'libs/stages/src/annotate/retry.ts', specs: ['libs/stages/test/annotate-units*.test.ts', 'libs/stages/test/annotate-retry*.test.ts'] },
  { file: 'libs/stages/src/select/oracle.ts', specs: ['libs/stages/test/select*.test.ts'] },
];

const root = resolve(import.meta.dirname, '../..');
const words = process.argv.slice(2);
const chosen = words.length ? TARGETS.filter((t) => words.some((w) => t.file.includes(w))) : TARGETS;
if (chosen.length === 0) {
  console.error(`mutate: expected a word found in one of ${TARGETS.map((t) => t.file).join(', ')}, got ${words.join(' ')}`);
  process.exit(2);
}

const outDir = join(root, 'test-output', 'mutation');
mkdirSync(outDir, { recursive: true });
const results = [];
for (const target of chosen) {
  const name = target.file.replace(/[/.]/g, '_');
  const reportFile = join(outDir, `${name}.json`);
  const config = {
    $schema: '../../node_modules/@stryker-mutator/core/schema/stryker-schema.json',
    testRunner: 'mocha',
    testRunnerNodeArgs: ['--import', 'tsx'],
    mochaOptions: { spec: target.specs, config: '.mocharc.json', 'no-package': true, 'no-opts': true },
    mutate: [target.file],
    coverageAnalysis: 'perTest',
    concurrency: 2,
    timeoutMS: 30000,
    reporters: ['clear-text', 'json'],
    jsonReporter: { fileName: reportFile },
    clearTextReporter: { allowColor: false, logTests: false, reportMutants: true, reportScoreTable: true },
    ignorePatterns: ['.data', '.cache', 'dist', 'test-output', '.nx', 'tmp', 'images', 'manifests'],
    tempDirName: join('.cache', 'stryker-tmp'),
    cleanTempDir: true,
    // Mutate the checkout itself: the tests import @finevideo/* through tsconfig paths, which a sandbox copy may not
    // resolve to its own mutated files. Stryker restores every file when the pass ends (do not edit meanwhile).
    inPlace: true,
    // In place, Stryker would otherwise add @ts-nocheck to every source file for the pass (tsx checks no types anyway).
    disableTypeChecks: false,
    thresholds: { high: GOAL, low: 60, break: null },
  };
  const configFile = join(outDir, `${name}.stryker.json`);
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  console.log(`\n== mutate ${target.file} (tests: ${target.specs.join(' ')})`);
  const run = spawnSync(process.execPath, [join(root, 'node_modules/@stryker-mutator/core/bin/stryker.js'), 'run', configFile], { cwd: root, stdio: 'inherit' });
  if (run.status !== 0 || !existsSync(reportFile)) {
    restoreExecutableBits();
    results.push({ file: target.file, error: `stryker exited ${run.status ?? run.signal}` });
    continue;
  }
  restoreExecutableBits();
  results.push({ file: target.file, ...scoreOf(JSON.parse(readFileSync(reportFile, 'utf8')), target.file) });
}

console.log('\nmutation score per file: (killed + timed out) / every mutant, uncovered ones included');
console.log('file'.padEnd(44), 'score', 'killed', 'survived', 'no-cov', 'timeout', 'total');
let below = 0;
for (const r of results) {
  if (r.error) { console.log(r.file.padEnd(44), r.error); below++; continue; }
  if (r.score < GOAL) below++;
  console.log(r.file.padEnd(44), `${r.score.toFixed(1)}%`.padStart(6), String(r.killed).padStart(6), String(r.survived).padStart(8), String(r.noCoverage).padStart(6), String(r.timeout).padStart(7), String(r.total).padStart(5));
}
console.log(`goal: >= ${GOAL}% per file; ${below === 0 ? 'every file meets it' : `${below} file(s) below it`}`);
process.exit(below === 0 ? 0 : 1);

// Stryker's in-place restore rewrites every file it backed up without its mode: put git's executable bits back.
function restoreExecutableBits() {
  const listed = spawnSync('git', ['ls-files', '-s'], { cwd: root, encoding: 'utf8' });
  for (const line of listed.stdout.split('\n')) {
    if (line.startsWith('100755 ')) chmodSync(join(root, line.slice(line.indexOf('\t') + 1)), 0o755);
  }
}

function scoreOf(report, file) {
  const entry = Object.entries(report.files).find(([path]) => path.endsWith(file));
  const mutants = entry ? entry[1].mutants : [];
  const count = (status) => mutants.filter((m) => m.status === status).length;
  const killed = count('Killed');
  const timeout = count('Timeout');
  const survived = count('Survived');
  const noCoverage = count('NoCoverage');
  const total = killed + timeout + survived + noCoverage;
  return { killed, timeout, survived, noCoverage, total, score: total === 0 ? 0 : ((killed + timeout) * 100) / total };
}
