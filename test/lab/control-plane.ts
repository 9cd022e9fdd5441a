// Command lines and configuration of the lab's Kubernetes processes, as pure
// functions of file paths and addresses (v1.20 flags).
import { stringify } from "yaml";
import { API_PORT, LAN_V4, POD_CIDR, SERVICE_CIDR } from "./plan.js";

export interface ControlPlaneFiles {
  etcdDataDir: string;
  caCert: string;
  caKey: string;
  apiServerCert: string;
  apiServerKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  controllerManagerKubeconfig: string;
  flexVolumeDir: string;
}

const ETCD_CLIENT_URL = `http://${LAN_V4.gateway}:2379`;
const ETCD_PEER_URL = `http://${LAN_V4.gateway}:2380`;

export function etcdArgs(f: ControlPlaneFiles): string[] {
  return [
    "--name=lab",
    `--data-dir=${f.etcdDataDir}`,
    `--listen-client-urls=${ETCD_CLIENT_URL}`,
    `--advertise-client-urls=${ETCD_CLIENT_URL}`,
    `--listen-peer-urls=${ETCD_PEER_URL}`,
    `--initial-advertise-peer-urls=${ETCD_PEER_URL}`,
    `--initial-cluster=lab=${ETCD_PEER_URL}`,
    "--logger=zap",
    "--log-outputs=stderr",
  ];
}

export function apiServerArgs(f: ControlPlaneFiles): string[] {
  return [
    `--etcd-servers=${ETCD_CLIENT_URL}`,
    `--bind-address=${LAN_V4.gateway}`,
    `--advertise-address=${LAN_V4.gateway}`,
    `--secure-port=${API_PORT}`,
    "--insecure-port=0",
    `--tls-cert-file=${f.apiServerCert}`,
    `--tls-private-key-file=${f.apiServerKey}`,
    `--client-ca-file=${f.caCert}`,
    "--authorization-mode=Node,RBAC",
    "--anonymous-auth=false",
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    `--service-account-key-file=${f.serviceAccountPub}`,
    `--service-account-signing-key-file=${f.serviceAccountKey}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    "--allow-privileged=true",
    "--profiling=false",
    "--event-ttl=1h",
    "--v=1",
  ];
}

export function controllerManagerArgs(f: ControlPlaneFiles): string[] {
  return [
    `--kubeconfig=${f.controllerManagerKubeconfig}`,
    // No kubelets: nodeipam would want pod CIDRs, nodelifecycle would evict every Pod.
    "--controllers=*,-nodeipam,-nodelifecycle",
    "--leader-elect=false",
    "--port=0",
    "--secure-port=0",
    // One identity for all controllers (its certificate is in system:masters): per-controller
    // service accounts, as kubeadm runs it, add seconds to every start while each token is made.
    "--use-service-account-credentials=false",
    `--service-account-private-key-file=${f.serviceAccountKey}`,
    `--root-ca-file=${f.caCert}`,
    `--cluster-signing-cert-file=${f.caCert}`,
    `--cluster-signing-key-file=${f.caKey}`,
    "--concurrent-endpoint-syncs=5",
    // Otherwise it creates /usr/libexec/kubernetes/... on the machine.
    `--flex-volume-plugin-dir=${f.flexVolumeDir}`,
    "--v=1",
  ];
}

export interface KubeProxySpec {
  nodeName: string;
  nodeIp: string;
  kubeconfig: string;
}

/** KubeProxyConfiguration for iptables mode inside a node namespace. */
export function kubeProxyConfig(s: KubeProxySpec): string {
  return stringify({
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    mode: "iptables",
    hostnameOverride: s.nodeName,
    bindAddress: s.nodeIp,
    healthzBindAddress: `${s.nodeIp}:10256`,
    metricsBindAddress: `${s.nodeIp}:10249`,
    clusterCIDR: POD_CIDR,
    clientConnection: { kubeconfig: s.kubeconfig },
    // Zeros leave the conntrack table size and timeouts alone: they are global to
    // the machine, not to the node's namespace.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
    iptables: { minSyncPeriod: "0s", syncPeriod: "30s" },
  });
}
