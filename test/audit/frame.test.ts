import { decodeFrames, encodeFrame } from "../../src/audit/frame.js";

const payloads = ["first", "second", "third"].map((s) => Buffer.from(s));

test("frames round-trip", () => {
  const { payloads: out, skipped } = decodeFrames(Buffer.concat(payloads.map(encodeFrame)));
  expect(out.map(String)).toEqual(["first", "second", "third"]);
  expect(skipped).toEqual([]);
});

test.each([1, 5, 12, 14])("a tail torn %i bytes into the last frame is skipped, the rest kept", (cut) => {
  const whole = Buffer.concat(payloads.map(encodeFrame));
  const lastStart = whole.length - encodeFrame(payloads[2] as Buffer).length;
  const { payloads: out, skipped } = decodeFrames(whole.subarray(0, lastStart + cut));
  expect(out.map(String)).toEqual(["first", "second"]);
  expect(skipped).toEqual([{ offset: lastStart, bytes: cut, atTail: true }]);
});

test("a damaged frame in the middle is skipped and the frames after it are kept", () => {
  const frames = payloads.map(encodeFrame);
  const whole = Buffer.concat(frames);
  const secondStart = (frames[0] as Buffer).length;
  whole.writeUInt8(whole.readUInt8(secondStart + 13) ^ 0xff, secondStart + 13); // flips a payload byte: the checksum no longer holds
  const { payloads: out, skipped } = decodeFrames(whole);
  expect(out.map(String)).toEqual(["first", "third"]);
  expect(skipped).toEqual([{ offset: secondStart, bytes: (frames[1] as Buffer).length, atTail: false }]);
});
