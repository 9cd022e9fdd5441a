// Journal framing: magic, payload length, CRC32 of the payload, payload.
// A record is trusted only if all four agree, so a torn write at the tail (or a
// damaged stretch in the middle) is found and skipped without losing the records
// around it. Pure: buffers in, buffers out.
import { crc32 } from "node:zlib";

const MAGIC = 0x48414a31; // "HAJ1"
export const FRAME_HEADER = 12;
/** A single record is far smaller; a larger length is damage, not data. */
export const MAX_PAYLOAD = 1 << 20;

export function encodeFrame(payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER + payload.length);
  frame.writeUInt32BE(MAGIC, 0);
  frame.writeUInt32BE(payload.length, 4);
  frame.writeUInt32BE(crc32(payload), 8);
  payload.copy(frame, FRAME_HEADER);
  return frame;
}

export interface SkippedRange {
  offset: number;
  bytes: number;
  /** True when the damage runs to the end of the buffer (a torn tail). */
  atTail: boolean;
}

export interface DecodedFrames {
  payloads: Buffer[];
  skipped: SkippedRange[];
  /** Bytes up to the end of the last good frame. */
  goodEnd: number;
}

function frameAt(buf: Buffer, offset: number): number {
  if (offset + FRAME_HEADER > buf.length) return -1;
  if (buf.readUInt32BE(offset) !== MAGIC) return -1;
  const length = buf.readUInt32BE(offset + 4);
  if (length > MAX_PAYLOAD || offset + FRAME_HEADER + length > buf.length) return -1;
  const payload = buf.subarray(offset + FRAME_HEADER, offset + FRAME_HEADER + length);
  return crc32(payload) === buf.readUInt32BE(offset + 8) ? length : -1;
}

/** Splits a journal segment into payloads, resynchronising on the next good frame after damage. */
export function decodeFrames(buf: Buffer): DecodedFrames {
  const payloads: Buffer[] = [];
  const skipped: SkippedRange[] = [];
  let offset = 0;
  let goodEnd = 0;
  while (offset < buf.length) {
    const length = frameAt(buf, offset);
    if (length >= 0) {
      payloads.push(buf.subarray(offset + FRAME_HEADER, offset + FRAME_HEADER + length));
      offset += FRAME_HEADER + length;
      goodEnd = offset;
      continue;
    }
    let next = buf.indexOf(MAGIC_BYTES, offset + 1);
    while (next >= 0 && frameAt(buf, next) < 0) next = buf.indexOf(MAGIC_BYTES, next + 1);
    const end = next < 0 ? buf.length : next;
    skipped.push({ offset, bytes: end - offset, atTail: next < 0 });
    offset = end;
  }
  return { payloads, skipped, goodEnd };
}

const MAGIC_BYTES = (() => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(MAGIC, 0);
  return b;
})();
