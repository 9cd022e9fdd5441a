// `helm lint --strict` on the chart, with the default values and with every option on: what a
// chart repository's CI runs before publishing. A warning fails it, as an error does. (helm 4's lint
// logs a template's `fail` and goes on: values the chart refuses are chart.test.ts's to check.)

import { CHART } from "./helm-tool.js";
import { ALL_ON, BUILD_TIMEOUT_MS, helm, renderRaw } from "./render.js";

const lint = (args: string[] = []) => helm(["lint", "--strict", CHART, ...args]);

test.each([
  ["the default values", [] as string[]],
  ["every option on", ["-f", ALL_ON]],
])(
  "passes helm lint --strict with %s",
  (_name, args) => {
    expect(lint(args)).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  },
  BUILD_TIMEOUT_MS,
);

test("refuses Kubernetes older than 1.20, the oldest the chart supports", () => {
  expect(() => renderRaw(["--kube-version", "1.19.16"])).toThrow(
    /kubeVersion: >=1.20.0-0 which is incompatible/,
  );
  expect(renderRaw(["--kube-version", "1.20.2"])).toContain("kind: DaemonSet");
});
