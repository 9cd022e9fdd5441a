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
