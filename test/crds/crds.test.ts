// The CRDs are YAML the API server must accept; the lab applies them for real.
// Here: their names match the code, and the schema's address pattern lets
// through everything the parser accepts (the parser, not the schema, explains errors).
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { GROUP, POOL_KIND, POOL_PLURAL, VERSION } from "../../src/api/ipaddresspool.js";

const load = (file: string) => parse(readFileSync(`crds/${file}`, "utf8"));

test.each([
  ["ipaddresspools.yaml", POOL_KIND, POOL_PLURAL, "Cluster", "ipp"],
  ["l2advertisements.yaml", "L2Advertisement", "l2advertisements", "Cluster", "l2adv"],
  ["serviceannouncements.yaml", "ServiceAnnouncement", "serviceannouncements", "Namespaced", "sann"],
])("%s defines %s", (file, kind, plural, scope, short) => {
  const crd = load(file);
  expect(crd.metadata.name).toBe(`${plural}.${GROUP}`);
  expect(crd.spec).toMatchObject({ group: GROUP, scope, names: { kind, plural, shortNames: [short] } });
  expect(crd.spec.versions.map((v: { name: string }) => v.name)).toEqual([VERSION]);
});

test("kubectl get ipp shows addresses, assigned, available, valid, age", () => {
  const columns = load("ipaddresspools.yaml").spec.versions[0].additionalPrinterColumns;
  expect(columns.map((c: { name: string }) => c.name)).toEqual([
    "Addresses",
    "Assigned",
    "Available",
    "Valid",
    "Age",
  ]);
});

test("the schema's address pattern admits every spelling the parser accepts", () => {
  const crd = load("ipaddresspools.yaml");
  const pattern = new RegExp(
    crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.addresses.items.pattern,
  );
  for (const ok of [
    "192.0.2.0/28",
    " 192.0.2.0/28 ",
    "192.0.2.10-192.0.2.20",
    "192.0.2.10 - 192.0.2.20",
    "2001:db8::/64",
    "2001:db8::1",
    "192.0.2.7",
  ]) {
    expect(pattern.test(ok)).toBe(true);
  }
  for (const bad of ["hello", "192.0.2.0/28/1", ""]) expect(pattern.test(bad)).toBe(false);
});
