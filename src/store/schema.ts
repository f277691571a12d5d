// The results schema as numbered migrations (docs/store.md). `PRAGMA user_version` holds the number of the last
// migration applied; a migration is only ever appended, never edited, once released. docs/store.md describes
// the tables.

export const MIGRATIONS: readonly string[] = [
  // 1: the initial schema.
  `
  CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    -- Globally unique: \`bench merge\` dedupes runs by it, so merging a shard twice changes nothing.
    uuid TEXT NOT NULL UNIQUE,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    suite_name TEXT NOT NULL,
    suite_path TEXT NOT NULL,
    suite_hash TEXT NOT NULL,
    resolved_suite_json TEXT NOT NULL,
    git_commit TEXT,
    code_version TEXT NOT NULL,
    argv_json TEXT NOT NULL,
    hostname TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'interrupted', 'failed')),
    -- Provenance of a merged run: the shard file it came from and its id there (NULL when written here).
    merged_from TEXT,
    original_id INTEGER
  );

  CREATE TABLE env (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value_json TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
  );

  CREATE TABLE cases (
    id TEXT PRIMARY KEY,
    case_key TEXT NOT NULL,
    name TEXT NOT NULL,
    model TEXT NOT NULL,
    technique TEXT NOT NULL,
    scenario TEXT NOT NULL,
    workload_json TEXT NOT NULL,
    runner TEXT NOT NULL,
    details_json TEXT NOT NULL
  );
  CREATE INDEX cases_case_key ON cases(case_key);

  CREATE TABLE results (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    case_id TEXT NOT NULL REFERENCES cases(id),
    config_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('completed', 'failed', 'timed-out', 'unsupported')),
    reason TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    repeats INTEGER NOT NULL,
    -- The protocol and runner settings the case was planned with (part of the config hash).
    config_json TEXT,
    -- The settings the runner actually used (threads, EP, dtype…).
    settings_json TEXT,
    details_json TEXT,
    CHECK (status = 'completed' OR reason IS NOT NULL)
  );
  CREATE INDEX results_run ON results(run_id);
  CREATE INDEX results_case ON results(case_id);
  CREATE INDEX results_config_hash ON results(config_hash, status);

  -- Raw per-iteration values: one row per timed iteration of each repeat (process).
  CREATE TABLE samples (
    result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
    repeat INTEGER NOT NULL,
    metric TEXT NOT NULL,
    iteration INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (result_id, metric, repeat, iteration)
  ) WITHOUT ROWID;

  -- Time series from the sampler thread during a repeat (RSS, GPU memory, power…): seq orders the rows,
  -- t_ms is the time since the repeat's measure window opened.
  CREATE TABLE sampler_samples (
    result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
    repeat INTEGER NOT NULL,
    metric TEXT NOT NULL,
    seq INTEGER NOT NULL,
    t_ms REAL NOT NULL,
    value REAL,
    PRIMARY KEY (result_id, metric, repeat, seq)
  ) WITHOUT ROWID;

  CREATE TABLE metrics (
    result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value REAL,
    unit TEXT NOT NULL,
    ci_low REAL,
    ci_high REAL,
    -- Why value is NULL (never 0 for something not measured).
    reason TEXT,
    -- How to read the number (e.g. that PCU is a duty cycle).
    label TEXT,
    PRIMARY KEY (result_id, name),
    CHECK (value IS NOT NULL OR reason IS NOT NULL)
  );
  CREATE INDEX metrics_name ON metrics(name);

  CREATE TABLE validity (
    result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
    flag TEXT NOT NULL,
    detail TEXT NOT NULL
  );
  CREATE INDEX validity_result ON validity(result_id);
  `,
  // 2: the pid of the bench process that writes a run, so that a later run on the same host can tell a run whose
  // process was killed hard (-9, OOM killer) from one still going, and mark it interrupted.
  `
  ALTER TABLE runs ADD COLUMN pid INTEGER;
  `,
  // 3: the machine-drift control (docs/protocol.md): a small fixed workload measured in its own process between
  // the cases' processes, so that \`bench compare\` can tell a machine that changed between two runs from code
  // that did. One row per control process; its per-iteration times in control_samples.
  `
  CREATE TABLE control_processes (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    -- What the control measures, e.g. "ort cpu: MatMul 64×512 · 512×512 fp32, 1 intra-op thread": compare pairs
    -- controls by it.
    control TEXT NOT NULL,
    -- The case whose process it followed.
    case_key TEXT,
    measured_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('completed', 'failed', 'unsupported')),
    reason TEXT,
    settings_json TEXT,
    CHECK (status = 'completed' OR reason IS NOT NULL)
  );
  CREATE INDEX control_processes_run ON control_processes(run_id);

  CREATE TABLE control_samples (
    process_id INTEGER NOT NULL REFERENCES control_processes(id) ON DELETE CASCADE,
    iteration INTEGER NOT NULL,
    -- Host wall time of one iteration of the control, ms.
    value REAL NOT NULL,
    PRIMARY KEY (process_id, iteration)
  ) WITHOUT ROWID;
  `,
  // 4: one row per request of a serving point (runners/serve): its intended and actual send time (ms from the
  // point's start), time to first token, decode time per output token, end-to-end latency, the gaps between
  // streamed events (a summary), the token counts the server reported, and its status or error.
  `
  CREATE TABLE serve_requests (
    result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
    repeat INTEGER NOT NULL,
    request INTEGER NOT NULL,
    adapter TEXT,
    intended_ms REAL NOT NULL,
    sent_ms REAL NOT NULL,
    send_lag_ms REAL NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'timeout')),
    http_status INTEGER,
    error TEXT,
    ttft_ms REAL,
    tpot_ms REAL,
    e2e_ms REAL NOT NULL,
    itl_count INTEGER,
    itl_mean_ms REAL,
    itl_p50_ms REAL,
    itl_p99_ms REAL,
    itl_max_ms REAL,
    prompt_tokens INTEGER,
    output_tokens INTEGER,
    PRIMARY KEY (result_id, repeat, request),
    CHECK (status = 'ok' OR error IS NOT NULL)
  ) WITHOUT ROWID;
  `,
  // 5: a serving request's intended lengths (the prompt's token count it was built with, the max_tokens it sent; the
  // achieved ones stay in prompt_tokens / output_tokens from usage), and, in a duration-bound point, whether it ended
  // within the window, drained after it, or was cancelled at its end (NULL: the point was bound by a request count).
  `
  ALTER TABLE serve_requests ADD COLUMN intended_prompt_tokens INTEGER;
  ALTER TABLE serve_requests ADD COLUMN intended_output_tokens INTEGER;
  ALTER TABLE serve_requests ADD COLUMN phase TEXT CHECK (phase IN ('window', 'drained', 'cancelled'));
  `,
];

/** The first version with the serve_requests table (older files have none: readers treat it as empty). */
export const SERVE_REQUESTS_VERSION = 4;

/** The first version with serve_requests' intended lengths and phase (older rows read them as NULL). */
export const SERVE_REQUEST_PHASE_VERSION = 5;

/** The schema version this code writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The oldest version read-only opens (report, compare, export, merge shards) accept: later migrations only add
 * what writers use (runs.pid, the control tables), so older files — committed fixtures, old shards — still read.
 */
export const OLDEST_READABLE_VERSION = 1;
