// The worker thread that starts the speaker's commands (commands.ts says why): one request in,
// one reply out, any number at once.
import { parentPort } from "node:worker_threads";
import { type CommandReply, type CommandRequest, spawnCommand } from "./commands.js";

parentPort?.on("message", (request: CommandRequest) => {
  void spawnCommand(request.file, request.args, request.stdin).then((r) => {
    const reply: CommandReply = { id: request.id, ...r };
    parentPort?.postMessage(reply);
  });
});
