// /debug/state and /audit behind TokenReview + SubjectAccessReview (or loopback only),
// while /healthz, /readyz and /metrics stay open to the kubelet and Prometheus.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import {
  AccessReviewer,
  type ResourceAttributes,
  type ReviewedUser,
  type Reviews,
} from "../../src/http/access.js";
import { buildHttp, type DebugAccess } from "../../src/http/server.js";

const TOKENS: Record<string, ReviewedUser> = {
  "reader-token": { username: "sre-ann", groups: ["sre"] },
  "tenant-token": { username: "tenant-bob", groups: ["tenants"] },
};

/** An API server in miniature: knows two tokens; only the sre group may get speakers/* . */
function fakeReviews() {
  const calls = { tokenReviews: 0, accessReviews: [] as ResourceAttributes[] };
  const reviews: Reviews = {
    async authenticate(token) {
      calls.tokenReviews++;
      return TOKENS[token];
    },
    async authorize(user, attributes) {
      calls.accessReviews.push(attributes);
      return { allowed: (user.groups ?? []).includes("sre") && attributes.resource === "speakers" };
    },
  };
  return { reviews, calls };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "herald-access-test-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function app(access: DebugAccess) {
  return buildHttp({
    registry: new Registry(),
    healthy: () => true,
    ready: () => true,
    state: () => ({ owned: ["192.0.2.10"] }),
    auditDir: dir,
    access,
  });
}

function speakerAccess(reviews: Reviews, now = () => 0): DebugAccess {
  return {
    mode: "kubernetes",
    reviewer: new AccessReviewer({ reviews, now }),
    component: "speaker",
    namespace: "herald-system",
  };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

test("no token, a token TokenReview rejects, and a user SubjectAccessReview denies are refused", async () => {
  const { reviews } = fakeReviews();
  const http = app(speakerAccess(reviews));
  for (const url of ["/debug/state", "/audit"]) {
    const none = await http.inject(url);
    expect([url, none.statusCode, none.json().code]).toEqual([url, 401, "HERALD_HTTP_UNAUTHENTICATED"]);
    expect(none.headers["www-authenticate"]).toContain("Bearer");
    expect(none.body).not.toContain("192.0.2.10");
    const bogus = await http.inject({ url, headers: bearer("stolen-or-made-up") });
    expect([url, bogus.statusCode]).toEqual([url, 401]);
    const tenant = await http.inject({ url, headers: bearer("tenant-token") });
    expect([url, tenant.statusCode, tenant.json().code]).toEqual([url, 403, "HERALD_HTTP_FORBIDDEN"]);
    expect(tenant.json().message).toContain("tenant-bob");
  }
  await http.close();
});

test("an allowed user reads state and audit; the review asks for get on herald.dev speakers/debug and /audit", async () => {
  const { reviews, calls } = fakeReviews();
  const http = app(speakerAccess(reviews));
  const state = await http.inject({ url: "/debug/state", headers: bearer("reader-token") });
  expect(state.statusCode).toBe(200);
  expect(state.json()).toEqual({ owned: ["192.0.2.10"] });
  const audit = await http.inject({ url: "/audit", headers: bearer("reader-token") });
  expect(audit.statusCode).toBe(200);
  expect(audit.json()).toEqual({ events: [], next: null, warnings: [] });
  expect(calls.accessReviews).toEqual([
    {
      verb: "get",
      group: "herald.dev",
      resource: "speakers",
      subresource: "debug",
      namespace: "herald-system",
    },
    {
      verb: "get",
      group: "herald.dev",
      resource: "speakers",
      subresource: "audit",
      namespace: "herald-system",
    },
  ]);
  await http.close();
});

test("health, readiness and metrics stay open without a token, in both modes", async () => {
  const { reviews, calls } = fakeReviews();
  for (const access of [speakerAccess(reviews), { mode: "localhost" } as const]) {
    const http = app(access);
    for (const url of ["/healthz", "/readyz", "/metrics"]) {
      const res = await http.inject({ url, remoteAddress: "192.0.2.50" });
      expect([url, res.statusCode]).toEqual([url, 200]);
    }
    await http.close();
  }
  expect(calls.tokenReviews).toBe(0);
});

test("with authentication off, state and audit answer loopback callers only", async () => {
  const http = app({ mode: "localhost" });
  const lan = await http.inject({ url: "/debug/state", remoteAddress: "192.0.2.50" });
  expect(lan.statusCode).toBe(403);
  expect(lan.json().code).toBe("HERALD_HTTP_LOCAL_ONLY");
  expect((await http.inject({ url: "/audit", remoteAddress: "2001:db8::50" })).statusCode).toBe(403);
  expect((await http.inject({ url: "/debug/state", remoteAddress: "127.0.0.1" })).statusCode).toBe(200);
  expect((await http.inject({ url: "/audit", remoteAddress: "::1" })).statusCode).toBe(200);
  await http.close();
});

test("decisions are cached briefly: one review per token and path until the entry expires", async () => {
  const { reviews, calls } = fakeReviews();
  let now = 1_000_000;
  const http = app(speakerAccess(reviews, () => now));
  for (let i = 0; i < 5; i++) {
    expect((await http.inject({ url: "/debug/state", headers: bearer("reader-token") })).statusCode).toBe(
      200,
    );
    expect((await http.inject({ url: "/debug/state", headers: bearer("tenant-token") })).statusCode).toBe(
      403,
    );
  }
  expect(calls.tokenReviews).toBe(2);
  now += 10_001; // past the 10 s the decision is kept: a revoked grant stops working
  await http.inject({ url: "/debug/state", headers: bearer("reader-token") });
  expect(calls.tokenReviews).toBe(3);
  await http.close();
});

test("the cache is bounded and reviews in flight are bounded (429 with Retry-After)", async () => {
  const { reviews } = fakeReviews();
  const attrs = { verb: "get", group: "herald.dev", resource: "speakers", subresource: "debug" };
  const bounded = new AccessReviewer({ reviews, now: () => 0, maxEntries: 3 });
  for (let i = 0; i < 50; i++) await bounded.check(`Bearer random-${i}`, attrs);
  expect(bounded.size).toBe(3);

  const stalled: Reviews = { authenticate: () => new Promise(() => undefined), authorize: reviews.authorize };
  const http = app({
    mode: "kubernetes",
    reviewer: new AccessReviewer({ reviews: stalled, now: () => 0, maxInFlight: 2 }),
    component: "speaker",
    namespace: "herald-system",
  });
  // Two callers whose reviews never come back hold both places (then() sends the request).
  for (const token of ["a", "b"])
    void http.inject({ url: "/debug/state", headers: bearer(token) }).then(String);
  const third = await http.inject({ url: "/debug/state", headers: bearer("c") });
  expect(third.statusCode).toBe(429);
  expect(third.headers["retry-after"]).toBe("1");
});

test("an API server that cannot answer gives 503 and is asked again next time", async () => {
  let up = false;
  const { reviews } = fakeReviews();
  const flaky: Reviews = {
    authenticate: async (token) => {
      if (!up) throw new Error("connect ECONNREFUSED 192.0.2.1:6443");
      return reviews.authenticate(token);
    },
    authorize: reviews.authorize,
  };
  const http = app(speakerAccess(flaky));
  const down = await http.inject({ url: "/debug/state", headers: bearer("reader-token") });
  expect(down.statusCode).toBe(503);
  expect(down.json().code).toBe("HERALD_HTTP_AUTH_UNAVAILABLE");
  up = true;
  expect((await http.inject({ url: "/debug/state", headers: bearer("reader-token") })).statusCode).toBe(200);
  await http.close();
});
