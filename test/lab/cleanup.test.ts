import { mountsUnder } from "./cleanup.js";

test("the mounts a run left in its directory are found, deepest first, and no others", () => {
  const mounts = [
    "proc /proc proc rw 0 0",
    "tmpfs /tmp/herald-lab/hlab1/audit-node-1 tmpfs rw,size=32768k 0 0",
    "tmpfs /tmp/herald-lab/hlab1 tmpfs rw 0 0",
    "tmpfs /tmp/herald-lab/hlab1/audit\\040dir tmpfs rw 0 0",
    "tmpfs /tmp/herald-lab/hlab10/audit-node-1 tmpfs rw 0 0",
  ].join("\n");
  expect(mountsUnder("/tmp/herald-lab/hlab1", mounts)).toEqual([
    "/tmp/herald-lab/hlab1/audit-node-1",
    "/tmp/herald-lab/hlab1/audit dir",
    "/tmp/herald-lab/hlab1",
  ]);
});
