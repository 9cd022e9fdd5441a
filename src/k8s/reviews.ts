// TokenReview and SubjectAccessReview through the component's own API client
// (its ServiceAccount needs `create` on both; the chart grants it).
import type { ResourceAttributes, ReviewedUser, Reviews } from "../http/access.js";
import type { Rest } from "./rest.js";

interface TokenReview {
  status?: { authenticated?: boolean; user?: ReviewedUser; error?: string };
}

interface SubjectAccessReview {
  status?: { allowed?: boolean; denied?: boolean; reason?: string };
}

export function kubeReviews(rest: Rest): Reviews {
  return {
    async authenticate(token) {
      const review = await rest.request<TokenReview>("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenReview",
        spec: { token },
      });
      const user = review?.status?.user;
      return review?.status?.authenticated === true && user?.username ? user : undefined;
    },
    async authorize(user, attributes: ResourceAttributes) {
      const review = await rest.request<SubjectAccessReview>(
        "POST",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SubjectAccessReview",
          spec: {
            user: user.username,
            ...(user.uid ? { uid: user.uid } : {}),
            ...(user.groups ? { groups: user.groups } : {}),
            ...(user.extra ? { extra: user.extra } : {}),
            resourceAttributes: attributes,
          },
        },
      );
      const status = review?.status;
      return {
        allowed: status?.allowed === true && status.denied !== true,
        ...(status?.reason ? { reason: status.reason } : {}),
      };
    },
  };
}
