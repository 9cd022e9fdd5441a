import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { KubeConfigError, loadKubeConfig } from "../../src/k8s/kubeconfig.js";
import { scratchDirs } from "../scratch.js";

const scratch = scratchDirs("herald-kc");

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
  const dir = scratch.make();
  writeFileSync(join(dir, "ca.crt"), "CA-PEM");
  writeFileSync(join(dir, "token"), "file-token\n");
  const file = join(dir, "config");
  writeFileSync(
    file,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      "current-context": "lab",
      contexts: [{ name: "lab", context: { cluster: "c", user: "u" } }],
      clusters: [
        {
          name: "c",
          cluster: { server: "https://192.0.2.1:6443/", "certificate-authority": "ca.crt", ...cluster },
        },
      ],
      users: [{ name: "u", user }],
    }),
  );
  return file;
}

test("client certificate from inline data, CA from a file next to the kubeconfig", () => {
  const file = kubeconfig({
    "client-certificate-data": Buffer.from("CERT").toString("base64"),
    "client-key-data": Buffer.from("KEY").toString("base64"),
  });
  const a = loadKubeConfig(file, {});
  expect(a.server).toBe("https://192.0.2.1:6443");
  expect(a.ca?.toString()).toBe("CA-PEM");
  expect(a.cert?.toString()).toBe("CERT");
  expect(a.key?.toString()).toBe("KEY");
  expect(a.token).toBeUndefined();
  expect(a.insecureSkipTLSVerify).toBe(false);
});

test("a token file is read on every call (rotated tokens)", () => {
  const a = loadKubeConfig(kubeconfig({ tokenFile: "token" }, { "insecure-skip-tls-verify": true }), {});
  expect(a.token?.()).toBe("file-token");
  expect(a.insecureSkipTLSVerify).toBe(true);
});

test("KUBECONFIG is used when no file is named; credential plugins are refused with a reason", () => {
  const file = kubeconfig({ exec: { command: "aws" } });
  expect(() => loadKubeConfig(undefined, { KUBECONFIG: file })).toThrow(/credential plugin/);
  expect(() => loadKubeConfig(undefined, {})).toThrow(KubeConfigError);
});

test("a context that names a missing cluster says so", () => {
  const dir = scratch.make();
  const file = join(dir, "config");
  writeFileSync(
    file,
    stringify({
      "current-context": "x",
      contexts: [{ name: "x", context: { cluster: "nope", user: "u" } }],
      clusters: [],
      users: [],
    }),
  );
  expect(() => loadKubeConfig(file, {})).toThrow('no cluster named "nope"');
});
