// The file operations the audit log needs, behind one narrow interface so tests
// can make the disk fill up or refuse writes without mocking modules.
import { constants } from "node:fs";
import * as fs from "node:fs/promises";

export interface AppendFile {
  append(chunks: Buffer[]): Promise<void>;
  /** fdatasync: the appended bytes survive a crash once this resolves. */
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

export interface Disk {
  mkdirp(dir: string): Promise<void>;
  list(dir: string): Promise<string[]>;
  stat(path: string): Promise<{ size: number; mtimeMs: number }>;
  readFile(path: string): Promise<Buffer>;
  /** Creates the file (it must not exist) and opens it for appending. */
  createAppend(path: string): Promise<AppendFile>;
  /** Writes the whole file and fsyncs it before resolving. */
  writeFileSynced(path: string, data: Buffer): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** fsync of a directory, so creations, renames and deletions in it are durable. */
  syncDir(dir: string): Promise<void>;
}

export const nodeDisk: Disk = {
  async mkdirp(dir) {
    await fs.mkdir(dir, { recursive: true });
  },
  list: (dir) => fs.readdir(dir),
  async stat(path) {
    const s = await fs.stat(path);
    return { size: s.size, mtimeMs: s.mtimeMs };
  },
  readFile: (path) => fs.readFile(path),
  async createAppend(path) {
    const handle = await fs.open(
      path,
      constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_APPEND,
    );
    return {
      async append(chunks) {
        let pending = chunks;
        // writev may write less than asked (a nearly full disk): go on with the rest.
        while (pending.length > 0) {
          const total = pending.reduce((n, c) => n + c.length, 0);
          const { bytesWritten } = await handle.writev(pending);
          if (bytesWritten >= total) return;
          let skip = bytesWritten;
          const rest: Buffer[] = [];
          for (const c of pending) {
            if (skip >= c.length) skip -= c.length;
            else {
              rest.push(c.subarray(skip));
              skip = 0;
            }
          }
          pending = rest;
        }
      },
      sync: () => handle.datasync(),
      truncate: (length) => handle.truncate(length),
      close: () => handle.close(),
    };
  },
  async writeFileSynced(path, data) {
    const handle = await fs.open(path, "w");
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  rename: (from, to) => fs.rename(from, to),
  unlink: (path) => fs.unlink(path),
  async syncDir(dir) {
    const handle = await fs.open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};
