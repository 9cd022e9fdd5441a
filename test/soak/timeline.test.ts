import { describe, expect, test } from "@jest/globals";
import type { SoakRecord, Verdict } from "./model.js";
import { renderTimeline } from "./timeline.js";
import { emptyRecord, longRun } from "./timeline-fixtures.js";
import { bucketMsFor, LANE_LIMIT } from "./timeline-lanes.js";
import { COLOURS, FAULT_COLOURS, nodeColour, tickStepMs } from "./timeline-style.js";
import { findAll, parseXml, tooltip, visibleText, type XmlElement } from "./xml-tree.js";

const MAC1 = "02:00:00:00:00:01";
const MAC2 = "02:00:00:00:00:02";
const FOREIGN = "02:ff:00:00:00:99";

function draw(record: SoakRecord, verdicts: Verdict[] = [], title = "soak seed 7, 20 s"): XmlElement {
  return parseXml(renderTimeline(record, verdicts, title));
}

/** Time to x as the reader does it: from the axis labels "0:00" and the last one. */
function axisX(svg: XmlElement): (ms: number) => number {
  const labels = findAll(svg, (e) => e.attrs.class === "axis")[0]?.children ?? [];
  const at = (e: XmlElement | undefined): [number, number] => {
    const [m, s] = visibleText(e as XmlElement)
      .split(":")
      .map(Number);
    return [((m as number) * 60 + (s as number)) * 1000, Number(e?.attrs.x)];
  };
  const [t0, x0] = at(labels[0]);
  const [t1, x1] = at(labels[labels.length - 1]);
  expect(t0).toBe(0);
  return (ms) => x0 + ((x1 - x0) * ms) / t1;
}

function lanes(svg: XmlElement): XmlElement[] {
  return findAll(svg, (e) => e.attrs.class === "lane");
}

function lane(svg: XmlElement, address: string): XmlElement {
  const l = lanes(svg).find((e) => e.attrs["data-address"] === address);
  if (l === undefined) throw new Error(`no lane for ${address}`);
  return l;
}

/** The rects of a lane's strip ("arp" or "requests") that cover time `ms`. */
function at(svg: XmlElement, address: string, strip: string, ms: number): XmlElement[] {
  const x = axisX(svg)(ms);
  const g = lane(svg, address).children.find((e) => e.attrs.class === strip) as XmlElement;
  return g.children.filter((r) => Number(r.attrs.x) <= x && x < Number(r.attrs.x) + Number(r.attrs.width));
}

/** A record of 20 s: two addresses answered over time, sightings every 100 ms in [from, to). */
function answered(address: string, mac: string, from: number, to: number, r: SoakRecord): void {
  for (let t = from; t < to; t += 100) r.wire.push({ t, address, mac, kind: "arp-reply" });
}

