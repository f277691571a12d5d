// Promises over @vscode/sqlite3's callback API, with SQLite's error codes turned into typed StoreErrors.
import sqlite3 from "@vscode/sqlite3";
import { StoreError, storeMessages } from "./errors.js";

export type SqlValue = string | number | null;
export interface RunResult {
  lastId: number;
  changes: number;
}

/** How long one statement waits for another connection's lock before SQLite reports SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 10_000;

/** SQLite's default limit on `?` parameters per statement (SQLITE_MAX_VARIABLE_NUMBER since 3.32). */
export const MAX_SQL_VARIABLES = 32_766;

export class Connection {
  private constructor(
    private readonly db: sqlite3.Database,
    readonly path: string,
  ) {}

  static open(path: string, options: { readonly?: boolean } = {}): Promise<Connection> {
    const mode = options.readonly ? sqlite3.OPEN_READONLY : sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE;
    return new Promise((resolve, reject) => {
      const db: sqlite3.Database = new sqlite3.Database(path, mode, (error) => {
        if (error) reject(storeError(path, error));
        else {
          db.configure("busyTimeout", BUSY_TIMEOUT_MS);
          resolve(new Connection(db, path));
        }
      });
    });
  }

  run(sql: string, params: SqlValue[] = []): Promise<RunResult> {
    const path = this.path;
    return new Promise((resolve, reject) => {
      // A function, not an arrow: the driver passes lastID and changes as `this`.
      this.db.run(sql, params, function (error) {
        if (error) reject(storeError(path, error));
        else resolve({ lastId: this.lastID, changes: this.changes });
      });
    });
  }

  get<T>(sql: string, params: SqlValue[] = []): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      this.db.get(sql, params, (error, row) =>
        error ? reject(storeError(this.path, error)) : resolve(row as T | undefined),
      );
    });
  }

  all<T>(sql: string, params: SqlValue[] = []): Promise<T[]> {
    return new Promise((resolve, reject) => {
      this.db.all(sql, params, (error, rows) => (error ? reject(storeError(this.path, error)) : resolve(rows as T[])));
    });
  }

  /** Several statements without parameters (migrations). */
  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.db.exec(sql, (error) => (error ? reject(storeError(this.path, error)) : resolve()));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.db.close((error) => (error ? reject(storeError(this.path, error)) : resolve()));
    });
  }
}

/** SQLite's primary result code of an error from the driver (`SQLITE_BUSY`…), if any. */
export function sqliteCode(error: unknown): string | undefined {
  if (error instanceof StoreError) return (error.cause as { code?: string } | undefined)?.code;
  return (error as { code?: string } | undefined)?.code;
}

export function isBusy(error: unknown): boolean {
  const code = sqliteCode(error);
  return code === "SQLITE_BUSY" || code === "SQLITE_LOCKED";
}

/** A driver error as a StoreError with a message that says what to do; other errors pass through unchanged. */
export function storeError(path: string, error: Error): Error {
  if (error instanceof StoreError) return error;
  const code = (error as { code?: string }).code;
  const detail = error.message.replace(/^SQLITE_\w+: /, "");
  switch (code) {
    case "SQLITE_NOTADB":
      return new StoreError("not-sqlite", storeMessages.notSqlite(path), { cause: error });
    case "SQLITE_CORRUPT":
      return new StoreError("corrupt", storeMessages.corrupt(path, detail), { cause: error });
    case "SQLITE_CANTOPEN":
      return new StoreError("cannot-open", storeMessages.cannotOpen(path, detail), { cause: error });
    case "SQLITE_READONLY":
      return new StoreError("read-only", storeMessages.readOnly(path), { cause: error });
    case "SQLITE_FULL":
      return new StoreError("disk-full", storeMessages.diskFull(path), { cause: error });
    case "SQLITE_BUSY":
    case "SQLITE_LOCKED":
      return new StoreError("busy", storeMessages.busy(path, BUSY_TIMEOUT_MS), { cause: error });
    default:
      // SQLITE_IOERR_* (e.g. SHMSIZE when a full disk cannot hold the WAL index): an environment fault, not a bug.
      if (code?.startsWith("SQLITE_IOERR"))
        return new StoreError("io-error", storeMessages.ioError(path, code), { cause: error });
      return error;
  }
}
