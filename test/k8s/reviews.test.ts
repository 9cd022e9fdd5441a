import type { Rest } from "../../src/k8s/rest.js";
import { kubeReviews } from "../../src/k8s/reviews.js";

function fakeRest(answers: Record<string, unknown>) {
  const sent: { method: string; path: string; body: unknown }[] = [];
  const rest: Rest = {
    async request<T>(method: string, path: string, body?: unknown) {
      sent.push({ method, path, body });
      return answers[path] as T;
    },
    watch: async () => undefined,
  };
  return { rest, sent };
}

test("TokenReview and SubjectAccessReview go to the API with the caller's token, user and attributes", async () => {
  const { rest, sent } = fakeRest({
    "/apis/authentication.k8s.io/v1/tokenreviews": {
      status: { authenticated: true, user: { username: "sre-ann", uid: "u1", groups: ["sre"] } },
    },
    "/apis/authorization.k8s.io/v1/subjectaccessreviews": { status: { allowed: true } },
  });
  const reviews = kubeReviews(rest);
  const user = await reviews.authenticate("tok");
  expect(user).toEqual({ username: "sre-ann", uid: "u1", groups: ["sre"] });
  const attrs = {
    verb: "get",
    group: "herald.dev",
    resource: "speakers",
    subresource: "audit",
    namespace: "ns",
  };
  expect(await reviews.authorize(user as NonNullable<typeof user>, attrs)).toEqual({ allowed: true });
  expect(sent[0]).toEqual({
    method: "POST",
    path: "/apis/authentication.k8s.io/v1/tokenreviews",
    body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token: "tok" } },
  });
  expect(sent[1]?.body).toMatchObject({
    kind: "SubjectAccessReview",
    spec: { user: "sre-ann", uid: "u1", groups: ["sre"], resourceAttributes: attrs },
  });
});

test("an unauthenticated token has no user; a denial or a missing status is not allowed", async () => {
  const { rest } = fakeRest({
    "/apis/authentication.k8s.io/v1/tokenreviews": { status: { authenticated: false, error: "invalid" } },
    "/apis/authorization.k8s.io/v1/subjectaccessreviews": { status: { allowed: false, reason: "no rule" } },
  });
  const reviews = kubeReviews(rest);
  expect(await reviews.authenticate("bad")).toBeUndefined();
  expect(
    await reviews.authorize({ username: "x" }, { verb: "get", group: "herald.dev", resource: "r" }),
  ).toEqual({
    allowed: false,
    reason: "no rule",
  });
  const { rest: empty } = fakeRest({});
  expect(
    (await kubeReviews(empty).authorize({ username: "x" }, { verb: "get", group: "", resource: "r" }))
      .allowed,
  ).toBe(false);
});
