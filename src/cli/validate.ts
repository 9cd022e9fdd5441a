import type { Command } from "./command.js";

// Filled in with the pool parser.
export const validate: Command = async (_argv, io) => {
  io.err("herald validate: not available yet");
  return 1;
};
