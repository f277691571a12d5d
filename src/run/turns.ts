// Turn-taking for `bench compare --interleave` (src/compare/interleave.ts): a `bench run` started with
// EFFBENCH_INTERLEAVE_TURNS=<dir> and EFFBENCH_INTERLEAVE_SIDE=<name> waits before each case process until the
// coordinator hands it the turn, so that the two code versions' processes alternate one by one in one sitting.
// Files in <dir>: `<side>.ready.<k>` (waiting for turn k), `<side>.go.<k>` (its turn), `<side>.done.<k>`,
// `<side>.finished`. Plain files polled every few ms: nothing to install, works across any two checkouts.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const TURNS_DIR_VARIABLE = "EFFBENCH_INTERLEAVE_TURNS";
export const TURNS_SIDE_VARIABLE = "EFFBENCH_INTERLEAVE_SIDE";
export const TURN_POLL_MS = 5;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const turnFile = (dir: string, side: string, what: "ready" | "go" | "done", turn: number) =>
  join(dir, `${side}.${what}.${turn}`);
export const finishedFile = (dir: string, side: string) => join(dir, `${side}.finished`);

export class TurnTaker {
  private turn = 0;
  private open = false;
  constructor(
    private readonly dir: string,
    private readonly side: string,
  ) {}

  /** From the environment, or undefined outside an interleaved sitting. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): TurnTaker | undefined {
    const dir = env[TURNS_DIR_VARIABLE];
    const side = env[TURNS_SIDE_VARIABLE];
    return dir && side ? new TurnTaker(dir, side) : undefined;
  }

  async before(signal?: AbortSignal): Promise<void> {
    this.closeTurn();
    writeFileSync(turnFile(this.dir, this.side, "ready", this.turn), "");
    while (!existsSync(turnFile(this.dir, this.side, "go", this.turn))) {
      if (signal?.aborted) return;
      await sleep(TURN_POLL_MS);
    }
    this.open = true;
  }

  after(): void {
    this.closeTurn();
  }

  /** Hands the turn back for good (the run is over). */
  finish(): void {
    this.closeTurn();
    writeFileSync(finishedFile(this.dir, this.side), "");
  }

  private closeTurn(): void {
    if (!this.open) return;
    writeFileSync(turnFile(this.dir, this.side, "done", this.turn), "");
    this.open = false;
    this.turn++;
  }
}
