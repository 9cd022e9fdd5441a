import { readFileSync } from "node:fs";
import { describe, expect, test } from "@jest/globals";
import { renderTable, renderUpdate } from "../../../src/speaker/forward/render.js";
import { buildRuleset } from "../../../src/speaker/forward/ruleset.js";
import { type ForwardingState, planForwarding } from "../../../src/speaker/forward/state.js";
import { goldenCases, manyServices, service, state } from "./fixtures.js";

const golden = (name: string) => new URL(`./golden/${name}`, import.meta.url);
const render = (s: ForwardingState) => renderTable(buildRuleset(planForwarding(s)));

/**
 * Order-insensitive form of a rendered table: objects in any order, set elements in any
 * order; rules keep their order (it matters).
 */
function normalize(text: string): string[] {
  const blocks: string[] = [];
  let current: string[] = [];
  let elements: string[] | null = null;
  for (const raw of text.split("\n")) {
    const line = raw.trim().replace(/,$/, "");
    if (line === "") continue;
    if (elements) {
      if (line === "}") {
        current.push(...elements.sort());
        elements = null;
      } else elements.push(line);
    } else if (line === "elements = {") elements = [];
    else if (/^(set|map|chain) /.test(line)) current = [line];
    else if (line === "}" && current.length > 0) {
      blocks.push(current.join("\n"));
      current = [];
    } else if (current.length > 0) current.push(line);
    else blocks.push(line);
  }
  return blocks.sort();
}

// The files are written by `npm run golden` (scripts/golden.ts), never by a test.
const cases = goldenCases();

describe("golden files", () => {
  test.each(cases)("%s", (name, s) => {
    const text = render(s);
    expect(normalize(text)).toEqual(normalize(readFileSync(golden(name), "utf8")));
  });

  test("the order of Services and endpoints in the input does not change the table", () => {
    const [, s] = cases[0] ?? ["", state()];
    const shuffled = state(
      ...[...s.services].reverse().map((x) => ({ ...x, localEndpoints: [...x.localEndpoints].reverse() })),
    );
    expect(render(shuffled)).toBe(render(s));
  });
});

test("the full table replaces any previous one in one transaction", () => {
  const lines = render(state()).split("\n");
  expect(lines.slice(0, 3)).toEqual([
    "table inet herald {}",
    "delete table inet herald",
    "table inet herald {",
  ]);
});

describe("incremental update", () => {
  const before = buildRuleset(planForwarding(manyServices(50)));

  test("nothing changed: nothing to send", () => {
    expect(renderUpdate(before, buildRuleset(planForwarding(manyServices(50))))).toBe("");
  });

  test("one Service's endpoint change is an element update of that Service only", () => {
    const s = manyServices(50);
    const changed = s.services[7];
    if (!changed) throw new Error("fixture");
    s.services[7] = { ...changed, localEndpoints: ["198.51.100.250"] };
    const text = renderUpdate(before, buildRuleset(planForwarding(s))) ?? "";
    const key = `${changed.addresses[0]} . ${changed.ports[0]?.protocol.toLowerCase()} . ${changed.ports[0]?.port}`;
    const lines = text.split("\n").filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.includes("element") && (l.includes(key) || l.includes("hairpin-v4")))).toBe(
      true,
    );
  });

  test("a removed Service with affinity is unreferenced before its chains and sets are deleted", () => {
    const sticky = (name: string, address: string) =>
      service({
        name,
        addresses: [address],
        sessionAffinity: { timeoutSeconds: 60 },
        localEndpoints: ["198.51.100.5"],
      });
    const from = buildRuleset(
      planForwarding(state(sticky("a/one", "192.0.2.10"), sticky("a/two", "192.0.2.11"))),
    );
    const lines = (
      renderUpdate(from, buildRuleset(planForwarding(state(sticky("a/one", "192.0.2.10"))))) ?? ""
    ).split("\n");
    const unref = lines.findIndex((l) =>
      l.startsWith("delete element inet herald frontends-v4 { 192.0.2.11"),
    );
    const flush = lines.findIndex((l) => l.startsWith("flush chain inet herald svc-192.0.2.11"));
    const delChain = lines.findIndex((l) => l.startsWith("delete chain inet herald svc-192.0.2.11"));
    const delSet = lines.findIndex((l) => l.startsWith("delete set inet herald aff-192.0.2.11"));
    expect(unref).toBeGreaterThanOrEqual(0);
    expect(flush).toBeGreaterThan(unref);
    expect(delChain).toBeGreaterThan(flush);
    expect(delSet).toBeGreaterThan(delChain);
  });

  test("a frontend with more targets than any preset spread chain needs the whole table", () => {
    const pods = (n: number) => Array.from({ length: n }, (_, i) => `198.51.100.${i + 1}`);
    const eight = buildRuleset(planForwarding(state(service({ localEndpoints: pods(8) }))));
    const nine = buildRuleset(planForwarding(state(service({ localEndpoints: pods(9) }))));
    expect(renderUpdate(eight, nine)).toBeNull();
    expect(renderUpdate(nine, eight)).toContain("delete chain inet herald spread-9");
  });

  test("a changed affinity timeout needs the whole table", () => {
    const a = buildRuleset(
      planForwarding(
        state(service({ sessionAffinity: { timeoutSeconds: 10 }, localEndpoints: ["198.51.100.5"] })),
      ),
    );
    const b = buildRuleset(
      planForwarding(
        state(service({ sessionAffinity: { timeoutSeconds: 20 }, localEndpoints: ["198.51.100.5"] })),
      ),
    );
    expect(renderUpdate(a, b)).toBeNull();
  });
});
