// The kubelet's heartbeat for one lab node, run inside the node's network namespace:
// keeps the Node's Ready condition and its Lease in kube-node-lease fresh, as a
// kubelet does every 10 s. When the node's link is cut, the heartbeats stop reaching
// the API server, as they would in a cluster. Runs on its own (`node node-agent.ts`),
// so it imports nothing from the lab.
//
// Environment: LAB_NODE, LAB_SERVER (https://host:port), LAB_CA, LAB_CERT, LAB_KEY,
// LAB_HEARTBEAT_MS (default 10000).
import { readFileSync } from "node:fs";
import { request } from "node:https";

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) {
    process.stderr.write(`node-agent: ${name} is required\n`);
    process.exit(2);
  }
  return v;
};
const node = env("LAB_NODE");
const server = new URL(env("LAB_SERVER"));
const tls = {
  ca: readFileSync(env("LAB_CA")),
  cert: readFileSync(env("LAB_CERT")),
  key: readFileSync(env("LAB_KEY")),
};
const everyMs = Number(process.env.LAB_HEARTBEAT_MS ?? "10000");

function patch(path: string, contentType: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: server.hostname,
        port: server.port,
        path,
        method: "PATCH",
        headers: { "content-type": contentType },
        timeout: 5000,
        ...tls,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

// Lease times are MicroTime: RFC 3339 with microseconds.
const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

async function beat(): Promise<void> {
  const now = new Date();
  const nodeStatus = await patch(`/api/v1/nodes/${node}/status`, "application/strategic-merge-patch+json", {
    status: {
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "KubeletReady",
          message: "lab node agent is posting ready status",
          lastHeartbeatTime: now.toISOString().replace(/\.\d{3}Z$/, "Z"),
        },
      ],
    },
  });
  const lease = await patch(
    `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${node}`,
    "application/merge-patch+json",
    { spec: { renewTime: microTime(now) } },
  );
  if (nodeStatus !== 200 || lease !== 200) {
    process.stderr.write(`node-agent: heartbeat got HTTP ${nodeStatus} (node) and ${lease} (lease)\n`);
  }
}

let failing = false;
async function loop(): Promise<void> {
  try {
    await beat();
    if (failing) process.stdout.write(`node-agent: ${node} heartbeats reach the API server again\n`);
    failing = false;
  } catch (e) {
    if (!failing) process.stderr.write(`node-agent: ${node} heartbeat failed: ${(e as Error).message}\n`);
    failing = true;
  }
  setTimeout(loop, everyMs);
}
process.stdout.write(`node-agent: ${node} started, heartbeat every ${everyMs} ms\n`);
process.on("SIGTERM", () => process.exit(0));
void loop();
