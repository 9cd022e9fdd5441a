// Writes the expected nftables tables of test/speaker/forward/golden from the renderer as it
// is now: run `npm run golden` after a deliberate change to rendering and review the diff.
// Tests only compare with these files; they never write them.
import { writeFileSync } from "node:fs";
import { renderTable } from "../src/speaker/forward/render.js";
import { buildRuleset } from "../src/speaker/forward/ruleset.js";
import { planForwarding } from "../src/speaker/forward/state.js";
import { goldenCases } from "../test/speaker/forward/fixtures.js";

const dir = new URL("../../test/speaker/forward/golden/", import.meta.url);
for (const [name, state] of goldenCases()) {
  const file = new URL(name, dir);
  writeFileSync(file, renderTable(buildRuleset(planForwarding(state))));
  console.log(`wrote ${file.pathname}`);
}
