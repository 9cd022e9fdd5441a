// A dual-stack lab: the real 1.20 API server hands a RequireDualStack Service a ClusterIP per
// family, the controller manager builds an EndpointSlice per family from the Pods' two
// addresses, and kube-proxy programs the NodePort in iptables and ip6tables, so the client
// reaches both Pods over IPv4 and IPv6.
import { BlockList } from "node:net";
import { CoreV1Api } from "@kubernetes/client-node";
import { waitFor } from "./exec.js";
import { LAB_START_TIMEOUT_MS, startLab } from "./fixture.js";
import type { Lab } from "./lab.js";
import { SERVICE_CIDR, SERVICE_CIDR_V6 } from "./plan.js";
import { httpEcho, podsAnswering } from "./probe.js";

let lab: Lab;
let core: CoreV1Api;

beforeAll(async () => {
  lab = await startLab({ nodes: 2, dualStack: true });
  core = lab.kc.makeApiClient(CoreV1Api);
}, LAB_START_TIMEOUT_MS);

afterAll(async () => {
  await lab?.stop();
});

function inRange(cidr: string, ip: string): boolean {
  const [net = "", bits = ""] = cidr.split("/");
  const family = net.includes(":") ? "ipv6" : "ipv4";
  const range = new BlockList();
  range.addSubnet(net, Number(bits), family);
  return range.check(ip, family);
}

interface Slice {
  addressType: string;
  endpoints?: { addresses: string[] }[];
}

async function slicesOf(service: string): Promise<Slice[]> {
  const out = await lab.kubectlRun([
    "get",
    "endpointslices",
    "-n",
    "default",
    "-l",
    `kubernetes.io/service-name=${service}`,
    "-o",
    "json",
  ]);
  return (JSON.parse(out) as { items: Slice[] }).items;
}

test("a RequireDualStack Service gets a ClusterIP and an EndpointSlice per family, and its NodePort answers over both", async () => {
  const a = await lab.createPod({ name: "dual-a", node: "node-1", labels: { app: "dual" } });
  const b = await lab.createPod({ name: "dual-b", node: "node-2", labels: { app: "dual" } });
  expect(a.ipv6).toBeDefined();
  const pod = await core.readNamespacedPod({ name: "dual-a", namespace: "default" });
  expect(pod.status?.podIPs).toEqual([{ ip: a.ip }, { ip: a.ipv6 }]);

  const created = await core.createNamespacedService({
    namespace: "default",
    body: {
      metadata: { name: "dual" },
      spec: {
        type: "NodePort",
        ipFamilyPolicy: "RequireDualStack",
        ipFamilies: ["IPv6", "IPv4"],
        selector: { app: "dual" },
        ports: [{ port: 80, targetPort: 8080, protocol: "TCP" }],
      },
    },
  });
  const [v6, v4] = created.spec?.clusterIPs ?? [];
  expect(created.spec?.ipFamilies).toEqual(["IPv6", "IPv4"]);
  expect(created.spec?.clusterIP).toBe(v6);
  expect(inRange(SERVICE_CIDR_V6, v6 ?? "")).toBe(true);
  expect(inRange(SERVICE_CIDR, v4 ?? "")).toBe(true);
  const nodePort = created.spec?.ports?.[0]?.nodePort;

  const slices = await waitFor(
    "an EndpointSlice per family with both Pods",
    async () => {
      const byType = new Map<string, string[]>();
      for (const s of await slicesOf("dual")) {
        const addresses = (s.endpoints ?? []).flatMap((e) => e.addresses);
        byType.set(s.addressType, [...(byType.get(s.addressType) ?? []), ...addresses].sort());
      }
      return byType.get("IPv4")?.length === 2 && byType.get("IPv6")?.length === 2 ? byType : undefined;
    },
    30_000,
  );
  expect(slices.get("IPv4")).toEqual([a.ip, b.ip].sort());
  expect(slices.get("IPv6")).toEqual([a.ipv6, b.ipv6].sort());

  // kube-proxy's IPv6 proxier has the NodePort in ip6tables, not just the IPv4 one.
  for (const node of lab.nodes) {
    await waitFor(
      `ip6tables NodePort rule on ${node.name}`,
      async () => {
        const rules = await lab.exec(node.name, ["ip6tables-save", "-t", "nat"]);
        return new RegExp(`KUBE-NODEPORTS .*default/dual.* --dport ${nodePort} `).test(rules)
          ? true
          : undefined;
      },
      30_000,
    );
  }

  for (const node of lab.nodes) {
    for (const host of [node.v4, `[${node.v6}]`]) {
      const url = `http://${host}:${nodePort}/`;
      const seen = await waitFor(
        `both pods behind ${url}`,
        async () => {
          const names = new Set(await podsAnswering(lab, "client", url, 10));
          return names.size === 2 && names.has("dual-a") && names.has("dual-b") ? names : undefined;
        },
        30_000,
      );
      expect([...seen].sort()).toEqual(["dual-a", "dual-b"]);
    }
    // The ClusterIPs of both families work from every node.
    for (const ip of [`[${v6}]`, v4]) {
      const reply = await waitFor(
        `${ip} from ${node.name}`,
        () => httpEcho(lab, node.name, `http://${ip}/`),
        30_000,
      );
      expect(["dual-a", "dual-b"]).toContain(reply.pod);
    }
  }
});

test("without ipFamilyPolicy a Service stays single-stack IPv4, as in a single-stack lab", async () => {
  const created = await core.createNamespacedService({
    namespace: "default",
    body: { metadata: { name: "plain" }, spec: { ports: [{ port: 80 }] } },
  });
  expect(created.spec?.ipFamilyPolicy).toBe("SingleStack");
  expect(created.spec?.ipFamilies).toEqual(["IPv4"]);
  expect(created.spec?.clusterIPs).toHaveLength(1);
  expect(inRange(SERVICE_CIDR, created.spec?.clusterIP ?? "")).toBe(true);
});

test("with externalTrafficPolicy Local, the IPv6 NodePort of the node with the Pod keeps the client's IPv6 address", async () => {
  await lab.createPod({ name: "local6", node: "node-2", labels: { app: "local6" } });
  const created = await core.createNamespacedService({
    namespace: "default",
    body: {
      metadata: { name: "local6" },
      spec: {
        type: "NodePort",
        externalTrafficPolicy: "Local",
        ipFamilyPolicy: "PreferDualStack",
        selector: { app: "local6" },
        ports: [{ port: 80, targetPort: 8080, protocol: "TCP" }],
      },
    },
  });
  expect(created.spec?.ipFamilies).toEqual(["IPv4", "IPv6"]);
  const nodePort = created.spec?.ports?.[0]?.nodePort;
  const reply = await waitFor(
    "the Local Service over IPv6 through node-2",
    () => httpEcho(lab, "client", `http://[${lab.node("node-2").v6}]:${nodePort}/`),
    30_000,
  );
  expect(reply).toMatchObject({ pod: "local6", node: "node-2", client: lab.client.v6 });
});
