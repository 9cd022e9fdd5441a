// What a soak's referees see, gathered without asking Herald anything: the API server's view
// (Services, the pool, Pods, the L2Advertisement) polled as kubectl would, and two programs on
// the client (wire-watch: every ARP/NDP answer; tcp-prober: a connection to every address and
// port every 10 ms), fed their targets on stdin and read line by line.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { endpointSliceVersion } from "../../src/k8s/discovery.js";
import type { Rest } from "../../src/k8s/rest.js";
import { REPO } from "../controller/lab-controller.js";
import type { Lab } from "../lab/lab.js";
import type { ApiSnapshot, Outage, Policy, ProbeTarget, ServiceView, WireSighting } from "./model.js";
import { SOAK_NAMESPACE } from "./ops.js";
import { L2ADVERTISEMENT, POOL } from "./soak-lab.js";

const POLL_MS = 250;
export const PROBE_INTERVAL_MS = 10;
const PROBE_TIMEOUT_MS = 1000;
const WIRE_INTERVAL_MS = 100;
/** How long a released address stays asked for on the wire: an answer after release is a finding. */
const RELEASED_WATCH_MS = 10_000;

interface Item {
  metadata?: {
    name?: string;
    uid?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
}
interface ServiceItem extends Item {
  spec?: {
    type?: string;
    externalTrafficPolicy?: string;
    selector?: Record<string, string>;
    ports?: { protocol?: string; port: number }[];
  };
  status?: { loadBalancer?: { ingress?: { ip?: string }[] } };
}
interface SliceItem extends Item {
  endpoints?: { targetRef?: { kind?: string; name?: string }; conditions?: { ready?: boolean } }[];
}
interface PodItem extends Item {
  spec?: { nodeName?: string };
  status?: { conditions?: { type: string; status: string }[] };
}

export function serviceView(s: ServiceItem): ServiceView {
  const a = s.metadata?.annotations ?? {};
  const request = a["herald.dev/loadBalancerIPs"];
  return {
    uid: s.metadata?.uid ?? "",
    namespace: SOAK_NAMESPACE,
    name: s.metadata?.name ?? "",
    type: s.spec?.type ?? "",
    policy: (s.spec?.externalTrafficPolicy === "Local" ? "Local" : "Cluster") as Policy,
    addresses: (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? "").filter(Boolean),
    request: request ? request.split(",").map((x) => x.trim()) : [],
    ...(a["herald.dev/allow-shared-ip"] ? { sharingKey: a["herald.dev/allow-shared-ip"] } : {}),
    ports: (s.spec?.ports ?? []).map((p) => ({ protocol: p.protocol ?? "TCP", port: p.port })),
    selector: s.spec?.selector ?? {},
    ...(a["herald.dev/allocated-from-pool"] ? { pool: a["herald.dev/allocated-from-pool"] } : {}),
  };
}

/** Polls the API server; keeps a snapshot whenever what the referees read changed. */
export class ApiWatcher {
  readonly snapshots: ApiSnapshot[] = [];
  private timer: NodeJS.Timeout | undefined;
  private last = "";
  private busy = false;
  private slicesPath: string | undefined;
  /** When the last poll that the API server answered was sent. */
  lastAnsweredPollAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly api: Rest,
    private readonly now: () => number,
    private readonly onChange: (s: ApiSnapshot) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.poll(), POLL_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  get latest(): ApiSnapshot | undefined {
    return this.snapshots.at(-1);
  }

  async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const t = this.now();
      const get = <T>(path: string) => this.api.request<T>("GET", path);
      this.slicesPath ??= `/apis/discovery.k8s.io/${await endpointSliceVersion(this.api)}/namespaces/${SOAK_NAMESPACE}/endpointslices`;
      const [svcs, pool, pods, l2, slices] = await Promise.all([
        get<{ items: ServiceItem[] }>(`/api/v1/namespaces/${SOAK_NAMESPACE}/services`),
        get<{ metadata?: { name?: string }; spec?: { addresses?: string[]; disabled?: boolean } }>(
          `/apis/herald.dev/v1alpha1/ipaddresspools/${POOL}`,
        ),
        get<{ items: PodItem[] }>(`/api/v1/namespaces/${SOAK_NAMESPACE}/pods`),
        get<{ spec?: { nodeSelector?: { matchExpressions?: { values?: string[] }[] } } }>(
          `/apis/herald.dev/v1alpha1/l2advertisements/${L2ADVERTISEMENT}`,
        ),
        get<{ items: SliceItem[] }>(this.slicesPath),
      ]);
      this.lastAnsweredPollAt = t;
      const snapshot: Omit<ApiSnapshot, "t"> = {
        services: svcs.items.filter((s) => s.metadata?.name !== "kubernetes").map(serviceView),
        pools: [
          { name: POOL, addresses: pool.spec?.addresses ?? [], disabled: pool.spec?.disabled === true },
        ],
        pods: pods.items.map((p) => ({
          name: p.metadata?.name ?? "",
          node: p.spec?.nodeName ?? "",
          app: p.metadata?.labels?.app ?? "",
          ready: (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
        })),
        l2Excluded: (l2.spec?.nodeSelector?.matchExpressions ?? []).flatMap((e) => e.values ?? []),
        endpoints: slices.items.flatMap((slice) =>
          (slice.endpoints ?? []).map((e) => ({
            service: slice.metadata?.labels?.["kubernetes.io/service-name"] ?? "",
            pod: e.targetRef?.kind === "Pod" ? (e.targetRef.name ?? "") : "",
            // Unset means ready (discovery.k8s.io: "should be interpreted as ready").
            ready: e.conditions?.ready !== false,
          })),
        ),
      };
      const text = JSON.stringify(snapshot);
      if (text !== this.last) {
        this.last = text;
        const s = { t, ...snapshot };
        this.snapshots.push(s);
        this.onChange(s);
      }
    } catch {
      // The API server is down or slow: the view stays as last seen, as a user's would.
    } finally {
      this.busy = false;
    }
  }
}

