// The Helm chart as a user meets it: what `helm install` would create with the
// default values and with every option turned on, rendered by `helm template`. What needs a
// cluster (the heartbeat key kept by `lookup`, the API versions of Kubernetes 1.20) is checked by
// installing the chart in the lab: chart-install.lab.test.ts.
import { readdirSync, readFileSync } from "node:fs";
import {
  ALL_ON,
  BUILD_TIMEOUT_MS,
  find,
  type K8sObject,
  kindsAndNames,
  render,
  renderNotes,
  renderRaw,
} from "./render.js";

let defaults: K8sObject[];
let allOn: K8sObject[];

beforeAll(() => {
  defaults = render();
  allOn = render({ files: [ALL_ON] });
}, BUILD_TIMEOUT_MS);

const CORE = [
  "ClusterRole/herald-controller",
  "ClusterRole/herald-debug-reader",
  "ClusterRole/herald-speaker",
  "ClusterRoleBinding/herald-controller",
  "ClusterRoleBinding/herald-speaker",
  "DaemonSet/herald-speaker",
  "Deployment/herald-controller",
  "PodDisruptionBudget/herald-controller",
  "Role/herald-controller",
  "Role/herald-speaker",
  "RoleBinding/herald-controller",
  "RoleBinding/herald-speaker",
  "Secret/herald-heartbeat",
  "Service/herald-controller-metrics",
  "Service/herald-speaker-metrics",
  "ServiceAccount/herald-controller",
  "ServiceAccount/herald-speaker",
];

const podSpec = (objects: K8sObject[], kind: string, name: string) =>
  find(objects, kind, name).spec.template.spec;
const container = (objects: K8sObject[], kind: string, name: string) =>
  podSpec(objects, kind, name).containers[0];
const env = (c: { env: { name: string; value?: string; valueFrom?: unknown }[] }, name: string) =>
  c.env.find((e) => e.name === name);

describe("with the default values", () => {
  test("renders exactly the core objects, each with a kind, apiVersion and name", () => {
    expect(kindsAndNames(defaults)).toEqual(CORE);
    for (const o of defaults) {
      expect(o.apiVersion).toMatch(/\S/);
      expect(o.metadata.name).toMatch(/^[a-z0-9-]+$/);
    }
  });

  test("namespaced objects land in the release namespace", () => {
    const clusterScoped = new Set(["ClusterRole", "ClusterRoleBinding", "IPAddressPool", "L2Advertisement"]);
    for (const o of defaults.filter((o) => !clusterScoped.has(o.kind))) {
      expect([o.kind, o.metadata.namespace]).toEqual([o.kind, "herald-system"]);
    }
  });

  test("creates no pools, L2Advertisements, ServiceMonitors or audit claim", () => {
    const kinds = new Set(defaults.map((o) => o.kind));
    for (const k of ["IPAddressPool", "L2Advertisement", "ServiceMonitor", "PersistentVolumeClaim"]) {
      expect(kinds.has(k)).toBe(false);
    }
  });
});

