import type { ForwardedService, ForwardingState } from "../../../src/speaker/forward/state.js";

/** A Service as the wiring would hand it over; each test states only what it varies. */
export function service(over: Partial<ForwardedService> = {}): ForwardedService {
  return {
    name: "default/web",
    addresses: ["192.0.2.10"],
    ports: [{ protocol: "TCP", port: 80, nodePort: 30080, targetPort: 8080 }],
    externalTrafficPolicy: "Cluster",
    sessionAffinity: null,
    loadBalancerSourceRanges: [],
    remoteNodes: [],
    localEndpoints: [],
    ...over,
  };
}

export function state(...services: ForwardedService[]): ForwardingState {
  return { services };
}

/** n Services, one address and port each, two local endpoints and two remote nodes. */
export function manyServices(n: number): ForwardingState {
  const services: ForwardedService[] = [];
  for (let i = 0; i < n; i++) {
    services.push(
      service({
        name: `ns${i % 50}/svc${i}`,
        addresses: [`203.0.113.${(i % 250) + 1}`],
        ports: [
          {
            protocol: i % 5 === 0 ? "UDP" : "TCP",
            port: 1000 + (i % 60_000),
            nodePort: 30000 + (i % 2700),
            targetPort: 8080,
          },
        ],
        localEndpoints: [`198.51.100.${(i % 200) + 1}`],
        remoteNodes: ["192.0.2.12", "192.0.2.13"],
      }),
    );
  }
  return { services };
}

/** Both families, both protocols, both policies, affinity, source ranges, a Service without endpoints. */
export function mixedState(): ForwardingState {
  return state(
    service({
      addresses: ["192.0.2.10", "2001:db8::10"],
      ports: [
        { protocol: "TCP", port: 80, nodePort: 30080, targetPort: 8080 },
        { protocol: "UDP", port: 80, nodePort: 30081, targetPort: 8081 },
      ],
      loadBalancerSourceRanges: ["203.0.113.0/25", "2001:db8:1::/48"],
      remoteNodes: ["192.0.2.12", "2001:db8::12"],
      localEndpoints: ["198.51.100.5", "2001:db8:2::5"],
    }),
    service({
      name: "default/sticky",
      addresses: ["192.0.2.11"],
      ports: [{ protocol: "TCP", port: 443, nodePort: 30443, targetPort: 8443 }],
      externalTrafficPolicy: "Local",
      sessionAffinity: { timeoutSeconds: 600 },
      remoteNodes: ["192.0.2.12"],
      localEndpoints: ["198.51.100.6", "198.51.100.5"],
    }),
    service({ name: "default/empty", addresses: ["192.0.2.13"] }),
  );
}

/** The states whose rendering test/speaker/forward/golden holds, by file name. */
export function goldenCases(): Array<[string, ForwardingState]> {
  return [
    ["mixed.nft", mixedState()],
    ["empty.nft", state()],
    [
      "handover.nft",
      {
        ...mixedState(),
        handover: {
          routes: [
            { address: "192.0.2.20", via: "192.0.2.12", ports: [80, 443] },
            { address: "2001:db8::20", via: "2001:db8::12", ports: [80] },
          ],
          moved: ["192.0.2.30"],
          nodeMacs: ["aa:bb:cc:00:00:01", "aa:bb:cc:00:00:02"],
        },
      },
    ],
  ];
}
