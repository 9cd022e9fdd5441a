// When speak fixtures on one LAN have settled, read from what they print: every speaker hears
// every other as live (a peer still settling or leaving is "left", a silent one "dead"), so
// their elections agree, and one of them owns the address.
import type { SpeakerProcess } from "./speaker-process.js";

/** The last view `s` printed of `peer` ("live", "dead", "left"), if any. */
export function peerView(s: SpeakerProcess, peer: string): string | undefined {
  for (let i = s.lines.length - 1; i >= 0; i--) {
    const m = /^peer (\S+) (\S+)$/.exec(s.lines[i] ?? "");
    if (m?.[1] === peer) return m[2];
  }
  return undefined;
}

/** Whether `s` owns `address` now, by its last owned/released line. */
export function owns(s: SpeakerProcess, address: string): boolean {
  const last = s.lines.findLast((l) => l === `owned ${address}` || l === `released ${address}`);
  return last === `owned ${address}`;
}

/** Every speaker (named by `names`, in order) hears every other as live, and exactly one owns `address`. */
export function agreed(speakers: SpeakerProcess[], names: string[], address: string): boolean {
  const hear = speakers.every((s, i) =>
    speakers.every((_, j) => i === j || peerView(s, names[j] ?? "") === "live"),
  );
  return hear && speakers.filter((s) => owns(s, address)).length === 1;
}
