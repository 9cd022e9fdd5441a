import { parseLinkMessages } from "../../../src/speaker/l2/netlink.js";

/** One RTM_NEWLINK (16) / RTM_DELLINK (17) message with an IFLA_IFNAME attribute, little-endian. */
function linkMessage(type: number, index: number, flags: number, name?: string): Buffer {
  const attr = name === undefined ? Buffer.alloc(0) : Buffer.alloc((4 + name.length + 1 + 3) & ~3);
  if (name !== undefined) {
    attr.writeUInt16LE(4 + name.length + 1, 0);
    attr.writeUInt16LE(3, 2);
    attr.write(name, 4, "latin1");
  }
  const msg = Buffer.alloc(32 + attr.length);
  msg.writeUInt32LE(msg.length, 0);
  msg.writeUInt16LE(type, 4);
  msg.writeInt32LE(index, 20);
  msg.writeUInt32LE(flags, 24);
  attr.copy(msg, 32);
  return msg;
}

test("link up with carrier, link down, and a removed link are read with their names", () => {
  const datagram = Buffer.concat([
    linkMessage(16, 2, 0x1 | 0x40 | 0x10000, "eth0"),
    linkMessage(16, 3, 0x1002, "eth1"),
    linkMessage(17, 4, 0x1, "veth9"),
  ]);
  expect(parseLinkMessages(datagram)).toEqual([
    { kind: "new", index: 2, name: "eth0", up: true, lowerUp: true },
    { kind: "new", index: 3, name: "eth1", up: false, lowerUp: false },
    { kind: "del", index: 4, name: "veth9", up: true, lowerUp: false },
  ]);
});

test("truncated or malformed datagrams give the messages before the damage, never an exception", () => {
  const good = linkMessage(16, 2, 0x1, "eth0");
  expect(parseLinkMessages(Buffer.concat([good, good.subarray(0, 20)]))).toHaveLength(1);
  const zeroLength = Buffer.from(good);
  zeroLength.writeUInt32LE(0, 0);
  expect(parseLinkMessages(zeroLength)).toEqual([]);
  const badAttr = Buffer.from(good);
  badAttr.writeUInt16LE(200, 32);
  expect(parseLinkMessages(badAttr)).toEqual([{ kind: "new", index: 2, up: true, lowerUp: false }]);
  expect(parseLinkMessages(new Uint8Array(3))).toEqual([]);
});
