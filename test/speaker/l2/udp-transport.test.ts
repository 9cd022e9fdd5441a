import type { createSocket } from "node:dgram";
import { EventEmitter } from "node:events";
import { type TransportErrorKind, UdpTransport } from "../../../src/speaker/l2/udp-transport.js";
import { FakeClock } from "../../clock.js";

/** dgram sockets whose bind fails while `failing` holds an error code. */
function sockets() {
  const made: { bound: boolean; closed: boolean; sent: string[] }[] = [];
  const net = { failing: undefined as string | undefined, made };
  const create = (() => {
    const emitter = new EventEmitter();
    const record = { bound: false, closed: false, sent: [] as string[] };
    made.push(record);
    return Object.assign(emitter, {
      bind() {
        const code = net.failing;
        queueMicrotask(() => {
          if (code) emitter.emit("error", Object.assign(new Error(`bind ${code} 192.0.2.11:7946`), { code }));
          else {
            record.bound = true;
            emitter.emit("listening");
          }
        });
      },
      send(_p: Uint8Array, _port: number, address: string) {
        record.sent.push(address);
      },
      close() {
        record.closed = true;
      },
    });
  }) as unknown as typeof createSocket;
  return { net, create };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test("a heartbeat socket that cannot bind says so, reports a bind error, and binds again until it can", async () => {
  const clock = new FakeClock();
  const { net, create } = sockets();
  const errors: [string, TransportErrorKind][] = [];
  net.failing = "EADDRINUSE";
  const t = new UdpTransport("192.0.2.11", 7946, {
    clock,
    createSocket: create,
    onError: (err, kind) => errors.push([String(err), kind]),
  });
  t.start(() => {});
  await settle();
  expect(t.state()).toEqual({ bound: false, since: 0, error: "Error: bind EADDRINUSE 192.0.2.11:7946" });
  expect(errors).toEqual([["Error: bind EADDRINUSE 192.0.2.11:7946", "bind"]]);
  expect(() => t.send(new Uint8Array(1), "192.0.2.12")).toThrow("not bound");
  expect(net.made[0]?.closed).toBe(true);
  clock.advance(1000);
  await settle();
  expect(net.made).toHaveLength(2);
  expect(t.state().bound).toBe(false);
  net.failing = undefined;
  clock.advance(1000);
  await settle();
  expect(t.state()).toEqual({ bound: true, since: 2000 });
  t.send(new Uint8Array(1), "192.0.2.12");
  expect(net.made[2]?.sent).toEqual(["192.0.2.12"]);
  t.close();
  clock.advance(5000);
  expect(net.made).toHaveLength(3);
});
