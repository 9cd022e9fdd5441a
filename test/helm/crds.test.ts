// The chart ships the CRDs from the top-level crds/ directory (helm/herald/crds
// links to it), so there is one source of truth. This fails when the chart's
// copy drifts: a link replaced by stale files, a file missing or extra.
import { readdirSync, readFileSync } from "node:fs";
import { BUILD_TIMEOUT_MS, render } from "./render.js";

const yamlIn = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort();

test("the chart's CRDs are exactly those in crds/", () => {
  expect(yamlIn("helm/herald/crds")).toEqual(yamlIn("crds"));
  for (const file of yamlIn("crds")) {
    expect([file, readFileSync(`helm/herald/crds/${file}`, "utf8")]).toEqual([
      file,
      readFileSync(`crds/${file}`, "utf8"),
    ]);
  }
});

test(
  "helm's crds/ step installs all three CRDs before the templates",
  () => {
    const objects = render({
      crds: true,
      values: "pools: [{name: lan, spec: {addresses: [192.0.2.64/27]}}]\n",
    });
    const crds = objects.filter((o) => o.kind === "CustomResourceDefinition").map((o) => o.metadata.name);
    expect(crds).toEqual([
      "ipaddresspools.herald.dev",
      "l2advertisements.herald.dev",
      "serviceannouncements.herald.dev",
    ]);
    const firstOther = objects.findIndex((o) => o.kind !== "CustomResourceDefinition");
    expect(firstOther).toBe(crds.length);
    // Custom resources come after everything they might need.
    expect(objects.at(-1)?.kind).toBe("IPAddressPool");
  },
  BUILD_TIMEOUT_MS,
);
