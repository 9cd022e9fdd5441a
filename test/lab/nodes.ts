// The Node objects of the lab and what a kubelet would write for them at registration.
import type { V1Lease, V1Node, V1NodeStatus } from "@kubernetes/client-node";

export const K8S_VERSION = "v1.20.2";

export function nodeManifest(name: string): V1Node {
  return {
    metadata: {
      name,
      labels: {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
      },
    },
  };
}

/** A Ready node with both its LAN addresses as InternalIP. */
export function readyNodeStatus(name: string, v4: string, v6: string, now: Date): V1NodeStatus {
  return {
    addresses: [
      { type: "InternalIP", address: v4 },
      { type: "InternalIP", address: v6 },
      { type: "Hostname", address: name },
    ],
    capacity: { cpu: "2", memory: "4Gi", pods: "110" },
    allocatable: { cpu: "2", memory: "4Gi", pods: "110" },
    conditions: [
      {
        type: "Ready",
        status: "True",
        reason: "KubeletReady",
        message: "lab node agent is posting ready status",
        lastHeartbeatTime: now,
        lastTransitionTime: now,
      },
    ],
    nodeInfo: {
      architecture: "amd64",
      bootID: "",
      containerRuntimeVersion: "lab://1",
      kernelVersion: "",
      kubeProxyVersion: K8S_VERSION,
      kubeletVersion: K8S_VERSION,
      machineID: "",
      operatingSystem: "linux",
      osImage: "herald lab",
      systemUUID: "",
    },
  };
}

/** The node's Lease in kube-node-lease, owned by the Node as a kubelet's is. */
export function nodeLease(name: string, nodeUid: string): V1Lease {
  return {
    metadata: {
      name,
      ownerReferences: [{ apiVersion: "v1", kind: "Node", name, uid: nodeUid }],
    },
    // renewTime is a MicroTime, which the client would send with milliseconds only;
    // the node agent sets it on its first heartbeat, right after this.
    spec: { holderIdentity: name, leaseDurationSeconds: 40 },
  };
}
