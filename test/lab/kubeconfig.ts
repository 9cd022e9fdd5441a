// Kubeconfig files for the lab's identities. Paths, not inline data, so a person
// can read the certificates next to them.
import { stringify } from "yaml";

export interface KubeconfigSpec {
  server: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  user: string;
}

export function renderKubeconfig(spec: KubeconfigSpec): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "lab", cluster: { server: spec.server, "certificate-authority": spec.caFile } }],
    users: [{ name: spec.user, user: { "client-certificate": spec.certFile, "client-key": spec.keyFile } }],
    contexts: [{ name: "lab", context: { cluster: "lab", user: spec.user } }],
    "current-context": "lab",
  });
}
