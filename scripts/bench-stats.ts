// How long the hierarchical bootstrap takes on a large case (3 processes × 5,000 iterations, 2,000 resamples): the
// statistics run after every case, so they must stay well under a second. A benchmark, not a timed unit test (the
// machines are noisy): it prints the median of 7 timings. Usage: npm run bench:stats
import { createRng, medianCI } from "../src/measure/stats.js";

const rng = createRng(5);
const normal = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
const data = Array.from({ length: 3 }, () => {
  const offset = 0.05 * normal();
  return Array.from({ length: 5000 }, () => 10 * Math.exp(offset + 0.2 * normal()));
});
const timings: number[] = [];
for (let i = 0; i < 7; i++) {
  const started = performance.now();
  medianCI(data, { resamples: 2000, seed: i });
  timings.push(performance.now() - started);
}
timings.sort((a, b) => a - b);
console.log(
  `medianCI, 3 processes × 5,000 iterations, 2,000 resamples: median ${timings[3]!.toFixed(0)} ms (min ${timings[0]!.toFixed(0)}, max ${timings[6]!.toFixed(0)}) over 7 runs — target: well under 1,000 ms`,
);