describe("the controller", () => {
  test("runs two replicas as non-root with a read-only root filesystem and no capabilities", () => {
    const deployment = find(defaults, "Deployment", "herald-controller");
    expect(deployment.spec.replicas).toBe(2);
    const spec = podSpec(defaults, "Deployment", "herald-controller");
    expect(spec.hostNetwork).toBeUndefined();
    expect(spec.securityContext.runAsNonRoot).toBe(true);
    expect(spec.securityContext.runAsUser).not.toBe(0);
    const c = container(defaults, "Deployment", "herald-controller");
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(c.securityContext.capabilities.add).toBeUndefined();
    expect(c.securityContext.privileged).toBeUndefined();
  });

  test("is probed on /healthz and /readyz of its HTTP port and runs `herald controller`", () => {
    const c = container(defaults, "Deployment", "herald-controller");
    expect(c.args[0]).toBe("controller");
    expect(c.args).toContain("--http-port=7472");
    expect(c.ports).toEqual([{ name: "http", containerPort: 7472, protocol: "TCP" }]);
    expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
  });

  test("knows its namespace and name from the downward API, for its Lease", () => {
    const c = container(defaults, "Deployment", "herald-controller");
    expect(env(c, "POD_NAMESPACE")?.valueFrom).toEqual({ fieldRef: { fieldPath: "metadata.namespace" } });
    expect(env(c, "POD_NAME")?.valueFrom).toEqual({ fieldRef: { fieldPath: "metadata.name" } });
    expect(c.args).toContain("--lease-name=herald-controller");
  });

  test("controller and speakers handle only Services without a class by default, and only lbClass when set", () => {
    // Both must agree: a Service the controller gives an address that no speaker handles is never announced.
    for (const [kind, name] of [
      ["Deployment", "herald-controller"],
      ["DaemonSet", "herald-speaker"],
    ] as const) {
      const args = (o: K8sObject[]) => container(o, kind, name).args as string[];
      expect(args(defaults).some((a) => a.startsWith("--lb-class"))).toBe(false);
      expect(args(allOn)).toContain("--lb-class=herald.dev/lb");
    }
  });

  test("keeps its audit log in an emptyDir, or in a claim when persistence is on", () => {
    const auditVolume = (o: K8sObject[]) =>
      podSpec(o, "Deployment", "herald-controller").volumes.find((v: { name: string }) => v.name === "audit");
    expect(auditVolume(defaults).emptyDir).toBeDefined();
    expect(auditVolume(allOn).persistentVolumeClaim).toEqual({ claimName: "herald-controller-audit" });
    const claim = find(allOn, "PersistentVolumeClaim", "herald-controller-audit");
    expect(claim.spec).toMatchObject({
      storageClassName: "fast",
      resources: { requests: { storage: "5Gi" } },
    });
    const mount = container(defaults, "Deployment", "herald-controller").volumeMounts.find(
      (m: { name: string }) => m.name === "audit",
    );
    expect(env(container(defaults, "Deployment", "herald-controller"), "HERALD_AUDIT_DIR")?.value).toBe(
      mount.mountPath,
    );
  });

  test("a disruption budget keeps one replica during drains, and is left out with one replica", () => {
    const pdb = find(defaults, "PodDisruptionBudget", "herald-controller");
    // helm template assumes a current Kubernetes; on 1.20 it is policy/v1beta1 (the lab installs it there).
    expect(pdb.apiVersion).toBe("policy/v1");
    // Rendered offline for a 1.20 cluster (what GitOps tools do with the cluster's version).
    const old = render({ args: ["--kube-version", "1.20.2"] });
    expect(find(old, "PodDisruptionBudget", "herald-controller").apiVersion).toBe("policy/v1beta1");
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(
      find(defaults, "Deployment", "herald-controller").spec.selector.matchLabels,
    );
    const single = render({ values: "controller: {replicas: 1}\n" });
    expect(single.some((o) => o.kind === "PodDisruptionBudget")).toBe(false);
  });
});

