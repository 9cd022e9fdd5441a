// Which Parquet files retention removes. Pure: a listing and limits in, a plan out.
export interface RetainedFile {
  name: string;
  firstSeq: number;
  bytes: number;
  /** When the file was written: its newest event is at most one segment age older. */
  mtimeMs: number;
}

export interface RetentionLimits {
  /** Files written longer ago than this are removed. */
  maxAgeMs?: number;
  /** The oldest files are removed until the total is at most this. */
  maxBytes?: number;
}

export interface RetentionPlan {
  remove: { name: string; cause: "age" | "size" }[];
  keptBytes: number;
  keptFiles: number;
}

/**
 * The newest file is always kept: its name carries the highest sequence number,
 * which a restart with an empty journal continues from.
 */
export function planRetention(files: RetainedFile[], limits: RetentionLimits, nowMs: number): RetentionPlan {
  const ordered = [...files].sort((a, b) => a.firstSeq - b.firstSeq);
  let keptBytes = ordered.reduce((n, f) => n + f.bytes, 0);
  const remove: RetentionPlan["remove"] = [];
  for (const f of ordered.slice(0, -1)) {
    let cause: "age" | "size" | undefined;
    if (limits.maxAgeMs !== undefined && nowMs - f.mtimeMs > limits.maxAgeMs) cause = "age";
    else if (limits.maxBytes !== undefined && keptBytes > limits.maxBytes) cause = "size";
    if (cause === undefined) break;
    remove.push({ name: f.name, cause });
    keptBytes -= f.bytes;
  }
  return { remove, keptBytes, keptFiles: ordered.length - remove.length };
}
