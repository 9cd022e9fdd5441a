// The user's guide names things the code defines: event reasons, chart values,
// CRD fields. These fail when the code grows a name the guide does not explain.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { REFUSAL_REASONS } from "../../src/domain/reasons.js";
import { SPEAKER_REFUSAL_REASONS } from "../../src/speaker/admission.js";

const install = readFileSync("docs/install.md", "utf8");
const migrating = readFileSync("docs/migrating-from-metallb.md", "utf8");

test("the troubleshooting table explains every refusal reason", () => {
  const rows = new Set([...install.matchAll(/^\| `([A-Za-z]+)` +\|/gm)].map((m) => m[1]));
  expect(REFUSAL_REASONS.filter((r) => !rows.has(r))).toEqual([]);
});

test("the troubleshooting tables explain every reason the speaker refuses a value for", () => {
  const rows = new Set([...install.matchAll(/^\| `([A-Za-z]+)` +\|/gm)].map((m) => m[1]));
  expect(SPEAKER_REFUSAL_REASONS.filter((r) => !rows.has(r))).toEqual([]);
});

test("every chart value the guide names exists in values.yaml", () => {
  const values = parse(readFileSync("helm/herald/values.yaml", "utf8"));
  const table = install.slice(
    install.indexOf("| value "),
    install.indexOf("\n\n", install.indexOf("| value ")),
  );
  const named = [...table.matchAll(/^\| `([a-zA-Z.]+)`(?:, `([a-zA-Z.]+)`)? +\|/gm)].flatMap((m) =>
    [m[1], m[2]].filter((x): x is string => x !== undefined),
  );
  expect(named.length).toBeGreaterThan(5);
  const missing = named.filter((path) => {
    let node = values;
    for (const key of path.split(".")) {
      if (node === null || typeof node !== "object" || !(key in node)) return true;
      node = node[key];
    }
    return false;
  });
  expect(missing).toEqual([]);
});

test("the MetalLB table covers every spec field of Herald's pools and L2Advertisements", () => {
  const specOf = (file: string) =>
    parse(readFileSync(`crds/${file}`, "utf8")).spec.versions[0].schema.openAPIV3Schema.properties.spec
      .properties;
  const pool = specOf("ipaddresspools.yaml");
  const fields = [
    ...Object.keys(pool)
      .filter((k) => k !== "allocation")
      .map((k) => `spec.${k}`),
    ...Object.keys(pool.allocation.properties).map((k) => `spec.allocation.${k}`),
    ...Object.keys(specOf("l2advertisements.yaml")).map((k) => `spec.${k}`),
  ];
  expect(fields.filter((f) => !migrating.includes(`\`${f}\``))).toEqual([]);
});
