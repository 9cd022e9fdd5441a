import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { CliIo } from "../../src/cli/command.js";
import { runHerald } from "../../src/cli/herald.js";
import { scratchDirs } from "../scratch.js";

const scratch = scratchDirs("herald-validate");

async function validateText(text: string): Promise<{ code: number; out: string; err: string }> {
  const dir = scratch.make();
  const file = join(dir, "pools.yaml");
  await writeFile(file, text);
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => out.push(t), err: (t) => err.push(t) };
  const code = await runHerald(["validate", file], io);
  return { code, out: out.join("\n").replaceAll(file, "F"), err: err.join("\n").replaceAll(file, "F") };
}

test("the example pools validate and show ranges and sizes", async () => {
  const out: string[] = [];
  const code = await runHerald(["validate", "examples/pools.yaml"], {
    out: (t) => out.push(t),
    err: (t) => out.push(t),
  });
  expect(code).toBe(0);
  expect(out.join("\n")).toBe(
    [
      "examples/pools.yaml#1 IPAddressPool lan: valid (avoidBuggyIPs)",
      "  192.0.2.64/27       IPv4  32",
      "  2001:db8:0:1::/120  IPv6  256",
      "  usable: IPv4 32, IPv6 256",
      "examples/pools.yaml#2 IPAddressPool payments: valid (autoAssign=false, priority=10)",
      "  198.51.100.10-198.51.100.19  IPv4  10",
      "  usable: IPv4 10",
    ].join("\n"),
  );
});

test("errors carry the document and the field, and exit 1", async () => {
  const r = await validateText(`
kind: IPAddressPool
metadata: {name: a}
spec: {addresses: ["192.0.2.5/24", "192.0.2.20-192.0.2.10"]}
---
kind: ConfigMap
metadata: {name: other}
---
kind: IPAddressPool
metadata: {name: b}
spec: {addresses: ["198.51.100.0/24"]}
---
kind: IPAddressPool
metadata: {name: c}
spec: {addresses: ["198.51.100.128/25"]}
`);
  expect(r.code).toBe(1);
  expect(r.out).toContain("F#1 IPAddressPool a: INVALID (2 errors)");
  expect(r.out).toContain('spec.addresses[0]: "192.0.2.5/24" has host bits set; did you mean 192.0.2.0/24?');
  expect(r.out).toContain('spec.addresses[1]: "192.0.2.20-192.0.2.10" starts after it ends');
  expect(r.out).toContain("F#2: skipped (kind ConfigMap)");
  expect(r.out).toContain(
    "F#3 IPAddressPool b: INVALID (1 error)\n  spec.addresses: 198.51.100.0/24 overlaps 198.51.100.128/25 of pool c",
  );
  expect(r.out).toContain("F#4 IPAddressPool c: INVALID");
});

test("broken YAML and a missing file are errors, not crashes", async () => {
  const r = await validateText("kind: IPAddressPool\nspec: [unclosed\n");
  expect(r.code).toBe(1);
  expect(r.err).toContain("F#1: not valid YAML");
  const out: string[] = [];
  expect(
    await runHerald(["validate", "/nonexistent/pools.yaml"], {
      out: (t) => out.push(t),
      err: (t) => out.push(t),
    }),
  ).toBe(1);
  expect(out.join("")).toContain("/nonexistent/pools.yaml: cannot read: ENOENT");
});

test("a pool that lets namespaces share says so; a wrong value is an error of that field", async () => {
  const ok = await validateText(`
kind: IPAddressPool
metadata: {name: shared}
spec: {addresses: ["192.0.2.0/28"], allocation: {allowSharingAcrossNamespaces: true}}
`);
  expect(ok.code).toBe(0);
  expect(ok.out).toContain("F#1 IPAddressPool shared: valid (allowSharingAcrossNamespaces)");
  const bad = await validateText(`
kind: IPAddressPool
metadata: {name: shared}
spec: {addresses: ["192.0.2.0/28"], allocation: {allowSharingAcrossNamespaces: "yes"}}
`);
  expect(bad.code).toBe(1);
  expect(bad.out).toContain("spec.allocation.allowSharingAcrossNamespaces: must be true or false");
});
