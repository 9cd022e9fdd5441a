// The timing half of the lab's ping scripts (arp-ping.ts, ndp-ping.ts): one probe every
// `intervalMs` until `count` are out (0: until SIGTERM), 200 ms more for late answers, then one
// JSON line with the send times and what the script collected. Prints "ready" once it runs.
export interface ProbeLoop {
  /** Milliseconds since the loop was created, to 0.1 ms. */
  since(): number;
  /** Starts sending; `send` puts one probe on the wire. */
  run(send: () => void): void;
}

export function probeLoop(o: {
  count: number;
  intervalMs: number;
  /** What the script collected, written after `sent`. */
  result: () => object;
  close: () => void;
}): ProbeLoop {
  const start = performance.now();
  const sent: number[] = [];
  const since = () => Math.round((performance.now() - start) * 10) / 10;
  const finish = () => {
    process.stdout.write(`${JSON.stringify({ sent, ...o.result() })}\n`);
    o.close();
    process.exit(0);
  };
  return {
    since,
    run(send) {
      const timer = setInterval(() => {
        if (o.count > 0 && sent.length >= o.count) {
          clearInterval(timer);
          setTimeout(finish, 200);
          return;
        }
        sent.push(since());
        send();
      }, o.intervalMs);
      process.stdout.write("ready\n");
      process.on("SIGTERM", finish);
    },
  };
}
