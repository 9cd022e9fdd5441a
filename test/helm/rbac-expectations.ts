// What each component's ServiceAccount must and must not be allowed to do, as
// `kubectl auth can-i` checks. The unit tests evaluate them against the chart's
// rendered RBAC; a lab test runs them against a real API server after applying
// the rendered chart (`kubectlCanIArgs` gives the command line).

export const RELEASE_NAMESPACE = "herald-system";
export const CONTROLLER_SA = "herald-controller";
export const SPEAKER_SA = "herald-speaker";

export interface CanICheck {
  readonly serviceAccount: typeof CONTROLLER_SA | typeof SPEAKER_SA;
  readonly verb: string;
  /** API group; "" is the core group. */
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly name?: string;
  /** Absent for cluster-scoped resources (and for "in every namespace"). */
  readonly namespace?: string;
  readonly allowed: boolean;
}

const APP_NS = "default";
const HERALD = "herald.dev";
const LEASES = "coordination.k8s.io";
const AUTHN = "authentication.k8s.io";
const AUTHZ = "authorization.k8s.io";

type Row = [verb: string, group: string, resource: string, extra?: Partial<CanICheck>];

function rows(serviceAccount: CanICheck["serviceAccount"], allowed: boolean, list: Row[]): CanICheck[] {
  return list.map(([verb, group, resource, extra]) => ({
    serviceAccount,
    verb,
    group,
    resource,
    allowed,
    ...extra,
  }));
}

const inApp = { namespace: APP_NS };
const inRelease = { namespace: RELEASE_NAMESPACE };

export const CONTROLLER_CHECKS: readonly CanICheck[] = [
  ...rows(CONTROLLER_SA, true, [
    ["get", "", "services", inApp],
    ["list", "", "services"],
    ["watch", "", "services"],
    ["list", "", "namespaces"],
    ["watch", "", "namespaces"],
    ["patch", "", "services", { ...inApp, subresource: "status" }],
    ["update", "", "services", { ...inApp, subresource: "status" }],
    ["list", HERALD, "ipaddresspools"],
    ["watch", HERALD, "ipaddresspools"],
    ["patch", HERALD, "ipaddresspools", { subresource: "status" }],
    ["update", HERALD, "ipaddresspools", { subresource: "status" }],
    ["list", HERALD, "serviceannouncements"],
    ["watch", HERALD, "serviceannouncements"],
    ["create", "", "events", inApp],
    ["patch", "", "events", inApp],
    ["create", LEASES, "leases", inRelease],
    ["get", LEASES, "leases", { ...inRelease, name: "herald-controller" }],
    ["update", LEASES, "leases", { ...inRelease, name: "herald-controller" }],
    // /debug/state and /audit check their callers' tokens.
    ["create", AUTHN, "tokenreviews"],
    ["create", AUTHZ, "subjectaccessreviews"],
  ]),
  ...rows(CONTROLLER_SA, false, [
    ["get", HERALD, "controllers", { ...inRelease, subresource: "audit" }],
    ["get", HERALD, "speakers", { ...inRelease, subresource: "debug" }],
    ["update", "", "services", inApp],
    ["patch", "", "services", inApp],
    ["create", "", "services", inApp],
    ["delete", "", "services", inApp],
    ["get", "", "secrets", inRelease],
    ["list", "", "secrets", inApp],
    ["get", "", "secrets", { ...inRelease, name: "herald-heartbeat" }],
    ["create", HERALD, "ipaddresspools"],
    ["update", HERALD, "ipaddresspools"],
    ["delete", HERALD, "ipaddresspools"],
    ["create", HERALD, "serviceannouncements", inApp],
    ["update", HERALD, "serviceannouncements", inApp],
    ["list", HERALD, "l2advertisements"],
    ["update", "", "nodes"],
    ["list", "", "pods", inApp],
    ["get", "", "configmaps", inRelease],
    ["update", LEASES, "leases", { ...inRelease, name: "herald-speaker-node-a" }],
    ["delete", LEASES, "leases", { ...inRelease, name: "herald-controller" }],
    ["create", LEASES, "leases", { namespace: "kube-system" }],
  ]),
];

