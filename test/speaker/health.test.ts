import { Registry } from "prom-client";
import { buildHttp } from "../../src/http/server.js";
import { SpeakerHealth } from "../../src/speaker/health.js";
import type { TransportState } from "../../src/speaker/l2/udp-transport.js";
import { FakeClock } from "../clock.js";

function setup() {
  const clock = new FakeClock();
  // The watchdog's timers run late by `late` ms, as they would after a blocked event loop.
  let late = 0;
  const lateClock = {
    wall: clock.wall,
    now: () => clock.now() + late,
    setTimeout: clock.setTimeout.bind(clock),
    clearTimeout: clock.clearTimeout.bind(clock),
  };
  const world = {
    synced: true,
    stopping: false,
    socket: { bound: true, since: 0 } as TransportState,
    block(ms: number) {
      late += ms;
    },
  };
  const health = new SpeakerHealth({
    clock: lateClock,
    synced: () => world.synced,
    stopping: () => world.stopping,
    heartbeatSocket: () => world.socket,
  });
  health.start();
  const app = buildHttp({
    registry: new Registry(),
    healthy: () => health.healthy(),
    ready: () => health.ready(),
    state: () => ({}),
  });
  const get = async (path: string) => {
    const r = await app.inject(path);
    return `${r.statusCode} ${r.body.trim()}`;
  };
  return { clock, world, get };
}

test("a speaker whose heartbeat socket cannot bind is not ready, and not healthy once that lasts a minute", async () => {
  const { clock, world, get } = setup();
  expect(await get("/readyz")).toBe("200 ready");
  world.socket = { bound: false, since: 0, error: "Error: bind EADDRINUSE 192.0.2.11:7946" };
  expect(await get("/readyz")).toBe(
    "503 not ready: heartbeat socket not bound: Error: bind EADDRINUSE 192.0.2.11:7946",
  );
  expect(await get("/healthz")).toBe("200 ok");
  clock.advance(61_000);
  expect(await get("/healthz")).toBe(
    "503 unhealthy: heartbeat socket not bound for 61 s: Error: bind EADDRINUSE 192.0.2.11:7946",
  );
  world.socket = { bound: true, since: clock.now() };
  expect(await get("/readyz")).toBe("200 ready");
  expect(await get("/healthz")).toBe("200 ok");
});

test("a speaker whose event loop was blocked for long is unhealthy for a minute, then healthy again", async () => {
  const { clock, world, get } = setup();
  clock.advance(5000);
  world.block(15_000);
  clock.advance(1000);
  expect(await get("/healthz")).toMatch(/^503 unhealthy: event loop blocked for 15000 ms/);
  clock.advance(61_000);
  expect(await get("/healthz")).toBe("200 ok");
});

test("a speaker not synced yet, or shutting down, is not ready", async () => {
  const { world, get } = setup();
  world.synced = false;
  expect(await get("/readyz")).toBe("503 not ready: caches not synced yet");
  world.synced = true;
  world.stopping = true;
  expect(await get("/readyz")).toBe("503 not ready: shutting down");
  expect(await get("/healthz")).toBe("503 unhealthy: shutting down");
});
