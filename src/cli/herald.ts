// `herald <command> ...`: picks the command module and hands it the rest of argv.
// Each command lives in its own file and is loaded only when asked for, so
// `herald validate` does not pay for the Kubernetes client or the Parquet writer.
import type { CliIo, Command } from "./command.js";

const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  audit: {
    summary: "query or follow the audit log (which Service and node held an address, when)",
    load: async () => (await import("./audit.js")).audit,
  },
  validate: {
    summary: "check IPAddressPool YAML files; print their ranges and sizes or their errors",
    load: async () => (await import("./validate.js")).validate,
  },
  controller: {
    summary: "run the address controller (IPAM) against the cluster",
    load: async () => (await import("./controller.js")).controller,
  },
  speaker: {
    summary: "run the node agent: answer ARP/NDP for owned addresses and forward them with nftables",
    load: async () => (await import("./speaker.js")).speaker,
  },
};

function usage(): string {
  const rows = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`);
  return [
    "usage: herald <command> [options]",
    "",
    "commands:",
    ...rows,
    "",
    "herald <command> --help (or herald help <command>) prints a command's options.",
    "",
  ].join("\n");
}

export async function runHerald(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  // `herald help speaker` is `herald speaker --help`.
  if (name === "help" && rest[0] !== undefined && Object.hasOwn(commands, rest[0])) {
    return runHerald([rest[0], "--help"], io);
  }
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    io.out(usage());
    return name === undefined ? 2 : 0;
  }
  const entry = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!entry) {
    io.err(`herald: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return (await entry.load())(rest, io);
}
