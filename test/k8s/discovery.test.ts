import { supportsIPMode } from "../../src/k8s/discovery.js";

test.each([
  [{ major: "1", minor: "20" }, false],
  [{ major: "1", minor: "28" }, false],
  [{ major: "1", minor: "29" }, true],
  [{ major: "1", minor: "30+" }, true],
  [{ major: "2", minor: "0" }, true],
])("ipMode on %j: %s", (v, want) => expect(supportsIPMode(v)).toBe(want));
