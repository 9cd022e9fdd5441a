// Temporary directories for a test file, all removed when the file's tests are done.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Call at the top level of a test file; `make()` may then be called anywhere,
 * also inside a test. Every directory it made is removed after the last test.
 */
export function scratchDirs(prefix: string): { make: () => string } {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });
  return {
    make: () => {
      const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
      made.push(dir);
      return dir;
    },
  };
}
