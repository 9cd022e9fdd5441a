import { parse } from "yaml";
import {
  apiServerArgs,
  type ControlPlaneFiles,
  controllerManagerArgs,
  kubeProxyConfig,
} from "./control-plane.js";

const files: ControlPlaneFiles = {
  etcdDataDir: "/run/etcd",
  caCert: "/run/ca.crt",
  caKey: "/run/ca.key",
  apiServerCert: "/run/api.crt",
  apiServerKey: "/run/api.key",
  serviceAccountKey: "/run/sa.key",
  serviceAccountPub: "/run/sa.pub",
  controllerManagerKubeconfig: "/run/kcm.kubeconfig",
  flexVolumeDir: "/run/flex",
};
const proxy = { nodeName: "node-1", nodeIp: "192.0.2.11", kubeconfig: "/run/proxy.kubeconfig" };
const GATE = "--feature-gates=IPv6DualStack=true";

test("single-stack by default: one IPv4 Service range, one pod range, no feature gate anywhere", () => {
  expect(apiServerArgs(files)).toContain("--service-cluster-ip-range=203.0.113.0/24");
  expect(apiServerArgs(files)).not.toContain(GATE);
  expect(controllerManagerArgs(files)).not.toContain(GATE);
  const config = parse(kubeProxyConfig(proxy));
  expect(config.clusterCIDR).toBe("198.51.100.0/25");
  expect(config.featureGates).toBeUndefined();
});

test("dual-stack: the gate on all three components, a Service and a pod range per family, IPv4 first", () => {
  const api = apiServerArgs(files, true);
  expect(api).toContain("--service-cluster-ip-range=203.0.113.0/24,2001:db8:20::/112");
  expect(api).toContain(GATE);
  expect(controllerManagerArgs(files, true)).toContain(GATE);
  const config = parse(kubeProxyConfig({ ...proxy, dualStack: true }));
  expect(config.clusterCIDR).toBe("198.51.100.0/25,2001:db8:10::/112");
  expect(config.featureGates).toEqual({ IPv6DualStack: true });
  expect(config.mode).toBe("iptables");
});
