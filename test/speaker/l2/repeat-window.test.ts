import { RepeatWindow } from "../../../src/speaker/l2/repeat-window.js";

test("a key passes once per window", () => {
  const w = new RepeatWindow(250, 10);
  expect([0, 100, 249, 250, 300, 500].map((t) => w.first("a", t))).toEqual([
    true,
    false,
    false,
    true,
    false,
    true,
  ]);
  expect(w.refused).toBe(3);
});

test("distinct keys fill the table up to its bound; expired ones make room again", () => {
  const w = new RepeatWindow(250, 10);
  for (let i = 0; i < 100; i++) w.first(`k${i}`, 0);
  expect(w.size).toBe(10);
  expect(w.refused).toBe(90);
  expect(w.first("late", 250)).toBe(true);
  expect(w.size).toBe(1);
});
