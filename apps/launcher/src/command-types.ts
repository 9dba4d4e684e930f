/** Options every command takes. */
export interface GlobalOptions {
  json?: boolean;
}

/** What a command hands back to main: the exit code and what to print on stdout. */
export interface CommandResult {
  exitCode: number;
  output: string;
}
