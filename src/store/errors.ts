// Typed store errors and their texts (what, where, how to fix). A StoreError is a database
// error: the CLI prints its message without a stack trace and exits 2.

export type StoreErrorCode =
  | "schema-too-new"
  | "schema-too-old"
  | "schema-mismatch"
  | "not-sqlite"
  | "corrupt"
  | "not-a-store"
  | "cannot-open"
  | "read-only"
  | "busy"
  | "disk-full"
  | "io-error"
  | "invalid-record"
  | "unknown-run"
  | "closed";

export class StoreError extends Error {
  readonly exitCode = 2;
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "StoreError";
  }
}

export const storeMessages = {
  schemaTooNew: (path: string, found: number, known: number) =>
    `${path}: results database has schema version ${found}, but this effbench knows versions up to ${known} — it was written by a newer effbench; upgrade effbench to read or extend it (or use another --db file)`,
  schemaTooOld: (path: string, found: number, known: number) =>
    `${path}: results database has schema version ${found}, older than this effbench's ${known}, and it was opened read-only — open it once read-write (e.g. \`bench run <suite> --db ${path}\` or \`bench merge\`) to migrate it`,
  schemaMismatch: (input: string, found: number, expected: number) =>
    `${input}: shard has schema version ${found}, but this effbench merges versions 1 to ${expected} — ${found > expected ? "it was written by a newer effbench: upgrade effbench here to merge it" : "it is not an effbench results database"}`,
  notSqlite: (path: string) =>
    `${path}: not an SQLite database (the file header is wrong) — pass a results .db file written by \`bench run\`, or a new path to create one`,
  corrupt: (path: string, detail: string) =>
    `${path}: the SQLite database is corrupt (${detail}) — restore it from a copy, or recover what is readable with \`sqlite3 ${path} .recover | sqlite3 recovered.db\``,
  notAStore: (path: string) =>
    `${path}: an SQLite database, but not an effbench results database (no effbench schema) — pass a file written by \`bench run\``,
  cannotOpen: (path: string, detail: string) =>
    `${path}: cannot open the results database (${detail}) — check that the path exists and is readable`,
  readOnly: (path: string) =>
    `${path}: the results database is read-only — check the file's permissions, or write to another --db file`,
  busy: (path: string, waitedMs: number) =>
    `${path}: the results database stayed locked by another writer for ${Math.round(waitedMs / 1000)} s — is another bench process stuck? On a network filesystem (NFS, Lustre) SQLite locking does not work: write a local --db per shard and join them with \`bench merge\``,
  diskFull: (path: string) => `${path}: the disk is full — free space or write to another --db file`,
  ioError: (path: string, code: string) =>
    `${path}: the results database could not be read or written (${code}) — the disk may be full, read-only or failing; free space, check the disk, or write to another --db file`,
  nullWithoutReason: (caseName: string, metric: string) =>
    `${caseName}: metric "${metric}" has no value and no reason — a metric that was not measured needs the reason why (never 0, never silent)`,
  statusWithoutReason: (caseName: string, status: string) => `${caseName}: a ${status} result needs a reason`,
  nonFiniteSample: (caseName: string, metric: string, repeat: number, index: number, value: number) =>
    `${caseName}: sample ${metric}[repeat ${repeat}][${index}] is ${value} — per-iteration samples must be finite numbers`,
  seriesLengths: (caseName: string, metric: string) =>
    `${caseName}: sampler series "${metric}" has different numbers of times and values`,
  unknownRun: (path: string, runId: number) => `${path}: no run with id ${runId}`,
  closed: (path: string) => `${path}: the store is closed`,
} as const;