export const SPEAKER_CHECKS: readonly CanICheck[] = [
  ...rows(SPEAKER_SA, true, [
    ["get", "", "services", inApp],
    ["list", "", "services"],
    ["watch", "", "services"],
    ["list", "discovery.k8s.io", "endpointslices"],
    ["watch", "discovery.k8s.io", "endpointslices"],
    ["get", "", "nodes", { name: "node-a" }],
    ["list", "", "nodes"],
    ["watch", "", "nodes"],
    ["list", HERALD, "ipaddresspools"],
    ["list", HERALD, "l2advertisements"],
    ["watch", HERALD, "l2advertisements"],
    ["create", HERALD, "serviceannouncements", inApp],
    ["update", HERALD, "serviceannouncements", inApp],
    ["patch", HERALD, "serviceannouncements", inApp],
    ["delete", HERALD, "serviceannouncements", inApp],
    ["create", "", "events", inApp],
    ["patch", "", "events", inApp],
    ["get", "", "secrets", { ...inRelease, name: "herald-heartbeat" }],
    ["create", LEASES, "leases", inRelease],
    ["get", LEASES, "leases", { ...inRelease, name: "herald-speaker-node-a" }],
    ["update", LEASES, "leases", { ...inRelease, name: "herald-speaker-node-a" }],
    ["list", LEASES, "leases", inRelease],
    ["watch", LEASES, "leases", inRelease],
    ["create", AUTHN, "tokenreviews"],
    ["create", AUTHZ, "subjectaccessreviews"],
  ]),
  ...rows(SPEAKER_SA, false, [
    ["get", HERALD, "speakers", { ...inRelease, subresource: "audit" }],
    ["get", HERALD, "speakers", { ...inRelease, subresource: "debug" }],
    ["get", "", "secrets", { ...inRelease, name: "other" }],
    ["get", "", "secrets", inRelease],
    ["list", "", "secrets", inRelease],
    ["watch", "", "secrets", inRelease],
    ["update", "", "secrets", { ...inRelease, name: "herald-heartbeat" }],
    ["get", "", "secrets", { ...inApp, name: "herald-heartbeat" }],
    ["update", "", "services", inApp],
    ["patch", "", "services", inApp],
    ["patch", "", "services", { ...inApp, subresource: "status" }],
    ["delete", "", "services", inApp],
    ["update", "", "nodes", { name: "node-a" }],
    ["patch", HERALD, "ipaddresspools", { subresource: "status" }],
    ["create", HERALD, "ipaddresspools"],
    ["update", HERALD, "l2advertisements"],
    ["create", LEASES, "leases", { namespace: "kube-system" }],
    ["list", "", "pods", inApp],
  ]),
];

export const RBAC_CHECKS: readonly CanICheck[] = [...CONTROLLER_CHECKS, ...SPEAKER_CHECKS];

/** Arguments for `kubectl`; the answer is "yes" (exit 0) or "no" (exit 1). */
export function kubectlCanIArgs(check: CanICheck): string[] {
  const type = check.group === "" ? check.resource : `${check.resource}.${check.group}`;
  return [
    "auth",
    "can-i",
    check.verb,
    check.name === undefined ? type : `${type}/${check.name}`,
    ...(check.subresource === undefined ? [] : [`--subresource=${check.subresource}`]),
    ...(check.namespace === undefined ? ["--all-namespaces"] : ["-n", check.namespace]),
    `--as=system:serviceaccount:${RELEASE_NAMESPACE}:${check.serviceAccount}`,
  ];
}

export function describeCheck(check: CanICheck): string {
  return `${check.serviceAccount} ${check.allowed ? "may" : "may not"} ${kubectlCanIArgs(check).slice(2, -1).join(" ")}`;
}
