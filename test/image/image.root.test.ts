// Herald's image, built from the Dockerfile by scripts/image.sh (buildah, no Docker engine), run
// under podman the way the chart runs it: read-only root, every capability dropped but the
// speaker's two, the controller as user 1000. A root test: the image store and podman need root.
// The build is cached (base and layers outside the repository); cold, it takes minutes.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "../controller/lab-controller.js";
import { tryExec } from "../lab/exec.js";
import { builtImage, MACHINE_ULIMITS, podmanArgs } from "../lab/podman.js";

let image = "";
let dir = "";

beforeAll(() => {
  image = builtImage();
  dir = mkdtempSync(join(tmpdir(), "herald-image-"));
}, 1_200_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** `podman run` with the chart's confinement; extra flags before the image, argv after it. */
function run(flags: string[], argv: string[]) {
  return tryExec(
    "podman",
    podmanArgs([
      "run",
      "--rm",
      "--pull",
      "never",
      "--read-only",
      "--cap-drop",
      "ALL",
      "--cap-add",
      "NET_RAW",
      "--cap-add",
      "NET_ADMIN",
      "--security-opt",
      "no-new-privileges",
      ...MACHINE_ULIMITS,
      ...flags,
      image,
      ...argv,
    ]),
    { timeoutMs: 60_000 },
  );
}

test("`herald --help` runs as the controller's user 1000, the image's default", async () => {
  const user = await tryExec(
    "podman",
    podmanArgs(["image", "inspect", "--format", "{{.Config.User}}", image]),
  );
  expect(user.stdout.trim()).toBe("1000");
  const r = await run(["--user", "1000:1000"], ["--help"]);
  expect(r.code).toBe(0);
  expect(`${r.stdout}${r.stderr}`).toMatch(/controller/);
  expect(`${r.stdout}${r.stderr}`).toMatch(/speaker/);
});

test("`herald validate` accepts the example pools and rejects an overlapping pair, in the image", async () => {
  const good = await run(
    ["--user", "1000:1000", "--volume", `${join(REPO, "examples")}:/examples:ro`],
    ["validate", "/examples/pools.yaml"],
  );
  expect(good.stderr).toBe("");
  expect(good.code).toBe(0);
  writeFileSync(
    join(dir, "bad.yaml"),
    ["a", "b"]
      .map((n) =>
        [
          "apiVersion: herald.dev/v1alpha1",
          "kind: IPAddressPool",
          `metadata: {name: ${n}}`,
          "spec: {addresses: [192.0.2.0/28]}",
        ].join("\n"),
      )
      .join("\n---\n"),
  );
  const bad = await run(["--user", "1000:1000", "--volume", `${dir}:/in:ro`], ["validate", "/in/bad.yaml"]);
  expect(bad.code).not.toBe(0);
});

test("the speaker's tools run as root with NET_RAW and NET_ADMIN only: nft, ip and chrt", async () => {
  const nft = await run(["--user", "0", "--entrypoint", "nft"], ["--version"]);
  expect(nft.code).toBe(0);
  expect(nft.stdout).toMatch(/^nftables v\d/);
  const ip = await run(["--user", "0", "--entrypoint", "ip"], ["-V"]);
  expect(ip.code).toBe(0);
  // chrt raises the event loop to real-time priority (--realtime-priority).
  const chrt = await run(["--user", "0", "--entrypoint", "chrt"], ["--version"]);
  expect(chrt.code).toBe(0);
  expect(chrt.stdout).toMatch(/util-linux/);
  // The read-only root holds: nothing can be written outside the mounted volumes.
  const write = await run(["--user", "0", "--entrypoint", "sh"], ["-c", "touch /app/x"]);
  expect(write.code).not.toBe(0);
});
