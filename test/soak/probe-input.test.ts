import { MAX_TARGETS, parseAddressSet, parseTargetSet } from "./probe-input.js";

test("addresses come out canonical, by family, without duplicates", () => {
  expect(parseAddressSet('["203.0.113.5", "2001:DB8:ff:0::5", "2001:db8:ff::5"]')).toEqual({
    ok: true,
    value: [
      { address: "203.0.113.5", family: "IPv4" },
      { address: "2001:db8:ff::5", family: "IPv6" },
    ],
  });
  expect(parseAddressSet("[]")).toEqual({ ok: true, value: [] });
});

test.each([
  ["not JSON", "[", /not JSON/],
  ["not an array", '{"a":1}', /not a JSON array/],
  ["a bad address", '["203.0.113.5", "203.0.113.256"]', /203\.0\.113\.256/],
  ["a number", "[5]", /not an address/],
  ["too many", JSON.stringify(Array.from({ length: MAX_TARGETS + 1 }, () => "203.0.113.5")), /more than/],
])("an address line with %s is refused whole", (_, line, error) => {
  const r = parseAddressSet(line);
  expect(r.ok).toBe(false);
  if (!r.ok) expect(r.error).toMatch(error);
});

test("targets come out canonical and without duplicates", () => {
  expect(
    parseTargetSet(
      '[{"address":"2001:DB8:ff::5","port":80},{"address":"2001:db8:ff::5","port":80},{"address":"203.0.113.5","port":8080}]',
    ),
  ).toEqual({
    ok: true,
    value: [
      { address: "2001:db8:ff::5", port: 80 },
      { address: "203.0.113.5", port: 8080 },
    ],
  });
});

test.each([
  ["no port", '[{"address":"203.0.113.5"}]', /bad port/],
  ["port 0", '[{"address":"203.0.113.5","port":0}]', /bad port/],
  ["port 65536", '[{"address":"203.0.113.5","port":65536}]', /bad port/],
  ["a fractional port", '[{"address":"203.0.113.5","port":80.5}]', /bad port/],
  ["a host name", '[{"address":"example.com","port":80}]', /example\.com/],
  ["null", "[null]", /not a target/],
])("a target line with %s is refused whole", (_, line, error) => {
  const r = parseTargetSet(line);
  expect(r.ok).toBe(false);
  if (!r.ok) expect(r.error).toMatch(error);
});
