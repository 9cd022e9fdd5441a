// The flags of `herald controller` and `herald speaker`: command line first, then the
// environment, then the default; anything the parser cannot place is an error naming it.
import { FlagError, flagHelp, helpRequested, parseFlags, portFlag } from "../../src/cli/flags.js";

const SPEC = {
  "node-name": { env: "NODE_NAME", help: "this node's name" },
  "http-port": { default: "7473", help: "port" },
  "log-level": { env: "HERALD_LOG_LEVEL", default: "info", help: "pino log level" },
};

test.each([
  ["defaults", [], {}, { "node-name": undefined, "http-port": "7473", "log-level": "info" }],
  [
    "--name value",
    ["--http-port", "80"],
    {},
    { "node-name": undefined, "http-port": "80", "log-level": "info" },
  ],
  ["--name=value", ["--node-name=n1"], {}, { "node-name": "n1", "http-port": "7473", "log-level": "info" }],
  [
    "a value with = in it",
    ["--node-name=a=b"],
    {},
    { "node-name": "a=b", "http-port": "7473", "log-level": "info" },
  ],
  ["an empty value", ["--node-name="], {}, { "node-name": "", "http-port": "7473", "log-level": "info" }],
  [
    "a value that starts with - after =",
    ["--log-level=-1"],
    {},
    { "node-name": undefined, "http-port": "7473", "log-level": "-1" },
  ],
  [
    "the environment over the default",
    [],
    { HERALD_LOG_LEVEL: "debug" },
    { "node-name": undefined, "http-port": "7473", "log-level": "debug" },
  ],
  [
    "the flag over the environment",
    ["--log-level", "warn"],
    { HERALD_LOG_LEVEL: "debug" },
    { "node-name": undefined, "http-port": "7473", "log-level": "warn" },
  ],
  [
    "the last of a repeated flag",
    ["--http-port", "1", "--http-port", "2"],
    {},
    { "node-name": undefined, "http-port": "2", "log-level": "info" },
  ],
  ["-- ends the flags", ["--"], {}, { "node-name": undefined, "http-port": "7473", "log-level": "info" }],
])("%s", (_what, argv, env, expected) => {
  expect(parseFlags(argv, SPEC, env)).toEqual(expected);
});

test.each([
  ["an unknown flag", ["--bogus", "1"], "unknown flag --bogus"],
  ["an unknown flag with a value", ["--bogus=1"], "unknown flag --bogus"],
  ["a short flag", ["-p", "80"], "unknown flag -p"],
  ["a prototype name", ["--constructor", "x"], "unknown flag --constructor"],
  ["a stray argument", ["80"], 'unexpected argument "80"'],
  ["an argument after --", ["--", "x"], 'unexpected argument "x"'],
  ["a missing value", ["--http-port"], "--http-port needs a value"],
  ["a flag where the value belongs", ["--node-name", "--http-port", "80"], "--node-name needs a value"],
])("%s is an error that names it", (_what, argv, message) => {
  expect(() => parseFlags(argv, SPEC, {})).toThrow(FlagError);
  expect(() => parseFlags(argv, SPEC, {})).toThrow(message);
});

test.each(["", " 80", "0x50", "1e3", "80.0", "-1", "65536", "123456"])("port %j is refused", (value) => {
  expect(() => portFlag("http-port", value)).toThrow(`--http-port must be a port number, got "${value}"`);
});

test.each([
  ["0", 0],
  ["7473", 7473],
  ["65535", 65535],
])("port %j is %d", (value, port) => {
  expect(portFlag("http-port", value)).toBe(port);
});

test("help lists every flag with its environment variable and default, and -h", () => {
  const help = flagHelp(SPEC);
  expect(help).toContain("--node-name");
  expect(help).toMatch(/--log-level .*pino log level \(env HERALD_LOG_LEVEL, default info\)/);
  expect(help).toMatch(/--http-port .*port \(default 7473\)/);
  expect(help).toMatch(/-h, --help/);
});

test.each([
  [["--help"], true],
  [["-h"], true],
  [["--http-port", "80", "-h"], true],
  [["--", "--help"], false],
  [["--helpful"], false],
  [[], false],
])("help requested in %j: %s", (argv, expected) => {
  expect(helpRequested(argv)).toBe(expected);
});