/** A client program fed JSON target sets on stdin, its JSON lines read from stdout. */
class ClientProgram {
  private readonly child: ChildProcess;
  readonly closed: Promise<void>;
  private lastTargets = "";

  constructor(
    lab: Lab,
    name: string,
    script: string,
    args: string[],
    onLine: (v: Record<string, unknown>) => void,
  ) {
    this.child = spawn(
      "ip",
      ["netns", "exec", lab.client.netns, process.execPath, join(REPO, "dist/test/soak", script), ...args],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    this.child.stderr?.pipe(createWriteStream(join(lab.dir, `${name}.stderr.log`)));
    const lines = createInterface({ input: this.child.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      if (!line.startsWith("{")) return;
      try {
        onLine(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* a torn last line at a kill */
      }
    });
    this.closed = new Promise((resolve) => this.child.on("close", () => resolve()));
  }

  setTargets(targets: unknown[]): void {
    const text = JSON.stringify(targets);
    if (text === this.lastTargets) return;
    this.lastTargets = text;
    this.child.stdin?.write(`${text}\n`);
  }

  /** Ends its input (it prints what it holds and exits); SIGKILL if it has not within 10 s. */
  async stop(): Promise<void> {
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.closed;
    clearTimeout(timer);
  }
}

export interface ClientObservers {
  wire: WireSighting[];
  probes: ProbeTarget[];
  outages: Outage[];
  /** Updates what is asked for on the wire and probed, from the API view and ops in flight. */
  update(view: ApiSnapshot | undefined, suppressed: ReadonlySet<string>): void;
  stop(): Promise<void>;
}

export function startClientObservers(lab: Lab, t0: number, now: () => number): ClientObservers {
  const wire: WireSighting[] = [];
  const probes: ProbeTarget[] = [];
  const outages: Outage[] = [];
  const rel = (t: unknown) => Math.round((Number(t) - t0) * 10) / 10;
  const watcher = new ClientProgram(
    lab,
    "wire-watch",
    "wire-watch.js",
    ["eth0", lab.client.v4, lab.client.v6, `${WIRE_INTERVAL_MS}`],
    (v) => wire.push({ ...(v as unknown as WireSighting), t: rel(v.t) }),
  );
  const prober = new ClientProgram(
    lab,
    "tcp-prober",
    "tcp-prober.js",
    [`${PROBE_INTERVAL_MS}`, `${PROBE_TIMEOUT_MS}`],
    (v) => {
      if (v.type === "outage") {
        const o = v as unknown as Outage;
        outages.push({ ...o, fromMs: rel(o.fromMs), toMs: rel(o.toMs) });
      } else if (v.type === "target") {
        const p = v as unknown as ProbeTarget;
        probes.push({ ...p, fromMs: rel(p.fromMs), toMs: rel(p.toMs) });
      }
    },
  );
  const released = new Map<string, number>();
  let held = new Set<string>();
  return {
    wire,
    probes,
    outages,
    update(view, suppressed) {
      if (!view) return;
      const t = now();
      const lb = view.services.filter((s) => s.type === "LoadBalancer");
      const nowHeld = new Set(lb.flatMap((s) => s.addresses));
      for (const a of held) if (!nowHeld.has(a)) released.set(a, t);
      for (const a of nowHeld) released.delete(a);
      for (const [a, at] of released) if (t - at > RELEASED_WATCH_MS) released.delete(a);
      held = nowHeld;
      watcher.setTargets([...nowHeld, ...released.keys()].sort());
      // Every address once, on the lowest port a Service serves there (Services sharing an
      // address each have their own ports: the first one's is enough to see the address work).
      const port = new Map<string, number>();
      for (const s of lb.filter((v) => !suppressed.has(v.name)))
        for (const address of s.addresses)
          for (const p of s.ports) port.set(address, Math.min(port.get(address) ?? p.port, p.port));
      const targets = [...port]
        .map(([address, p]) => ({ address, port: p }))
        .sort((a, b) => a.address.localeCompare(b.address));
      prober.setTargets(targets);
    },
    async stop() {
      await Promise.all([watcher.stop(), prober.stop()]);
    },
  };
}
