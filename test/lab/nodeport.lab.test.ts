// A NodePort Service backed by Pods on two nodes, reached from the client through the
// real kube-proxy of every node: the lab's Service path works end to end.
import { CoreV1Api, type V1Service } from "@kubernetes/client-node";
import { waitFor } from "./exec.js";
import { LAB_START_TIMEOUT_MS, startLab } from "./fixture.js";
import type { Lab } from "./lab.js";
import { httpEcho, podsAnswering, udpEcho } from "./probe.js";

let lab: Lab;
let core: CoreV1Api;

beforeAll(async () => {
  lab = await startLab({ nodes: 3 });
  core = lab.kc.makeApiClient(CoreV1Api);
}, LAB_START_TIMEOUT_MS);

afterAll(async () => {
  await lab?.stop();
});

const service: V1Service = {
  metadata: { name: "web" },
  spec: {
    type: "NodePort",
    selector: { app: "web" },
    ports: [
      { name: "http", port: 80, targetPort: 8080, protocol: "TCP" },
      { name: "echo", port: 80, targetPort: 8080, protocol: "UDP" },
    ],
  },
};

test("every node's NodePort reaches both Pods; after one is deleted, only the other answers", async () => {
  await lab.createPod({ name: "web-a", node: "node-1", labels: { app: "web" } });
  await lab.createPod({ name: "web-b", node: "node-2", labels: { app: "web" } });
  const created = await core.createNamespacedService({ namespace: "default", body: service });
  const tcpPort = created.spec?.ports?.find((p) => p.protocol === "TCP")?.nodePort;
  const udpPort = created.spec?.ports?.find((p) => p.protocol === "UDP")?.nodePort;
  expect(tcpPort).toBeGreaterThanOrEqual(30000);
  expect(udpPort).toBeGreaterThanOrEqual(30000);

  // node-3 has no Pod of its own: it reaches both through the pod routes.
  for (const node of lab.nodes) {
    const url = `http://${node.v4}:${tcpPort}/`;
    const seen = await waitFor(
      `both pods behind ${url}`,
      async () => {
        // Until kube-proxy has the endpoints, some requests get no answer: wait for a clean round.
        const names = new Set(await podsAnswering(lab, "client", url, 12));
        return names.size === 2 && names.has("web-a") && names.has("web-b") ? names : undefined;
      },
      30_000,
    );
    expect([...seen].sort()).toEqual(["web-a", "web-b"]);

    const udp = await waitFor(
      `UDP echo through ${node.name}`,
      () => udpEcho(lab, "client", node.v4, udpPort ?? 0, `hello ${node.name}`),
      30_000,
    );
    expect(udp.echo).toBe(`hello ${node.name}`);
    expect(["web-a", "web-b"]).toContain(udp.pod);
  }

  await lab.deletePod("web-a");
  for (const node of lab.nodes) {
    const url = `http://${node.v4}:${tcpPort}/`;
    const seen = await waitFor(
      `only web-b behind ${url}`,
      async () => {
        const names = await podsAnswering(lab, "client", url, 10);
        return names.every((n) => n === "web-b") ? names : undefined;
      },
      30_000,
    );
    expect(new Set(seen)).toEqual(new Set(["web-b"]));
  }
});

test("with externalTrafficPolicy Local, the node with the Pod keeps the client's address and a node without one drops", async () => {
  await lab.createPod({ name: "local-a", node: "node-3", labels: { app: "local" } });
  const created = await core.createNamespacedService({
    namespace: "default",
    body: {
      metadata: { name: "local" },
      spec: {
        type: "NodePort",
        externalTrafficPolicy: "Local",
        selector: { app: "local" },
        ports: [{ port: 80, targetPort: 8080, protocol: "TCP" }],
      },
    },
  });
  const nodePort = created.spec?.ports?.[0]?.nodePort;
  const reply = await waitFor(
    "the Local Service through node-3",
    () => httpEcho(lab, "client", `http://${lab.node("node-3").v4}:${nodePort}/`),
    30_000,
  );
  expect(reply).toMatchObject({ pod: "local-a", node: "node-3", client: lab.client.v4 });
  expect(await httpEcho(lab, "client", `http://${lab.node("node-1").v4}:${nodePort}/`, 1)).toBeUndefined();
});
