// Jest runs the TypeScript sources as ES modules through SWC (no type checking here:
// `npm run typecheck` does that once for the whole tree, which is faster than per file).
//
// Three kinds of test, chosen with HERALD_TESTS:
//   unit (default)  test/**/*.test.ts        no root, no network, no clock
//   root            test/**/*.root.test.ts   root: network namespaces, nft, AF_PACKET
//   lab             test/**/*.lab.test.ts    root plus the lab's Kubernetes binaries
//   soak            test/**/*.soak.test.ts   whole soak runs (each starts its own lab)
const kind = process.env.HERALD_TESTS ?? "unit";
const patterns = {
  unit: ["**/*.test.ts", "!**/*.root.test.ts", "!**/*.lab.test.ts", "!**/*.soak.test.ts"],
  root: ["**/*.root.test.ts"],
  lab: ["**/*.lab.test.ts"],
  soak: ["**/*.soak.test.ts"],
};
if (!(kind in patterns)) throw new Error(`HERALD_TESTS must be one of ${Object.keys(patterns)}`);

export default {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: patterns[kind],
  extensionsToTreatAsEsm: [".ts"],
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  transform: {
    "^.+\\.ts$": [
      "@swc/jest",
      {
        jsc: { parser: { syntax: "typescript" }, target: "es2023" },
        module: { type: "es6" },
      },
    ],
  },
  // Root and lab tests own network namespaces and processes: one file at a time.
  ...(kind === "unit" ? {} : { maxWorkers: 1, testTimeout: 120_000 }),
};
