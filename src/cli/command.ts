// The contract between `herald` and one of its commands: arguments in, exit code out.
// Output goes through `io` so commands are tested without touching the process.
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export type Command = (argv: string[], io: CliIo) => Promise<number>;
