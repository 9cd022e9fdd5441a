// Where the Kubernetes credentials come from: a kubeconfig file when one is
// named (flag or KUBECONFIG), else the Pod's service account.
import { KubeConfig } from "@kubernetes/client-node";

export function loadKubeConfig(file: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}
