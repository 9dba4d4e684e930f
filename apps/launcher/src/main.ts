import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError, errorMessage, redactUrlCredentials } from '@finevideo/core';
import { planCommand, renderCommand, resumeCommand, runCommand, statusCommand, type CommandResult } from './commands.js';
import { demoCommand } from './demo.js';
import { unlockCommand } from './unlock.js';
import { exploreUntilStopped, portNumber } from './explore.js';
import { publishCommand } from './publish.js';

const positiveInt = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name}: expected a positive integer, got ${JSON.stringify(value)}`);
  return n;
};
const nonNegativeInt = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name}: expected a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
};
const reasonList = (value: string) => {
  const reasons = value.split(',').map((r) => r.trim()).filter(Boolean);
  if (!reasons.length) throw new InvalidArgumentError(`retry-errors: expected comma-separated reasons or error classes, got ${JSON.stringify(value)}`);
  return reasons;
};
const executorKind = (value: string) => {
  if (value !== 'local' && value !== 'kubernetes') throw new InvalidArgumentError(`executor: expected "local" or "kubernetes", got ${JSON.stringify(value)}`);
  return value;
};

/** The non-secret settings that reach a run's S3 storage, as "finevideo run" prints them (credentials come from the AWS environment). */
function s3Flags(command: Command): Command {
  return command
    .option('--s3-endpoint <url>', 'S3-compatible endpoint of the run\'s storage (default: remembered on this machine for that storage, else AWS_ENDPOINT_URL_S3)')
    .option('--s3-region <region>', 'region of the run\'s S3 storage')
    .option('--s3-path-style', 'path-style S3 addressing (MinIO, s3rver)');
}

/** Exit codes: 0 success, 1 a stage failed (resume it), 2 bad input or config. */
async function finish(result: Promise<CommandResult>): Promise<never> {
  try {
    const { exitCode, output } = await result;
    if (output) process.stdout.write(`${output}\n`);
    process.exit(exitCode);
  } catch (error) {
    // A URL's password never reaches the terminal, whatever error carried it.
    if (error instanceof ConfigError) {
      process.stderr.write(`finevideo: ${redactUrlCredentials(error.message)}\n`);
      process.exit(2);
    }
    process.stderr.write(`finevideo: ${redactUrlCredentials(errorMessage(error))}\n`);
    if (process.env.FINEVIDEO_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
  }
}

/**
 * Ctrl-C, SIGTERM and SIGHUP (a closed terminal, a dropped ssh) stop the run the same way: workers
 * signalled, uploaded model files deleted, the lease released, the resume line printed. The signal's
 * name is the abort reason (the exit code says which: 130, or 129 for SIGHUP).
 */
function withAbort(): AbortSignal {
  const controller = new AbortController();
  const stop = (sig: NodeJS.Signals) => {
    // After SIGHUP the terminal may be gone: a failed write must not end the launcher before it cleans up.
    if (sig === 'SIGHUP') for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
    process.stderr.write(`\nfinevideo: stopping on ${sig} (workers are signalled; resume later with "finevideo resume")\n`);
    controller.abort(sig);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => stop(sig));
  return controller.signal;
}

const program = new Command()
  .name('finevideo')
  .description('Curate FineVideo-style video datasets: a pipeline of stages run as local processes or Kubernetes Indexed Jobs.')
  .option('--json', 'JSON logs and JSON output')
  .showHelpAfterError();

const runOptions = (cmd: Command) =>
  cmd
    .option('-e, --executor <kind>', 'local or kubernetes (overrides the config)', executorKind)
    .option('-p, --parallelism <n>', 'chunks running at once', positiveInt('parallelism'))
    .option('-r, --retries <n>', 'retries per chunk (local executor)', nonNegativeInt('retries'))
    .option('--until <stage>', 'stop after this stage')
    .option('--break-lease', 'take the run even if another launcher holds its lease (one that is gone)');

runOptions(
  program
    .command('run')
    .description('create a run from a pipeline config and run every stage: plan, run the chunks, seal each table')
    .argument('<pipeline.yaml>', 'pipeline config')
    .option('--run-id <id>', 'run id (default: <name>-<timestamp>); an existing id is resumed'),
).action((path: string, opts) => finish(runCommand(path, { ...program.opts(), ...opts }, withAbort())));

program
  .command('plan')
  .description('create the run and write the chunks of every stage whose input exists; print stages, items and chunks')
  .argument('<pipeline.yaml>', 'pipeline config')
  .option('--run-id <id>', 'run id (default: <name>-<timestamp>)')
  .option('-e, --executor <kind>', 'local or kubernetes', executorKind)
  .option('--estimate', 'no run: print per stage chunks, Jobs, pods, pod-hours, storage, cost and wall time for --videos')
  .option('--videos <n>', 'with --estimate: source videos of the run')
  .option('--hours <h>', 'with --estimate: hours selected for annotation (default: select.targetHours)')
  .option('--nodes <pools>', 'with --estimate: cluster size, e.g. cpu=40,gpu=4')
  .action((path: string, opts) => finish(planCommand(path, { ...program.opts(), ...opts })));

s3Flags(program
  .command('status')
  .description('per stage: chunks done, failed and pending, the funnel and error rows by reason')
  .argument('<run>', 'run folder or URI, e.g. .data/demo/runs/<id> or s3://bucket/prefix/runs/<id>')
  .option('--verify', 'check that every part each chunk marker lists exists (exit 1 naming the missing ones)')
  .option('--json', 'an object {run, runId, complete, stages}')
  ).action((ref: string, opts) => finish(statusCommand(ref, { ...program.opts(), ...opts })));

runOptions(
  s3Flags(program
    .command('resume')
    .description('run only the chunks without a completion marker (the chunk count never changes), then the remaining stages')
    .argument('<run>', 'run folder or URI')
    .option('--retry-errors [reasons]', 'also run again the items whose rows are errors: without a value those a retry can change (connection, server error, rate limit, timeout, bad response, storage); "all"; or those comma-separated reasons or error classes', reasonList)),
).action((ref: string, opts) => finish(resumeCommand(ref, { ...program.opts(), ...opts }, withAbort())));

s3Flags(program
  .command('unlock')
  .description('remove a run\'s lease left by a launcher that is gone (crashed, or on a machine that is down); a live holder is refused')
  .argument('<run>', 'run folder or URI')
  .option('--force', 'remove the lease even if its holder looks alive (its pid runs here, or its heartbeat is fresh)')
  ).action((ref: string, opts: { force?: boolean }) => finish(unlockCommand(ref, { ...program.opts(), ...opts })));

s3Flags(program
  .command('render')
  .description('print the Kubernetes Jobs for the planned stages with pending chunks, as YAML for "kubectl apply -f -"')
  .argument('<run>', 'run folder or URI (from "finevideo plan")')
  .option('--stage <name>', 'only this stage')
  ).action((ref: string, opts) => finish(renderCommand(ref, opts)));

s3Flags(program
  .command('explore')
  .description('a read-only web page over a run: funnel, chunks and cost, anomalies, the dataset by category, each video with its scenes and transcript')
  .argument('<run>', 'run folder or URI (.../runs/<id>), or its export folder (.../export/<id>)')
  .option('--port <n>', 'port to listen on (0: any free port)', portNumber, 8377)
  .option('--host <address>', 'address to listen on (default 127.0.0.1; any other is reachable from the network)')
  ).action((ref: string, opts) => finish(exploreUntilStopped(ref, opts)));

s3Flags(program
  .command('publish')
  .description('upload a finished export (folder or s3:// prefix of export/<run-id>, checked against its export.json) to a Hugging Face dataset repo; token from HF_TOKEN, Hub from HF_ENDPOINT')
  .argument('<export>', 'export folder or URI (.../export/<run-id>)')
  .requiredOption('--repo <namespace/name>', 'the dataset repo (created private when absent)')
  .option('--public', 'create a missing repo public (default: private)')
  // Kept from before private became the default: it says what now happens anyway.
  .addOption(new Option('--private', 'create a missing repo private (the default)').hideHelp().conflicts('public'))
  .option('--batch-files <n>', 'files per commit', positiveInt('batch-files'))
  ).action((source: string, opts) => finish(publishCommand(source, opts)));

program
  .command('demo')
  .description('generate a small YouTube-Commons-like sample if absent and run the demo pipeline locally')
  .option('--rows <n>', 'rows per generated shard', positiveInt('rows'))
  .action((opts) => finish(demoCommand({ ...program.opts(), ...opts }, withAbort())));

/**
 * Commander's own exits: help and version are 0; a usage error (unknown command or option, a missing or
 * invalid argument, no command at all) is 2, like a bad config, as the README promises.
 */
function commanderExitCode(error: CommanderError): number {
  if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0) return 0;
  return 2;
}

// Set on every command: subcommands copied the exit handling when they were declared.
for (const command of [program, ...program.commands]) command.exitOverride();
try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Commander has already printed its message (and the help, after an error).
  if (error instanceof CommanderError) process.exit(commanderExitCode(error));
  throw error;
}
