import { openPacketSocket, PacketSocketError } from "../../../src/speaker/l2/packet-socket.js";

test("a missing interface (or missing CAP_NET_RAW) is a coded error, not a crash", () => {
  let error: unknown;
  try {
    openPacketSocket("nosuchif0").close();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(PacketSocketError);
  // As root the kernel says the device is missing; without CAP_NET_RAW it refuses the socket.
  expect(["ENODEV", "EPERM"]).toContain((error as PacketSocketError).errno);
  expect((error as PacketSocketError).code).toBe("HERALD_PACKET_SOCKET");
});

test("an interface name the kernel cannot hold is refused before any socket opens", () => {
  expect(() => openPacketSocket("x".repeat(16))).toThrow(
    expect.objectContaining({ code: "HERALD_PACKET_SOCKET", errno: "EINVAL" }),
  );
});
