import { type LabelSelector, matches } from "../../src/domain/selector.js";

const labels = { zone: "a", role: "edge" };

test.each<[string, LabelSelector, boolean]>([
  ["empty selector", {}, true],
  ["matching label", { matchLabels: { zone: "a" } }, true],
  ["other value", { matchLabels: { zone: "b" } }, false],
  ["missing label", { matchLabels: { rack: "1" } }, false],
  ["In", { matchExpressions: [{ key: "zone", operator: "In", values: ["a", "b"] }] }, true],
  ["In without the label", { matchExpressions: [{ key: "rack", operator: "In", values: ["1"] }] }, false],
  ["NotIn", { matchExpressions: [{ key: "zone", operator: "NotIn", values: ["a"] }] }, false],
  [
    "NotIn without the label",
    { matchExpressions: [{ key: "rack", operator: "NotIn", values: ["1"] }] },
    true,
  ],
  ["Exists", { matchExpressions: [{ key: "role", operator: "Exists" }] }, true],
  ["DoesNotExist", { matchExpressions: [{ key: "role", operator: "DoesNotExist" }] }, false],
  [
    "all must hold",
    { matchLabels: { zone: "a" }, matchExpressions: [{ key: "role", operator: "DoesNotExist" }] },
    false,
  ],
])("%s", (_name, selector, expected) => {
  expect(matches(selector, labels)).toBe(expected);
});