describe("the timeline of a soak run", () => {
  test("one lane per address, IPv4 before IPv6, each sorted numerically, all ports in one lane", () => {
    const r = emptyRecord(20_000);
    answered("2001:db8::10", MAC1, 0, 1000, r);
    answered("198.51.100.2", MAC1, 0, 1000, r);
    answered("192.0.2.10", MAC1, 0, 1000, r);
    const probe = (address: string, port: number) =>
      r.probes.push({
        address,
        port,
        fromMs: 0,
        toMs: 1000,
        probes: 1,
        ok: 1,
        okPerSecond: [1],
        failedPerSecond: [0],
      });
    probe("2001:db8::9", 80);
    probe("192.0.2.9", 80);
    probe("192.0.2.10", 80);
    probe("192.0.2.10", 443);
    const order = lanes(draw(r)).map((l) => l.attrs["data-address"]);
    expect(order).toEqual(["192.0.2.9", "192.0.2.10", "198.51.100.2", "2001:db8::9", "2001:db8::10"]);
    // Lanes are stacked downwards in that order.
    const tops = lanes(draw(r)).map((l) => Number(l.attrs["data-top"]));
    expect([...tops].sort((a, b) => a - b)).toEqual(tops);
  });

  test("ARP strip: node colours as in the legend, black where two MACs answered, red for a foreign MAC, blank when silent", () => {
    const r = emptyRecord(20_000);
    answered("192.0.2.1", MAC1, 0, 5000, r);
    answered("192.0.2.1", MAC2, 5000, 10_000, r);
    r.wire.push({ t: 5010, address: "192.0.2.1", mac: MAC1, kind: "arp-reply" });
    r.wire.push({ t: 15_000, address: "192.0.2.1", mac: FOREIGN, kind: "arp-gratuitous" });
    const svg = draw(r);
    const fill = (ms: number) => at(svg, "192.0.2.1", "arp", ms).map((e) => e.attrs.fill);
    expect(fill(2000)).toEqual([nodeColour(0)]);
    expect(fill(5100)).toEqual([COLOURS.conflict]);
    expect(fill(7000)).toEqual([nodeColour(1)]);
    expect(fill(12_000)).toEqual([]);
    expect(fill(15_100)).toEqual([COLOURS.foreign]);
    expect(nodeColour(0)).not.toBe(nodeColour(1));
    expect([nodeColour(0), nodeColour(1)]).not.toContain(COLOURS.foreign);
    // The conflict tells which MACs, and whose.
    expect(tooltip(at(svg, "192.0.2.1", "arp", 5100)[0] as XmlElement)).toContain(
      `${MAC1} (node-1), ${MAC2} (node-2)`,
    );
    // Fifty sightings of one MAC in a row are one rect, not fifty.
    const arp = lane(svg, "192.0.2.1").children.find((e) => e.attrs.class === "arp") as XmlElement;
    expect(arp.children.filter((e) => e.attrs.fill === nodeColour(0))).toHaveLength(1);
    // The legend maps node -> colour -> MAC.
    const item = findAll(svg, (e) => e.name === "g" && visibleText(e) === `node-2 ${MAC2}`)[0] as XmlElement;
    expect(item.children.find((e) => e.name === "rect")?.attrs.fill).toBe(nodeColour(1));
  });

  test("request strip: green when all succeeded, red when all failed, the failed share in red, grey when not probed", () => {
    const r = emptyRecord(20_000);
    r.probes.push(
      {
        address: "192.0.2.1",
        port: 80,
        fromMs: 0,
        toMs: 6000,
        probes: 600,
        ok: 450,
        okPerSecond: [100, 100, 100, 100, 0, 50],
        failedPerSecond: [0, 0, 0, 0, 100, 50],
      },
      // A second port of the same address, failing in second 2: the lane shows the merged share.
      {
        address: "192.0.2.1",
        port: 443,
        fromMs: 2000,
        toMs: 3000,
        probes: 100,
        ok: 0,
        okPerSecond: [0],
        failedPerSecond: [100],
      },
    );
    const svg = draw(r);
    // What a reader sees at the strip's top and bottom row: the last rect drawn there.
    const seen = (ms: number) => {
      const rects = at(svg, "192.0.2.1", "requests", ms);
      const atY = (y: number) =>
        rects
          .filter((e) => Number(e.attrs.y ?? 0) <= y && y < Number(e.attrs.y ?? 0) + Number(e.attrs.height))
          .pop()?.attrs.fill;
      return [atY(0.5), atY(7.5)];
    };
    expect(seen(1500)).toEqual([COLOURS.ok, COLOURS.ok]);
    expect(seen(2500)).toEqual([COLOURS.ok, COLOURS.failed]);
    expect(seen(4500)).toEqual([COLOURS.failed, COLOURS.failed]);
    expect(seen(5500)).toEqual([COLOURS.ok, COLOURS.failed]);
    expect(seen(10_000)).toEqual([COLOURS.notProbed, COLOURS.notProbed]);
    // Half the requests failed: half the strip is red.
    const red = at(svg, "192.0.2.1", "requests", 5500).filter((e) => e.attrs.fill === COLOURS.failed);
    expect(red.map((e) => Number(e.attrs.height))).toEqual([4]);
  });

  test("faults: bands at their times with their labels and details; a skipped fault is a hollow marker", () => {
    const r = emptyRecord(20_000);
    answered("192.0.2.1", MAC1, 0, 20_000, r);
    r.faults.push(
      { kind: "linkCut", node: "node-2", startMs: 4000, endMs: 9000 },
      { kind: "foreignClaim", address: "192.0.2.1", startMs: 12_000 },
      { kind: "controllerKill", startMs: 16_000, skipped: "no controller led" },
    );
    const svg = draw(r);
    const x = axisX(svg);
    const bands = findAll(svg, (e) => e.attrs.class === "fault");
    expect(bands.map((b) => visibleText(b))).toEqual(["linkCut node-2", "foreignClaim 192.0.2.1"]);
    const [cut, claim] = bands.map((b) => b.children.find((e) => e.name === "rect") as XmlElement);
    expect(Number(cut?.attrs.x)).toBeCloseTo(x(4000), 0);
    expect(Number(cut?.attrs.x) + Number(cut?.attrs.width)).toBeCloseTo(x(9000), 0);
    expect(cut?.attrs.fill).toBe(FAULT_COLOURS.linkCut);
    expect(cut?.attrs["fill-opacity"]).toBe("0.16");
    // A fault never taken back reaches the end of the run.
    expect(Number(claim?.attrs.x) + Number(claim?.attrs.width)).toBeCloseTo(x(20_000), 0);
    expect(tooltip(bands[0] as XmlElement)).toContain("0:04.000 to 0:09.000 (5.0 s)");
    expect(tooltip(bands[1] as XmlElement)).toContain("not taken back");
    // Bands cross every lane.
    const l = lane(svg, "192.0.2.1");
    expect(Number(cut?.attrs.y) + Number(cut?.attrs.height)).toBeGreaterThan(
      Number(l.attrs["data-top"]) + 20,
    );
    const skipped = findAll(svg, (e) => e.attrs.class === "skipped");
    expect(skipped).toHaveLength(1);
    expect(skipped[0]?.attrs.fill).toBe("none");
    expect(Number(skipped[0]?.attrs.cx)).toBeCloseTo(x(16_000), 0);
    expect(tooltip(skipped[0] as XmlElement)).toContain("no controller led");
  });

  test("violations: a marker on the lane of their address (any spelling), or above the lanes without one", () => {
    const r = emptyRecord(20_000);
    answered("192.0.2.1", MAC1, 0, 1000, r);
    answered("2001:db8::10", MAC1, 0, 1000, r);
    const verdicts: Verdict[] = [
      {
        referee: "wire",
        pass: false,
        checked: { sightings: 20 },
        violations: [{ t: 5000, address: "2001:DB8:0::10", message: "two MACs" }],
      },
      {
        referee: "audit",
        pass: false,
        checked: { rows: 3 },
        violations: [{ t: 8000, message: "row 7 twice" }],
      },
      { referee: "traffic", pass: true, checked: { outages: 0 }, violations: [] },
    ];
    const svg = draw(r, verdicts);
    const x = axisX(svg);
    const marks = findAll(svg, (e) => e.attrs.class === "violation");
    expect(marks).toHaveLength(2);
    const ys = (m: XmlElement) => [...(m.attrs.d as string).matchAll(/-?[\d.]+/g)].map((n) => Number(n[0]));
    const [wireMark, auditMark] = marks as [XmlElement, XmlElement];
    const [mx, my] = ys(wireMark) as [number, number];
    const top = Number(lane(svg, "2001:db8::10").attrs["data-top"]);
    expect(my).toBe(top);
    expect(mx + 4).toBeCloseTo(x(5000), 0);
    expect(wireMark.attrs.fill).toBe(COLOURS.violation);
    expect(tooltip(wireMark)).toContain("wire at 0:05.000 2001:DB8:0::10: two MACs");
    expect(ys(auditMark)[1]).toBeLessThan(Math.min(...lanes(svg).map((l) => Number(l.attrs["data-top"]))));
    expect(tooltip(auditMark)).toContain("audit at 0:08.000: row 7 twice");
    // The header names each referee's result.
    const badges = findAll(svg, (e) => e.attrs["data-referee"] !== undefined).map((e) => visibleText(e));
    expect(badges).toEqual(["wire FAIL (1)", "audit FAIL (1)", "traffic pass"]);
  });

  test("every text is escaped: the title, MACs, messages and errors read back as written", () => {
    const r = emptyRecord(20_000, ["<node&1>"]);
    r.macs["<node&1>"] = MAC1;
    answered("192.0.2.1", MAC1, 0, 1000, r);
    const nasty = `<script>alert("x")</script> & 'q' \u0001 \ud800`;
    r.ops.push({
      op: { kind: "deleteService", name: nasty },
      startMs: 100,
      endMs: 200,
      ok: false,
      error: nasty,
    });
    r.faults.push({ kind: "controllerStop", controller: nasty, startMs: 1000, endMs: 2000 });
    const title = `soak <seed 7> & "30 min"`;
    const svg = draw(
      r,
      [{ referee: "wire", pass: false, checked: {}, violations: [{ t: 1, message: nasty }] }],
      title,
    );
    expect(findAll(svg, (e) => e.name === "text" && e.text === title)).toHaveLength(1);
    expect(findAll(svg, (e) => e.name === "g" && visibleText(e) === `<node&1> ${MAC1}`)).toHaveLength(1);
    const op = findAll(svg, (e) => e.attrs.class === "op")[0] as XmlElement;
    expect(tooltip(op)).toContain(`failed: <script>alert("x")</script> & 'q' \ufffd \ufffd`);
    expect(findAll(svg, (e) => e.name === "script")).toEqual([]);
  });

  test("ops: a tick at each op's time, red when it failed, the op in its tooltip; ops on one pixel share a tick", () => {
    const r = emptyRecord(20_000);
    r.ops.push(
      { op: { kind: "deleteService", name: "svc-1" }, startMs: 2000, endMs: 2100, ok: true },
      {
        op: { kind: "setPoolDisabled", disabled: true },
        startMs: 8000,
        endMs: 8050,
        ok: false,
        error: "422 Invalid",
      },
      { op: { kind: "deleteService", name: "svc-2" }, startMs: 8001, endMs: 8090, ok: true },
    );
    const svg = draw(r);
    const x = axisX(svg);
    const ticks = findAll(svg, (e) => e.attrs.class === "op");
    expect(ticks.map((t) => [Math.round(Number(t.attrs.x)), t.attrs.fill])).toEqual([
      [Math.round(x(2000)), COLOURS.opOk],
      [Math.round(x(8000)), COLOURS.opFailed],
    ]);
    expect(tooltip(ticks[0] as XmlElement)).toBe('0:02.000 deleteService {"name":"svc-1"}: ok after 100 ms');
    expect(tooltip(ticks[1] as XmlElement)).toContain(
      'setPoolDisabled {"disabled":true}: failed: 422 Invalid',
    );
    expect(tooltip(ticks[1] as XmlElement)).toContain('deleteService {"name":"svc-2"}: ok');
  });

  test("past the lane limit the probed addresses keep their lanes and the header says how many were left out", () => {
    const r = emptyRecord(20_000);
    for (let i = 0; i < LANE_LIMIT + 50; i++) {
      r.wire.push({
        t: 100,
        address: `198.51.${Math.floor(i / 250)}.${i % 250}`,
        mac: MAC1,
        kind: "arp-reply",
      });
    }
    r.probes.push({
      address: "203.0.113.5",
      port: 80,
      fromMs: 0,
      toMs: 1000,
      probes: 1,
      ok: 1,
      okPerSecond: [1],
      failedPerSecond: [0],
    });
    const svg = draw(r);
    const drawn = lanes(svg).map((l) => l.attrs["data-address"]);
    expect(drawn).toHaveLength(LANE_LIMIT);
    expect(drawn[drawn.length - 1]).toBe("203.0.113.5");
    expect(
      findAll(svg, (e) => e.name === "text" && visibleText(e).includes("(51 more not drawn)")),
    ).toHaveLength(1);
  });

  test("ticks every 10 s for a few minutes, every minute for 30; ARP buckets of 250 ms, coarser past 2000 per lane", () => {
    expect(tickStepMs(180_000, 1400)).toBe(10_000);
    expect(tickStepMs(1_800_000, 1400)).toBe(60_000);
    expect(bucketMsFor(20_000)).toBe(250);
    expect(bucketMsFor(1_800_000)).toBe(1000);
    expect(Math.ceil(1_800_000 / bucketMsFor(1_800_000))).toBeLessThanOrEqual(2000);
  });

  test("a 30-minute run with 20 addresses, 300k sightings and 100 faults stays under 3 MB and well-formed", () => {
    const { record, verdicts } = longRun(11);
    const text = renderTimeline(record, verdicts, "soak seed 11, 30 min");
    expect(Buffer.byteLength(text)).toBeLessThan(3_000_000);
    const svg = parseXml(text);
    expect(lanes(svg)).toHaveLength(20);
    const labels = (findAll(svg, (e) => e.attrs.class === "axis")[0] as XmlElement).children.map((e) =>
      visibleText(e),
    );
    expect(labels[1]).toBe("1:00");
    expect(labels[labels.length - 1]).toBe("30:00");
    expect(
      findAll(svg, (e) => e.attrs.class === "fault").length +
        findAll(svg, (e) => e.attrs.class === "skipped").length,
    ).toBe(100);
  });
});

describe("the well-formedness check", () => {
  test.each([
    ["<a><b></a>", "does not close"],
    ["<a>x & y</a>", 'raw "&"'],
    ['<a x="<"/>', 'raw "<"'],
    ["<a/><b/>", "second root"],
    ["<a>", "never closed"],
    ['<a x="1" x="2"/>', "twice"],
    ["<a>\u0001</a>", "forbidden"],
    ["<a>&bogus;</a>", 'raw "&"'],
  ])("refuses %j", (xml, why) => {
    expect(() => parseXml(xml)).toThrow(why);
  });

  test("reads entities back", () => {
    expect(parseXml(`<a t="&quot;&#x3c;">&lt;&amp;&gt;&apos;&#65;</a>`)).toEqual({
      name: "a",
      attrs: { t: '"<' },
      children: [],
      text: "<&>'A",
    });
  });
});