describe("the speaker", () => {
  test("uses the host network with exactly NET_RAW, NET_ADMIN and SYS_NICE and a read-only root filesystem", () => {
    for (const objects of [defaults, allOn]) {
      const spec = podSpec(objects, "DaemonSet", "herald-speaker");
      expect(spec.hostNetwork).toBe(true);
      expect(spec.dnsPolicy).toBe("ClusterFirstWithHostNet");
      const sc = container(objects, "DaemonSet", "herald-speaker").securityContext;
      expect([...sc.capabilities.add].sort()).toEqual(["NET_ADMIN", "NET_RAW", "SYS_NICE"]);
      expect(sc.capabilities.drop).toEqual(["ALL"]);
      expect(sc.readOnlyRootFilesystem).toBe(true);
      expect(sc.allowPrivilegeEscalation).toBe(false);
      expect(sc.privileged).toBeUndefined();
    }
  });

  test("raises its event loop to the real-time priority asked; 0 asks none and drops SYS_NICE", () => {
    expect(container(defaults, "DaemonSet", "herald-speaker").args).toContain("--realtime-priority=10");
    const normal = render({ values: "speaker: {realtimePriority: 0}\n" });
    const c = container(normal, "DaemonSet", "herald-speaker");
    expect(c.args).toContain("--realtime-priority=0");
    expect([...c.securityContext.capabilities.add].sort()).toEqual(["NET_ADMIN", "NET_RAW"]);
  });

  test("learns its node from spec.nodeName and runs `herald speaker`", () => {
    const c = container(defaults, "DaemonSet", "herald-speaker");
    expect(c.args[0]).toBe("speaker");
    expect(env(c, "NODE_NAME")?.valueFrom).toEqual({ fieldRef: { fieldPath: "spec.nodeName" } });
    expect(env(c, "POD_NAMESPACE")?.valueFrom).toEqual({ fieldRef: { fieldPath: "metadata.namespace" } });
    expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
  });

  test("reads the heartbeat key from the Secret herald-heartbeat at the path it is told", () => {
    const spec = podSpec(defaults, "DaemonSet", "herald-speaker");
    const c = spec.containers[0];
    const volume = spec.volumes.find((v: { secret?: { secretName: string } }) => v.secret !== undefined);
    expect(volume.secret.secretName).toBe("herald-heartbeat");
    const mount = c.volumeMounts.find((m: { name: string }) => m.name === volume.name);
    expect(mount.readOnly).toBe(true);
    const keyPath = volume.secret.items.find((i: { key: string }) => i.key === "key").path;
    expect(env(c, "HERALD_HEARTBEAT_KEY_FILE")?.value).toBe(`${mount.mountPath}/${keyPath}`);
  });

  test("heartbeats on the configured UDP port, and keeps its audit log on the node", () => {
    for (const [objects, port, hostPath] of [
      [defaults, 7946, "/var/lib/herald/audit"],
      [allOn, 7950, "/srv/herald/audit"],
    ] as const) {
      const spec = podSpec(objects, "DaemonSet", "herald-speaker");
      const c = spec.containers[0];
      expect(c.args).toContain(`--heartbeat-port=${port}`);
      expect(c.ports).toContainEqual({ name: "heartbeat", containerPort: port, protocol: "UDP" });
      expect(c.ports).toContainEqual({ name: "http", containerPort: 7473, protocol: "TCP" });
      const audit = spec.volumes.find((v: { name: string }) => v.name === "audit");
      expect(audit.hostPath).toEqual({ path: hostPath, type: "DirectoryOrCreate" });
      const mount = c.volumeMounts.find((m: { name: string }) => m.name === "audit");
      expect(env(c, "HERALD_AUDIT_DIR")?.value).toBe(mount.mountPath);
    }
  });

  test("runs where the values say: control-plane nodes by default, tolerations and nodeSelector from values", () => {
    const byDefault = podSpec(defaults, "DaemonSet", "herald-speaker");
    expect(byDefault.tolerations.map((t: { key: string }) => t.key)).toContain(
      "node-role.kubernetes.io/control-plane",
    );
    expect(byDefault.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
    const custom = podSpec(allOn, "DaemonSet", "herald-speaker");
    expect(custom.tolerations).toEqual([{ operator: "Exists" }]);
    expect(custom.nodeSelector).toEqual({ "kubernetes.io/os": "linux", "herald.dev/speaker": "true" });
    expect(custom.priorityClassName).toBe("system-node-critical");
    const none = podSpec(render({ values: "speaker: {tolerations: null}\n" }), "DaemonSet", "herald-speaker");
    expect(none.tolerations).toBeUndefined();
  });
});

describe("debug and audit endpoints, and audit retention", () => {
  const both = [
    ["Deployment", "herald-controller"],
    ["DaemonSet", "herald-speaker"],
  ] as const;
  const args = (o: K8sObject[], kind: string, name: string) => container(o, kind, name).args as string[];
  const quantity = (q: string) => {
    const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q);
    const units: Record<string, number> = { "": 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };
    return Number(m?.[1]) * (units[m?.[2] ?? ""] ?? Number.NaN);
  };

  test("both components check tokens on /debug/state and /audit by default, or answer loopback only", () => {
    for (const [kind, name] of both) {
      expect(args(defaults, kind, name)).toContain("--http-auth=kubernetes");
      expect(args(render({ values: "httpAuth: none\n" }), kind, name)).toContain("--http-auth=none");
    }
    expect(() => render({ values: "httpAuth: open\n" })).toThrow(/httpAuth must be kubernetes or none/);
  });

  test("retention limits come from the values into each component's flags", () => {
    for (const [objects, controller, speaker] of [
      [defaults, ["512Mi", "30d"], ["1Gi", "30d"]],
      [allOn, ["2Gi", "7d"], ["256Mi", "14d"]],
    ] as const) {
      for (const [[kind, name], [bytes, age]] of [
        [both[0], controller],
        [both[1], speaker],
      ] as const) {
        expect(args(objects, kind, name)).toEqual(
          expect.arrayContaining([`--audit-max-bytes=${bytes}`, `--audit-max-age=${age}`]),
        );
      }
    }
  });

  test("the controller's default retention stays well under its emptyDir limit, so the Pod is not evicted", () => {
    const c = args(defaults, "Deployment", "herald-controller");
    const maxBytes = quantity((c.find((a) => a.startsWith("--audit-max-bytes=")) ?? "").split("=")[1] ?? "");
    const volume = podSpec(defaults, "Deployment", "herald-controller").volumes.find(
      (v: { name: string }) => v.name === "audit",
    );
    expect(maxBytes).toBeGreaterThan(0);
    expect(maxBytes).toBeLessThanOrEqual(quantity(volume.emptyDir.sizeLimit) / 2);
  });

  test("a ClusterRole, bound to nobody, grants reading state and audit of both components", () => {
    const role = find(defaults, "ClusterRole", "herald-debug-reader");
    expect(role.rules).toEqual([
      {
        apiGroups: ["herald.dev"],
        resources: ["speakers/debug", "speakers/audit", "controllers/debug", "controllers/audit"],
        verbs: ["get"],
      },
    ]);
    const bound = defaults.filter(
      (o) => o.kind.endsWith("Binding") && o.roleRef.name === "herald-debug-reader",
    );
    expect(bound).toEqual([]);
  });
});

