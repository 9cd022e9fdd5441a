// Why the allocator did not give a Service what it asked for. Each reason is a
// stable string: it becomes the Service event's reason, a metric label and an
// audit reason code, so renaming one is a breaking change.
export const REFUSAL_REASONS = [
  /** A requested address is not an IP address. */
  "InvalidAddress",
  /** A requested address is of a family the Service does not use, or a family is asked for twice. */
  "WrongFamily",
  /** A requested address lies in no pool. */
  "NotInAnyPool",
  /** The pool named by herald.dev/address-pool does not exist. */
  "PoolNotFound",
  /** The pool exists but its allocation rules do not allow this Service (the tenant boundary). */
  "PoolNotAllowed",
  /** A requested address lies outside the pool the Service names. */
  "NotInRequestedPool",
  /** Requested addresses lie in different pools. */
  "PoolMismatch",
  /** The pool is disabled (or invalid) and hands out nothing new. */
  "PoolDisabled",
  /** The address ends in .0 or .255 and its pool avoids those. */
  "AvoidedAddress",
  /** The address is held by a Service it may not share with. */
  "AddressInUse",
  /** Sharing refused: the Services use the same protocol and port. */
  "SharingPortConflict",
  /** Sharing refused: traffic policies differ, or two Local Services select different Pods. */
  "SharingBackendConflict",
  /** Sharing refused: the Services are in different namespaces and the pool does not allow that. */
  "SharingNamespaceConflict",
  /** Every pool the Service may use is full. */
  "PoolExhausted",
  /** No pool may give this Service an address automatically. */
  "NoPoolAllowed",
  /** RequireDualStack, and no usable pool has both families free. */
  "DualStackUnavailable",
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface Refusal {
  readonly reason: RefusalReason;
  readonly message: string;
}

export function refusal(reason: RefusalReason, message: string): Refusal {
  return { reason, message };
}
