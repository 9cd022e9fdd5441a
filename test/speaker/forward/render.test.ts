import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, test } from "@jest/globals";
import { renderTable, renderUpdate } from "../../../src/speaker/forward/render.js";
import { buildRuleset } from "../../../src/speaker/forward/ruleset.js";
import { type ForwardingState, planForwarding } from "../../../src/speaker/forward/state.js";
import { manyServices, mixedState, service, state } from "./fixtures.js";

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

const cases: Array<[string, ForwardingState]> = [
  ["mixed.nft", mixedState()],
  ["empty.nft", state()],
];

describe("golden files", () => {
  test.each(cases)("%s", (name, s) => {
    const text = render(s);
    if (process.env.UPDATE_GOLDEN) writeFileSync(golden(name), text);
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

  test("one Service's endpoint change touches only that Service's chain", () => {
    const s = manyServices(50);
    const changed = s.services[7];
    if (!changed) throw new Error("fixture");
    changed.localEndpoints = ["198.51.100.250"];
    const text = renderUpdate(before, buildRuleset(planForwarding(s))) ?? "";
    const chain = `svc-${changed.addresses[0]}-tcp-${changed.ports[0]?.port}`;
    expect(
      text
        .split("\n")
        .filter(Boolean)
        .every((l) => l.includes(chain) || l.includes("hairpin-v4")),
    ).toBe(true);
    expect(text).toContain(`flush chain inet herald ${chain}`);
  });

  test("a removed Service is unreferenced before its chain is deleted", () => {
    const s = manyServices(50);
    s.services.splice(3, 1);
    const lines = (renderUpdate(before, buildRuleset(planForwarding(s))) ?? "").split("\n");
    const del = lines.findIndex((l) => l.startsWith("delete chain"));
    const unref = lines.findIndex((l) => l.startsWith("delete element inet herald frontends-v4"));
    expect(unref).toBeGreaterThanOrEqual(0);
    expect(del).toBeGreaterThan(unref);
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