describe("the heartbeat key", () => {
  const keyOf = (objects: K8sObject[]) =>
    Buffer.from(find(objects, "Secret", "herald-heartbeat").data.key, "base64").toString("utf8");

  test("survives uninstall and upgrades: the Secret carries helm's keep policy", () => {
    for (const objects of [defaults, allOn]) {
      expect(find(objects, "Secret", "herald-heartbeat").metadata.annotations).toMatchObject({
        "helm.sh/resource-policy": "keep",
      });
    }
  });

  test("is generated fresh when no Secret exists yet: long, random, and itself valid base64", () => {
    const key = keyOf(defaults);
    expect(key).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(Buffer.from(key, "base64").length).toBeGreaterThanOrEqual(32);
    expect(keyOf(render())).not.toBe(key);
  });

  test("can be given in the values, and a short one is refused", () => {
    expect(keyOf(allOn)).toBe("an-explicit-key-of-at-least-32-characters-for-gitops");
    expect(() => render({ values: "heartbeat: {key: short}\n" })).toThrow(/at least 32 characters/);
  });
});

describe("optional objects appear only when enabled", () => {
  test("every option on adds the claim, ServiceMonitors, pools, L2Advertisements and the Lease policy", () => {
    const extra = kindsAndNames(allOn).filter((k) => !CORE.includes(k));
    expect(extra).toEqual([
      "IPAddressPool/lan",
      "IPAddressPool/payments",
      "L2Advertisement/all",
      "L2Advertisement/lan-eth",
      "PersistentVolumeClaim/herald-controller-audit",
      "ServiceMonitor/herald-controller",
      "ServiceMonitor/herald-speaker",
      "ValidatingAdmissionPolicy/herald-speaker-leases",
      "ValidatingAdmissionPolicyBinding/herald-speaker-leases",
    ]);
  });

  test("pools and L2Advertisements carry the spec from the values", () => {
    expect(find(allOn, "IPAddressPool", "payments").spec).toEqual({
      addresses: ["198.51.100.10-198.51.100.19"],
      autoAssign: false,
      allocation: { priority: 10, namespaces: ["payments"] },
    });
    expect(find(allOn, "IPAddressPool", "lan").metadata.labels).toMatchObject({ site: "a" });
    expect(find(allOn, "L2Advertisement", "all").spec).toEqual({});
    expect(find(allOn, "L2Advertisement", "lan-eth").spec).toEqual({
      ipAddressPools: ["lan"],
      interfaces: ["eth0", "enp*"],
    });
  });

  test("the ServiceMonitors select the metrics Services by their labels and port name", () => {
    for (const component of ["controller", "speaker"]) {
      const monitor = find(allOn, "ServiceMonitor", `herald-${component}`);
      const service = find(allOn, "Service", `herald-${component}-metrics`);
      expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
      expect(service.spec.ports.map((p: { name: string }) => p.name)).toContain(
        monitor.spec.endpoints[0].port,
      );
      expect(monitor.metadata.labels).toMatchObject({ release: "prometheus" });
    }
  });

  test("metrics Services can be turned off; a ServiceMonitor without them is an error", () => {
    const off = render({ values: "metrics: {service: {enabled: false}}\n" });
    expect(off.some((o) => o.kind === "Service")).toBe(false);
    expect(() =>
      render({ values: "metrics: {service: {enabled: false}, serviceMonitor: {enabled: true}}\n" }),
    ).toThrow(/needs metrics.service.enabled/);
  });

  test("the metrics Services reach the pods' HTTP ports", () => {
    for (const [component, kind] of [
      ["controller", "Deployment"],
      ["speaker", "DaemonSet"],
    ] as const) {
      const service = find(defaults, "Service", `herald-${component}-metrics`);
      const pods = find(defaults, kind, `herald-${component}`).spec.template.metadata.labels;
      expect(pods).toMatchObject(service.spec.selector);
      expect(service.spec.ports[0].targetPort).toBe("http");
    }
  });
});

