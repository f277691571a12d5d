// Everything a reader needs is in the repository: no file cites design notes or tickets that a person who clones it
// cannot open (the reason itself, or a doc under docs/, stands in their place).
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { fromRoot } from "../../src/paths.js";

describe("citations", () => {
  it("name no file or ticket outside the repository", () => {
    const pattern = ["DESIGN", "CONVENTIONS"].map((n) => `${n}\\.md`).join("|") + "|[Ii]ssue [0-9]+";
    let found = "";
    try {
      found = execFileSync("git", ["grep", "-nE", pattern, "--", ".", ":!test/ci/citations.test.ts"], {
        cwd: fromRoot(),
        encoding: "utf8",
      });
    } catch (error) {
      // git grep exits 1 when nothing matches.
      if ((error as { status?: number }).status !== 1) throw error;
    }
    expect(found).toBe("");
  });
});
