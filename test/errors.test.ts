import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AuditError } from "../src/audit/errors.js";
import { FlagError } from "../src/cli/flags.js";
import { ERRORS, HeraldError, isRetryable } from "../src/errors.js";
import { KubeConfigError } from "../src/k8s/kubeconfig.js";
import { KubeError } from "../src/k8s/rest.js";
import { KubeOverloadError } from "../src/k8s/throttle.js";
import { CodecError } from "../src/speaker/l2/ethernet.js";
import { HeartbeatError } from "../src/speaker/l2/heartbeat.js";

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

test("every error code in the sources is in the registry (environment variables aside)", () => {
  const used = new Set<string>();
  for (const file of sources("src")) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/(env:\s*)?"(HERALD_[A-Z0-9_]+)"/g)) if (!m[1]) used.add(m[2] ?? "");
  }
  const missing = [...used].filter((c) => !(c in ERRORS));
  expect(missing).toEqual([]);
});

test("the error classes take their codes from the registry", () => {
  const errors = [
    new KubeError(500, "InternalError", "x"),
    new KubeOverloadError("x"),
    new KubeConfigError("x"),
    new FlagError("x"),
    new AuditError("HERALD_AUDIT_BAD_QUERY", "x"),
    new CodecError("x"),
    new HeartbeatError("x"),
  ];
  for (const e of errors) {
    expect(e).toBeInstanceOf(HeraldError);
    expect(e.spec).toBe(ERRORS[e.code]);
  }
  expect(new FlagError("bad").message).toBe("bad");
  expect(new AuditError("HERALD_AUDIT_BAD_FILE", "x", new Error("under")).cause).toBeInstanceOf(Error);
});

test.each([
  [new KubeError(409, "Conflict", ""), true],
  [new KubeError(429, "TooManyRequests", ""), true],
  [new KubeError(503, "ServiceUnavailable", ""), true],
  [new KubeError(400, "BadRequest", ""), false],
  [new KubeError(403, "Forbidden", ""), false],
  [new KubeError(422, "Invalid", ""), false],
  [new KubeOverloadError("queue full"), true],
  [new FlagError("--x"), false],
  [Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }), true],
  [new Error("timed out after 30000 ms"), true],
])("%s retryable: %s", (error, retryable) => {
  expect(isRetryable(error)).toBe(retryable);
});
