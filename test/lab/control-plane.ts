// Command lines and configuration of the lab's Kubernetes processes, as pure
// functions of file paths and addresses (v1.20 flags).
import { stringify } from "yaml";
import { API_PORT, LAN_V4, POD_CIDR, POD_CIDR_V6, SERVICE_CIDR, SERVICE_CIDR_V6 } from "./plan.js";

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

/** Kubernetes 1.20 serves the dual-stack API only with this gate, on every component. */
export const DUAL_STACK_GATE = "--feature-gates=IPv6DualStack=true";

/** The Service ranges, IPv4 first (the `kubernetes` Service stays IPv4). */
export function serviceRanges(dualStack: boolean): string {
  return dualStack ? `${SERVICE_CIDR},${SERVICE_CIDR_V6}` : SERVICE_CIDR;
}

/** The pod ranges, IPv4 first. */
export function podRanges(dualStack: boolean): string {
  return dualStack ? `${POD_CIDR},${POD_CIDR_V6}` : POD_CIDR;
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

export function apiServerArgs(f: ControlPlaneFiles, dualStack = false): string[] {
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
    `--service-cluster-ip-range=${serviceRanges(dualStack)}`,
    `--service-account-key-file=${f.serviceAccountPub}`,
    `--service-account-signing-key-file=${f.serviceAccountKey}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    "--allow-privileged=true",
    "--profiling=false",
    "--event-ttl=1h",
    "--v=1",
    ...(dualStack ? [DUAL_STACK_GATE] : []),
  ];
}

export function controllerManagerArgs(f: ControlPlaneFiles, dualStack = false): string[] {
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
    ...(dualStack ? [DUAL_STACK_GATE] : []),
  ];
}

export interface KubeProxySpec {
  nodeName: string;
  nodeIp: string;
  kubeconfig: string;
  /** Program both families (iptables and ip6tables); default IPv4 only. */
  dualStack?: boolean;
}

/**
 * KubeProxyConfiguration for iptables mode inside a node namespace. Dual-stack, kube-proxy 1.20
 * runs one iptables proxier per family; the IPv6 one takes its family's part of clusterCIDR.
 */
export function kubeProxyConfig(s: KubeProxySpec): string {
  return stringify({
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    mode: "iptables",
    hostnameOverride: s.nodeName,
    bindAddress: s.nodeIp,
    healthzBindAddress: `${s.nodeIp}:10256`,
    metricsBindAddress: `${s.nodeIp}:10249`,
    clusterCIDR: podRanges(s.dualStack === true),
    clientConnection: { kubeconfig: s.kubeconfig },
    // Zeros leave the conntrack table size and timeouts alone: they are global to
    // the machine, not to the node's namespace.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
    iptables: { minSyncPeriod: "0s", syncPeriod: "30s" },
    ...(s.dualStack ? { featureGates: { IPv6DualStack: true } } : {}),
  });
}
