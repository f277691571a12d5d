// The drift control's rows (schema 3, docs/store.md): one per control process, with its per-iteration times. Kept
// apart from store.ts; the Store calls these inside its own transactions. A file older than schema 3 has no control.
import type { Connection, SqlValue } from "./sqlite.js";

/** One process of a drift control, as measured between the cases' processes of a run. */
export interface ControlRecord {
  /** What the control measures (its key: base and head controls are paired by it). */
  control: string;
  /** The case whose process it followed. */
  caseKey: string | null;
  measuredAt: string;
  status: "completed" | "failed" | "unsupported";
  /** Required unless completed: why nothing was measured. */
  reason?: string;
  /** Host wall time per iteration, ms (empty unless completed). */
  valuesMs: number[];
  settings?: Record<string, unknown>;
}

export interface ControlRow extends ControlRecord {
  id: number;
  runId: number;
}

/** Whether the file has the control tables (schema 3 on): older files compare with drift not controlled. */
export async function hasControlTables(connection: Connection): Promise<boolean> {
  const row = await connection.get<{ n: number }>(
    "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'control_processes'",
  );
  return (row?.n ?? 0) > 0;
}

export async function insertControl(connection: Connection, runId: number, record: ControlRecord): Promise<number> {
  if (record.status !== "completed" && !record.reason)
    throw new Error(`control "${record.control}": a ${record.status} control needs a reason`);
  if (record.valuesMs.some((v) => !Number.isFinite(v)))
    throw new Error(`control "${record.control}": a non-finite iteration time`);
  const { lastId } = await connection.run(
    "INSERT INTO control_processes (run_id, control, case_key, measured_at, status, reason, settings_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
    [
      runId,
      record.control,
      record.caseKey,
      record.measuredAt,
      record.status,
      record.reason ?? null,
      record.settings === undefined ? null : JSON.stringify(record.settings),
    ],
  );
  for (let start = 0; start < record.valuesMs.length; start += 300) {
    const chunk = record.valuesMs.slice(start, start + 300);
    const params: SqlValue[] = chunk.flatMap((v, i) => [lastId, start + i, v]);
    await connection.run(
      `INSERT INTO control_samples (process_id, iteration, value) VALUES ${chunk.map(() => "(?, ?, ?)").join(", ")}`,
      params,
    );
  }
  return lastId;
}

/** The control processes of some runs (all runs when none given), in the order they were measured. */
export async function selectControls(connection: Connection, runIds?: number[]): Promise<ControlRow[]> {
  if (!(await hasControlTables(connection))) return [];
  const where = runIds ? `WHERE run_id IN (${runIds.map(() => "?").join(", ") || "NULL"})` : "";
  const rows = await connection.all<Record<string, unknown>>(
    `SELECT * FROM control_processes ${where} ORDER BY run_id, id`,
    runIds ?? [],
  );
  const samples = await connection.all<{ process_id: number; value: number }>(
    `SELECT process_id, value FROM control_samples WHERE process_id IN (SELECT id FROM control_processes ${where}) ORDER BY process_id, iteration`,
    runIds ?? [],
  );
  const values = new Map<number, number[]>();
  for (const s of samples) {
    const list = values.get(s.process_id);
    if (list) list.push(s.value);
    else values.set(s.process_id, [s.value]);
  }
  return rows.map((r) => ({
    id: r.id as number,
    runId: r.run_id as number,
    control: r.control as string,
    caseKey: r.case_key as string | null,
    measuredAt: r.measured_at as string,
    status: r.status as ControlRecord["status"],
    ...(r.reason ? { reason: r.reason as string } : {}),
    valuesMs: values.get(r.id as number) ?? [],
    ...(r.settings_json ? { settings: JSON.parse(r.settings_json as string) as Record<string, unknown> } : {}),
  }));
}

/** Copies a merged shard run's control rows (the shard is ATTACHed as `shard`; schema 3 on). */
export async function copyShardControls(connection: Connection, shardRunId: number, runId: number): Promise<void> {
  const shardHas = await connection.get<{ n: number }>(
    "SELECT count(*) AS n FROM shard.sqlite_master WHERE type = 'table' AND name = 'control_processes'",
  );
  if (!shardHas?.n) return;
  const offset = (await connection.get<{ top: number }>(
    "SELECT COALESCE(MAX(id), 0) AS top FROM main.control_processes",
  ))!.top;
  await connection.run(
    `INSERT INTO main.control_processes (id, run_id, control, case_key, measured_at, status, reason, settings_json)
     SELECT id + ?, ?, control, case_key, measured_at, status, reason, settings_json FROM shard.control_processes WHERE run_id = ?`,
    [offset, runId, shardRunId],
  );
  await connection.run(
    `INSERT INTO main.control_samples (process_id, iteration, value) SELECT process_id + ?, iteration, value FROM shard.control_samples
     WHERE process_id IN (SELECT id FROM shard.control_processes WHERE run_id = ?)`,
    [offset, shardRunId],
  );
}
