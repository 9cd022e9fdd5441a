// fast-check generators for link-layer test data.
import fc from "fast-check";
import { ipv4ToString, ipv6ToString, macToString } from "../../../src/speaker/l2/link-address.js";

export const unicastMac = fc
  .uint8Array({ minLength: 6, maxLength: 6 })
  .map((b) => macToString(Uint8Array.from([(b[0] ?? 0) & 0xfe, ...b.subarray(1)])));
export const ipv4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => ipv4ToString(b));
export const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => ipv6ToString(b));
export const unicastIpv6 = fc
  .uint8Array({ minLength: 16, maxLength: 16 })
  .filter((b) => b[0] !== 0xff)
  .map((b) => ipv6ToString(b));
