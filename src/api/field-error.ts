// A problem with one field of a user's object, as `kubectl explain` would name it.
export interface FieldError {
  /** e.g. spec.addresses[2] */
  readonly field: string;
  readonly message: string;
}

export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.message}`).join("; ");
}
