// The Pod objects of the lab and the status a kubelet would write for them.
import type { V1Pod, V1PodCondition, V1PodStatus } from "@kubernetes/client-node";

export interface PodSpecInput {
  name: string;
  namespace: string;
  node: string;
  labels: Record<string, string>;
  httpPort: number;
  udpPort: number;
}

export const ECHO_IMAGE = "herald.dev/lab-echo:v1";

export function podManifest(p: PodSpecInput): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: p.name, namespace: p.namespace, labels: p.labels },
    spec: {
      nodeName: p.node,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 0,
      containers: [
        {
          name: "echo",
          image: ECHO_IMAGE,
          ports: [
            { name: "http", containerPort: p.httpPort, protocol: "TCP" },
            { name: "udp", containerPort: p.udpPort, protocol: "UDP" },
          ],
        },
      ],
    },
  };
}

/** The status of a Pod whose container runs, Ready or not; a dual-stack Pod lists both addresses, IPv4 first. */
export function runningStatus(input: {
  podIp: string;
  podIpV6?: string;
  hostIp: string;
  ready: boolean;
  startedAt: Date;
  now: Date;
}): V1PodStatus {
  const readyState = input.ready ? "True" : "False";
  const condition = (type: string, status: string): V1PodCondition => ({
    type,
    status,
    lastTransitionTime: input.now,
  });
  return {
    phase: "Running",
    podIP: input.podIp,
    podIPs: [{ ip: input.podIp }, ...(input.podIpV6 ? [{ ip: input.podIpV6 }] : [])],
    hostIP: input.hostIp,
    startTime: input.startedAt,
    conditions: [
      condition("Initialized", "True"),
      condition("Ready", readyState),
      condition("ContainersReady", readyState),
      condition("PodScheduled", "True"),
    ],
    containerStatuses: [
      {
        name: "echo",
        image: ECHO_IMAGE,
        imageID: "",
        ready: input.ready,
        restartCount: 0,
        started: true,
        state: { running: { startedAt: input.startedAt } },
      },
    ],
  };
}
