// Every failure of the lab carries a code, so a test that fails in setup says
// which part of the lab broke (LAB_BINARIES_MISSING vs LAB_APISERVER_NOT_READY).
export type LabErrorCode =
  | "LAB_NOT_ROOT"
  | "LAB_BINARIES_MISSING"
  | "LAB_COMMAND_FAILED"
  | "LAB_TIMEOUT"
  | "LAB_APISERVER_NOT_READY"
  | "LAB_BAD_ARGUMENT"
  | "LAB_UNKNOWN_NODE"
  | "LAB_UNKNOWN_POD"
  | "LAB_ADDRESSES_EXHAUSTED"
  | "LAB_PROCESS_FAILED"
  | "LAB_STOPPED"
  | "LAB_POD_SPEC_UNSUPPORTED";

export class LabError extends Error {
  constructor(
    readonly code: LabErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = "LabError";
  }
}
