// `npm run lab:up` and `npm run lab:down`: a lab for a person at a shell.
//
//   lab up [--nodes N] [--heartbeat-ms MS]   start a lab that stays up; prints how to use it
//   lab down [--all]                         remove labs made by `lab up` and crashed runs
//                                            (--all: also labs of test runs still going)
import { parseArgs } from "node:util";
import { defaultStateRoot, findLabs, removeLabs } from "./cleanup.js";
import { LabError } from "./errors.js";
import { Lab } from "./lab.js";

async function up(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: "string", default: "3" },
      "heartbeat-ms": { type: "string", default: "10000" },
    },
  });
  const lab = await Lab.start({
    nodes: Number(values.nodes),
    heartbeatMs: Number(values["heartbeat-ms"]),
    persistent: true,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const nodes = lab.nodes.map(
    (n) => `  ${n.name.padEnd(8)} ${n.v4.padEnd(13)} ${n.v6.padEnd(16)} ip netns exec ${n.netns} ...`,
  );
  process.stdout.write(
    [
      "",
      `Lab ${lab.prefix} is up (ready in ${lab.startedInMs} ms). State: ${lab.dir}/state.json`,
      "",
      "kubectl from this shell:",
      `  export KUBECONFIG=${lab.kubeconfig}`,
      `  ${lab.kubectl} get nodes -o wide`,
      "",
      "inside the lab (API at https://192.0.2.1:6443):",
      `  ip netns exec ${lab.client.netns} curl http://192.0.2.11:<nodePort>/`,
      `  ip netns exec ${lab.nodes[0]?.netns} ${lab.kubectl} --kubeconfig=${lab.innerKubeconfig} get pods -A`,
      "",
      "nodes:",
      ...nodes,
      `  client   ${lab.client.v4.padEnd(13)} ${lab.client.v6.padEnd(16)} ip netns exec ${lab.client.netns} ...`,
      "",
      `logs: ${lab.dir}/logs/`,
      "remove it with: npm run lab:down",
      "",
    ].join("\n"),
  );
  return 0;
}

async function down(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { all: { type: "boolean", default: false } } });
  const removed = await removeLabs({ persistentToo: true, everything: values.all });
  const left = await findLabs(defaultStateRoot());
  process.stdout.write(removed.length > 0 ? `removed labs: ${removed.join(", ")}\n` : "no labs to remove\n");
  if (left.length > 0) {
    process.stdout.write(
      `still running (owned by live test runs; --all removes them): ${left.map((l) => l.prefix).join(", ")}\n`,
    );
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "up") return up(rest);
  if (command === "down") return down(rest);
  process.stderr.write("usage: lab up [--nodes N] [--heartbeat-ms MS] | lab down [--all]\n");
  return 2;
}

main(process.argv.slice(2)).then(
  // Exit explicitly: the lab's processes are detached, but client sockets may linger.
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`lab: ${e instanceof LabError ? e.message : (e as Error).stack}\n`);
    process.exit(1);
  },
);
