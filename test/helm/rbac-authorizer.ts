// Kubernetes RBAC's answer for a request, computed from rendered Roles,
// ClusterRoles and their bindings: enough to check the chart's grants without
// an API server (the lab checks the same list against a real one).
import type { CanICheck } from "./rbac-expectations.js";
import { RELEASE_NAMESPACE } from "./rbac-expectations.js";
import type { K8sObject } from "./render.js";

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}

interface Grant {
  readonly rules: PolicyRule[];
  /** undefined: everywhere (ClusterRoleBinding). */
  readonly namespace: string | undefined;
}

const matches = (list: string[] | undefined, value: string) =>
  list !== undefined && (list.includes(value) || list.includes("*"));

export function ruleAllows(rule: PolicyRule, check: Omit<CanICheck, "allowed" | "serviceAccount">): boolean {
  const resource =
    check.subresource === undefined ? check.resource : `${check.resource}/${check.subresource}`;
  if (
    !matches(rule.apiGroups, check.group) ||
    !matches(rule.resources, resource) ||
    !matches(rule.verbs, check.verb)
  ) {
    return false;
  }
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (check.name !== undefined && names.includes(check.name));
}

function grantsOf(objects: K8sObject[], serviceAccount: string): Grant[] {
  const roles = (kind: string, name: string, namespace?: string) =>
    objects.find(
      (o) =>
        o.kind === kind &&
        o.metadata.name === name &&
        (namespace === undefined || o.metadata.namespace === namespace),
    )?.rules ?? [];
  const boundTo = (binding: K8sObject) =>
    (binding.subjects ?? []).some(
      (s: { kind: string; name: string; namespace?: string }) =>
        s.kind === "ServiceAccount" && s.name === serviceAccount && s.namespace === RELEASE_NAMESPACE,
    );
  const grants: Grant[] = [];
  for (const b of objects) {
    if (b.kind === "ClusterRoleBinding" && boundTo(b)) {
      grants.push({ rules: roles("ClusterRole", b.roleRef.name), namespace: undefined });
    } else if (b.kind === "RoleBinding" && boundTo(b)) {
      const ns = b.metadata.namespace;
      const rules =
        b.roleRef.kind === "Role" ? roles("Role", b.roleRef.name, ns) : roles("ClusterRole", b.roleRef.name);
      grants.push({ rules, namespace: ns });
    }
  }
  return grants;
}

/** Whether RBAC lets the check's ServiceAccount do what the check asks. */
export function authorize(objects: K8sObject[], check: CanICheck): boolean {
  return grantsOf(objects, check.serviceAccount).some(
    (g) =>
      (g.namespace === undefined || g.namespace === check.namespace) &&
      g.rules.some((r) => ruleAllows(r, check)),
  );
}

/** Every rule of every Role and ClusterRole, with where it came from. */
export function allRules(objects: K8sObject[]): { source: string; rule: PolicyRule }[] {
  return objects
    .filter((o) => o.kind === "Role" || o.kind === "ClusterRole")
    .flatMap((o) =>
      (o.rules as PolicyRule[]).map((rule) => ({ source: `${o.kind}/${o.metadata.name}`, rule })),
    );
}
