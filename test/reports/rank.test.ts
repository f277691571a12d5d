import { describe, expect, it } from "vitest";
import { paretoFront, rankByConfidence } from "../../reports/rank.js";

describe("rankByConfidence", () => {
  it("gives distinct ranks when no two CIs overlap", () => {
    const ranks = rankByConfidence(
      [
        { value: 3, ciLow: 2.9, ciHigh: 3.1 },
        { value: 1, ciLow: 0.9, ciHigh: 1.1 },
        { value: 2, ciLow: 1.9, ciHigh: 2.1 },
      ],
      "lower",
    );
    expect(ranks).toEqual([
      { rank: 3, tie: false },
      { rank: 1, tie: false },
      { rank: 2, tie: false },
    ]);
  });

  it("ties entries whose CIs overlap, and ranks after the entries that are better beyond doubt", () => {
    // a [1, 2] and b [1.5, 2.5] overlap; c [3, 4] overlaps neither, so both a and b beat it.
    const ranks = rankByConfidence(
      [
        { value: 1.5, ciLow: 1, ciHigh: 2 },
        { value: 2, ciLow: 1.5, ciHigh: 2.5 },
        { value: 3.5, ciLow: 3, ciHigh: 4 },
      ],
      "lower",
    );
    expect(ranks).toEqual([
      { rank: 1, tie: true },
      { rank: 1, tie: true },
      { rank: 3, tie: false },
    ]);
  });

  it("is not transitive: a chain of overlaps ranks by what lies beyond doubt", () => {
    // a [0, 1], b [0.9, 2], c [1.9, 3]: a beats c, b beats nobody, so ranks 1, 1, 2.
    const ranks = rankByConfidence(
      [
        { value: 0.5, ciLow: 0, ciHigh: 1 },
        { value: 1.5, ciLow: 0.9, ciHigh: 2 },
        { value: 2.5, ciLow: 1.9, ciHigh: 3 },
      ],
      "lower",
    );
    expect(ranks.map((r) => r.rank)).toEqual([1, 1, 2]);
  });

  it("ranks the highest first when higher is better", () => {
    const ranks = rankByConfidence(
      [
        { value: 100, ciLow: 95, ciHigh: 105 },
        { value: 200, ciLow: 190, ciHigh: 210 },
        { value: 198, ciLow: 180, ciHigh: 215 },
      ],
      "higher",
    );
    expect(ranks.map((r) => r.rank)).toEqual([3, 1, 1]);
    expect(ranks[1].tie).toBe(true);
  });

  it("treats a value without a CI as an exact point, so only equal values tie", () => {
    const ranks = rankByConfidence(
      [
        { value: 5, ciLow: null, ciHigh: null },
        { value: 5, ciLow: null, ciHigh: null },
        { value: 7, ciLow: null, ciHigh: null },
      ],
      "lower",
    );
    expect(ranks).toEqual([
      { rank: 1, tie: true },
      { rank: 1, tie: true },
      { rank: 3, tie: false },
    ]);
  });
});

describe("paretoFront", () => {
  it("keeps the points that no other point dominates on both axes", () => {
    const points = [
      { x: 1, y: 10 }, // front: least x
      { x: 2, y: 5 }, // front
      { x: 3, y: 6 }, // dominated by (2, 5)
      { x: 4, y: 1 }, // front: least y
      { x: 4, y: 2 }, // dominated by (4, 1)
    ];
    expect(paretoFront(points, "lower", "lower")).toEqual([true, true, false, true, false]);
  });

  it("follows each axis' direction", () => {
    // Lower x and higher y are better: (1, 1) and (2, 3) are on the front, (3, 2) is dominated by (2, 3).
    expect(
      paretoFront(
        [
          { x: 1, y: 1 },
          { x: 2, y: 3 },
          { x: 3, y: 2 },
        ],
        "lower",
        "higher",
      ),
    ).toEqual([true, true, false]);
  });

  it("keeps identical points on the front together", () => {
    expect(
      paretoFront(
        [
          { x: 1, y: 1 },
          { x: 1, y: 1 },
          { x: 2, y: 2 },
        ],
        "lower",
        "lower",
      ),
    ).toEqual([true, true, false]);
  });
});
