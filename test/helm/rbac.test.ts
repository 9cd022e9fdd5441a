// Least privilege, checked on the chart's rendered RBAC for both value sets:
// what each component may do, what it may not, and the two rules a cluster
// admin cares most about (no Secrets but the heartbeat key, no writes to Services).
import { allRules, authorize } from "./rbac-authorizer.js";
import {
  CONTROLLER_SA,
  describeCheck,
  kubectlCanIArgs,
  RBAC_CHECKS,
  SPEAKER_SA,
} from "./rbac-expectations.js";
import { ALL_ON, BUILD_TIMEOUT_MS, type K8sObject, render } from "./render.js";

const sets: [string, K8sObject[]][] = [];
beforeAll(() => {
  sets.push(["default values", render()], ["every option on", render({ files: [ALL_ON] })]);
}, BUILD_TIMEOUT_MS);

const WRITE_VERBS = ["create", "update", "patch", "delete", "deletecollection", "*"];

test("every expected `kubectl auth can-i` answer holds", () => {
  for (const [label, objects] of sets) {
    const wrong = RBAC_CHECKS.filter((c) => authorize(objects, c) !== c.allowed).map(describeCheck);
    expect([label, wrong]).toEqual([label, []]);
  }
});

test("the checks cover both components, both ways", () => {
  for (const sa of [CONTROLLER_SA, SPEAKER_SA]) {
    const mine = RBAC_CHECKS.filter((c) => c.serviceAccount === sa);
    expect(mine.some((c) => c.allowed)).toBe(true);
    expect(mine.some((c) => !c.allowed)).toBe(true);
  }
});

test("no rule grants Secrets, except reading herald-heartbeat by name", () => {
  for (const [, objects] of sets) {
    for (const { source, rule } of allRules(objects)) {
      const secrets = (rule.resources ?? []).some((r) => r === "*" || r.startsWith("secrets"));
      const coreGroup = (rule.apiGroups ?? []).some((g) => g === "" || g === "*");
      if (!secrets || !coreGroup) continue;
      expect([source, rule.resourceNames, rule.verbs]).toEqual([source, ["herald-heartbeat"], ["get"]]);
      expect(source).toBe("Role/herald-speaker");
    }
  }
});

test("no rule writes Services; only their status", () => {
  for (const [, objects] of sets) {
    for (const { source, rule } of allRules(objects)) {
      const services = (rule.resources ?? []).some((r) => r === "services" || r === "*");
      const writes = rule.verbs.some((v) => WRITE_VERBS.includes(v));
      expect([source, services && writes]).toEqual([source, false]);
    }
  }
});

test("no wildcards in any rule", () => {
  for (const [, objects] of sets) {
    for (const { source, rule } of allRules(objects)) {
      const all = [...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...rule.verbs];
      expect([source, all.filter((x) => x.includes("*"))]).toEqual([source, []]);
    }
  }
});

test("the authorizer itself tells a name-limited grant from an open one", () => {
  // A sanity row on a made-up role: a wrong authorizer would make the checks above meaningless.
  const objects = render().concat([
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "extra", namespace: "herald-system" },
      roleRef: { kind: "ClusterRole", name: "view-secrets" },
      subjects: [{ kind: "ServiceAccount", name: CONTROLLER_SA, namespace: "herald-system" }],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "view-secrets" },
      rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }],
    },
  ]);
  const get = {
    serviceAccount: CONTROLLER_SA,
    verb: "get",
    group: "",
    resource: "secrets",
    allowed: true,
  } as const;
  expect(authorize(objects, { ...get, namespace: "herald-system", name: "anything" })).toBe(true);
  expect(authorize(objects, { ...get, namespace: "default", name: "anything" })).toBe(false);
});

test("checks turn into kubectl command lines a lab can run", () => {
  expect(
    kubectlCanIArgs({
      serviceAccount: SPEAKER_SA,
      verb: "get",
      group: "",
      resource: "secrets",
      name: "herald-heartbeat",
      namespace: "herald-system",
      allowed: true,
    }),
  ).toEqual([
    "auth",
    "can-i",
    "get",
    "secrets/herald-heartbeat",
    "-n",
    "herald-system",
    "--as=system:serviceaccount:herald-system:herald-speaker",
  ]);
  expect(
    kubectlCanIArgs({
      serviceAccount: CONTROLLER_SA,
      verb: "patch",
      group: "herald.dev",
      resource: "ipaddresspools",
      subresource: "status",
      allowed: true,
    }),
  ).toEqual([
    "auth",
    "can-i",
    "patch",
    "ipaddresspools.herald.dev",
    "--subresource=status",
    "--all-namespaces",
    "--as=system:serviceaccount:herald-system:herald-controller",
  ]);
});
