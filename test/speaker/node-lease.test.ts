import { expect, test } from "@jest/globals";
import pino from "pino";
import { KubeError, type Rest } from "../../src/k8s/rest.js";
import { speakerInputs } from "../../src/speaker/inputs.js";
import { NodeLease } from "../../src/speaker/node-lease.js";

interface Stored {
  metadata: { name: string; annotations?: Record<string, string> };
  spec?: { holderIdentity?: string };
}

/** An API holding Leases in a map. */
function fakeApi() {
  const leases = new Map<string, Stored>();
  const rest: Rest = {
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      const name = method === "POST" ? (body as Stored).metadata.name : (path.split("/").pop() ?? "");
      if (method === "GET") {
        const found = leases.get(name);
        if (!found) throw new KubeError(404, "NotFound", "not found");
        return structuredClone(found) as T;
      }
      leases.set(name, structuredClone(body as Stored));
      return body as T;
    },
    watch: async () => {},
  };
  return { rest, leases };
}

async function renewOnce(rest: Rest, publicKey: string) {
  const stop = new AbortController();
  const lease = new NodeLease(rest, {
    namespace: "herald-system",
    node: "n2",
    heartbeatAddress: "192.0.2.12",
    publicKey,
    macs: () => ["02:00:00:00:00:02"],
    now: () => 0,
    sleep: async () => stop.abort(),
    log: pino({ level: "silent" }),
  });
  await lease.run(stop.signal);
}

test("the speaker's Lease carries its holder and its current public key, which peers read", async () => {
  const api = fakeApi();
  const first = `x25519:${"B".repeat(43)}`;
  const second = `x25519:${"C".repeat(43)}`;
  await renewOnce(api.rest, first);
  // A restart brings a new key pair: the Lease is updated, not kept.
  await renewOnce(api.rest, second);
  const stored = api.leases.get("herald-speaker-n2") as Stored;
  expect(stored.spec?.holderIdentity).toBe("n2");
  const inputs = speakerInputs(
    { services: [], slices: [], nodes: [], pools: [], advertisements: [], leases: [stored] },
    "n1",
  );
  expect(Object.fromEntries(inputs.cluster.peerKeys ?? [])).toEqual({ n2: second });
});
