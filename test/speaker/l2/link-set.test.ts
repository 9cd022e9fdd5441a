import type { InterfaceInfo } from "../../../src/speaker/l2/interfaces.js";
import { anyLinkWorks, LinkSet } from "../../../src/speaker/l2/link-set.js";
import { FakeClock } from "../../clock.js";

const eth = (name: string, up = true): InterfaceInfo => ({
  name,
  loopback: false,
  hasMaster: false,
  podVeth: false,
  up,
  lowerUp: up,
});

test("the node works while any link works", () => {
  expect(anyLinkWorks([{ name: "eth0" }, { name: "eth1" }], new Set(["eth0"]))).toBe(true);
  expect(anyLinkWorks([{ name: "eth0" }], new Set(["eth0"]))).toBe(false);
  expect(anyLinkWorks([], new Set())).toBe(false);
});

test("a failed socket makes the node deaf at once and is reopened; a link down is let go", async () => {
  const clock = new FakeClock();
  let listed = [eth("eth0")];
  const errors = new Map<string, (e: Error) => void>();
  let opens = 0;
  const working: boolean[] = [];
  const set = new LinkSet<{ name: string; n: number }>({
    clock,
    list: async () => listed,
    open: (name, onError) => {
      errors.set(name, onError);
      return { name, n: ++opens };
    },
    close: () => {},
    onLinks: () => {},
    onWorking: (w) => working.push(w),
  });
  await set.start();
  expect(working).toEqual([true]);
  clock.advance(2000);
  errors.get("eth0")?.(new Error("ENETDOWN"));
  expect(working).toEqual([true, false]);
  await set.refresh();
  expect(set.current().map((l) => l.n)).toEqual([2]);
  expect(working).toEqual([true, false, true]);
  set.linkMessages([{ kind: "new", index: 2, name: "eth0", up: false, lowerUp: false }]);
  expect(working.at(-1)).toBe(false);
  listed = [eth("eth0", false)];
  await set.refresh();
  expect(set.current()).toEqual([]);
  set.stop();
});
