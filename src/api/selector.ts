// Parses a Kubernetes LabelSelector from untyped input, collecting errors by field.
import type { LabelSelector, SelectorOperator, SelectorRequirement } from "../domain/selector.js";
import type { FieldError } from "./field-error.js";

const OPERATORS: readonly SelectorOperator[] = ["In", "NotIn", "Exists", "DoesNotExist"];

export function parseLabelSelector(
  value: unknown,
  field: string,
  errors: FieldError[],
): LabelSelector | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) {
    errors.push({ field, message: "must be a label selector (matchLabels, matchExpressions)" });
    return undefined;
  }
  const matchLabels: Record<string, string> = {};
  const labels = value.matchLabels;
  if (labels !== undefined && labels !== null) {
    if (!isObject(labels))
      errors.push({ field: `${field}.matchLabels`, message: "must be a map of strings" });
    else
      for (const [k, v] of Object.entries(labels)) {
        if (typeof v !== "string")
          errors.push({ field: `${field}.matchLabels.${k}`, message: "must be a string" });
        else matchLabels[k] = v;
      }
  }
  const matchExpressions: SelectorRequirement[] = [];
  const exprs = value.matchExpressions;
  if (exprs !== undefined && exprs !== null) {
    if (!Array.isArray(exprs)) errors.push({ field: `${field}.matchExpressions`, message: "must be a list" });
    else
      exprs.forEach((e: unknown, i) => {
        const at = `${field}.matchExpressions[${i}]`;
        const req = parseRequirement(e, at, errors);
        if (req) matchExpressions.push(req);
      });
  }
  return { matchLabels, matchExpressions };
}

function parseRequirement(e: unknown, at: string, errors: FieldError[]): SelectorRequirement | undefined {
  if (!isObject(e) || typeof e.key !== "string" || e.key === "") {
    errors.push({ field: at, message: "needs a key" });
    return undefined;
  }
  const operator = e.operator as SelectorOperator;
  if (!OPERATORS.includes(operator)) {
    errors.push({ field: `${at}.operator`, message: `must be one of ${OPERATORS.join(", ")}` });
    return undefined;
  }
  const values = e.values ?? [];
  if (!Array.isArray(values) || values.some((v) => typeof v !== "string")) {
    errors.push({ field: `${at}.values`, message: "must be a list of strings" });
    return undefined;
  }
  const needsValues = operator === "In" || operator === "NotIn";
  if (needsValues !== values.length > 0) {
    const message = needsValues ? `${operator} needs at least one value` : `${operator} takes no values`;
    errors.push({ field: `${at}.values`, message });
    return undefined;
  }
  return { key: e.key, operator, values };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
