// The admission policy that keeps each speaker to its own node's Lease: when the chart renders it,
// and what its CEL decides, evaluated with a CEL interpreter on the requests the API server
// would hand it.
import { evaluate } from "@marcbachmann/cel-js";
import { BUILD_TIMEOUT_MS, find, type K8sObject, render } from "./render.js";

const SERVED = [
  "--api-versions",
  "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy,admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding",
];
const NAME = "herald-speaker-leases";
const NODE_NAME = "authentication.kubernetes.io/node-name";
const kinds = (objects: K8sObject[]) =>
  objects
    .filter((o) => o.kind.startsWith("ValidatingAdmissionPolicy"))
    .map((o) => `${o.kind}/${o.metadata.name}`);

let served: K8sObject[];
beforeAll(() => {
  served = render({ args: SERVED });
}, BUILD_TIMEOUT_MS);

test("rendered when the cluster serves ValidatingAdmissionPolicy v1, not on older clusters", () => {
  expect(kinds(served)).toEqual([
    `ValidatingAdmissionPolicy/${NAME}`,
    `ValidatingAdmissionPolicyBinding/${NAME}`,
  ]);
  expect(kinds(render())).toEqual([]);
  // admissionregistration.k8s.io/v1 alone (webhooks, since 1.16) is not enough.
  expect(kinds(render({ args: ["--api-versions", "admissionregistration.k8s.io/v1"] }))).toEqual([]);
});

test("speaker.leaseAdmissionPolicy: enabled renders it anyway, disabled never, anything else fails", () => {
  expect(kinds(render({ values: "speaker: {leaseAdmissionPolicy: enabled}\n" }))).toHaveLength(2);
  expect(kinds(render({ values: "speaker: {leaseAdmissionPolicy: disabled}\n", args: SERVED }))).toEqual([]);
  expect(() => render({ values: "speaker: {leaseAdmissionPolicy: yes}\n" })).toThrow(
    /leaseAdmissionPolicy must be auto, enabled or disabled/,
  );
});

test("the binding denies in the release namespace what the policy refuses", () => {
  const binding = find(served, "ValidatingAdmissionPolicyBinding", NAME);
  expect(binding.apiVersion).toBe("admissionregistration.k8s.io/v1");
  expect(binding.spec).toEqual({
    policyName: NAME,
    validationActions: ["Deny"],
    matchResources: {
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "herald-system" } },
    },
  });
  const policy = find(served, "ValidatingAdmissionPolicy", NAME).spec;
  expect(policy.failurePolicy).toBe("Fail");
  expect(policy.matchConstraints.resourceRules).toEqual([
    {
      apiGroups: ["coordination.k8s.io"],
      apiVersions: ["*"],
      operations: ["CREATE", "UPDATE"],
      resources: ["leases"],
    },
  ]);
});

type Json = Record<string, unknown>;

/** What the policy says to one Lease write: "skip" (not the speaker), "allow", or the first refusal. */
function decide(user: { username: string; extra?: Record<string, string[]> }, lease: Json): string {
  const policy = find(served, "ValidatingAdmissionPolicy", NAME).spec;
  const request = { userInfo: user, operation: "CREATE" };
  for (const c of policy.matchConditions) if (evaluate(c.expression, { request }) !== true) return "skip";
  const variables: Json = {};
  for (const v of policy.variables) variables[v.name] = evaluate(v.expression, { request, variables });
  for (const [i, v] of policy.validations.entries())
    if (evaluate(v.expression, { request, object: lease, variables }) !== true) return `refused by ${i}`;
  return "allow";
}

const speaker = (node?: string, extra: Record<string, string[]> = {}) => ({
  username: "system:serviceaccount:herald-system:herald-speaker",
  extra: node === undefined ? extra : { ...extra, [NODE_NAME]: [node] },
});
const lease = (name: string, holder?: string): Json => ({
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  metadata: { name, namespace: "herald-system" },
  spec: holder === undefined ? {} : { holderIdentity: holder, leaseDurationSeconds: 40 },
});

test.each([
  [
    "its own node's Lease, held by itself",
    speaker("node-a"),
    lease("herald-speaker-node-a", "node-a"),
    "allow",
  ],
  ["another node's Lease", speaker("node-a"), lease("herald-speaker-node-b", "node-b"), "refused by 1"],
  [
    "its own Lease, held by another node",
    speaker("node-a"),
    lease("herald-speaker-node-a", "node-b"),
    "refused by 1",
  ],
  ["its own Lease without a holder", speaker("node-a"), lease("herald-speaker-node-a"), "refused by 1"],
  [
    "its own Lease without a spec",
    speaker("node-a"),
    { metadata: { name: "herald-speaker-node-a" } },
    "refused by 1",
  ],
  [
    "a Lease named like a prefix of its own",
    speaker("node-a"),
    lease("herald-speaker-node-", "node-a"),
    "refused by 1",
  ],
  [
    "any Lease, from a token without a node name",
    speaker(),
    lease("herald-speaker-node-a", "node-a"),
    "refused by 0",
  ],
  [
    "any Lease, from a token without extra fields",
    { username: "system:serviceaccount:herald-system:herald-speaker" },
    lease("herald-speaker-node-a", "node-a"),
    "refused by 0",
  ],
  [
    "a token naming two nodes",
    speaker(undefined, { [NODE_NAME]: ["node-a", "node-b"] }),
    lease("herald-speaker-node-a", "node-a"),
    "refused by 0",
  ],
  [
    "the controller's own Lease, written by the controller",
    { username: "system:serviceaccount:herald-system:herald-controller" },
    lease("herald-controller", "herald-controller-abc"),
    "skip",
  ],
])("a speaker writing %s", (_what, user, object, want) => {
  expect(decide(user, object)).toBe(want);
});