test("images, pull secrets and log level come from the values", () => {
  for (const [kind, name] of [
    ["Deployment", "herald-controller"],
    ["DaemonSet", "herald-speaker"],
  ] as const) {
    expect(container(defaults, kind, name).image).toBe("herald:0.1.0");
    expect(container(allOn, kind, name).image).toBe("registry.example/herald:9.9.9");
    expect(podSpec(allOn, kind, name).imagePullSecrets).toEqual([{ name: "registry-credentials" }]);
    expect(env(container(allOn, kind, name), "HERALD_LOG_LEVEL")?.value).toBe("debug");
  }
});

test("every template in the chart is exercised by the all-on values", () => {
  const sources = new Set(
    [...renderRaw(["-f", ALL_ON]).matchAll(/^# Source: herald\/templates\/(.+)$/gm)].map((m) => m[1]),
  );
  const templates = readdirSync("helm/herald/templates").filter((f) => f.endsWith(".yaml"));
  expect([...sources].sort()).toEqual(templates.sort());
});

test("NOTES.txt tells the user the next steps", () => {
  const notes = renderNotes();
  expect(notes).toContain("kind: IPAddressPool");
  expect(notes).toContain("kind: L2Advertisement");
  expect(notes).toContain("kubectl get serviceannouncements -A");
  expect(notes).toContain("UDP port 7946");
  const withPools = renderNotes(["-f", ALL_ON]);
  expect(withPools).toContain("Pools created with this release: lan, payments");
  expect(withPools).toContain("spec.loadBalancerClass: herald.dev/lb");
});

test("values.yaml documents every option it sets", () => {
  const lines = readFileSync("helm/herald/values.yaml", "utf8").split("\n");
  // Each top-level option is preceded by a comment saying what it is for.
  for (const [i, line] of lines.entries()) {
    if (!/^[a-zA-Z]+:/.test(line)) continue;
    const previous = lines.slice(0, i).findLast((l) => l.trim() !== "");
    expect([line, previous?.startsWith("#")]).toEqual([line, true]);
  }
});
