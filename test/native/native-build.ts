// Builds the addon and the fake NVML libraries once (scripts/build-native.sh is a no-op when up to date).
import { execFileSync } from "node:child_process";
import { fromRoot } from "../../src/paths.js";

export const FAKE_NVML = fromRoot("native", "build", "fake-nvml", "libnvidia-ml.so.1");
export const FAKE_NVML_OLD_DRIVER = fromRoot("native", "build", "fake-nvml", "old-driver", "libnvidia-ml.so.1");

export function buildNative(): void {
  execFileSync("bash", [fromRoot("scripts", "build-native.sh")], { stdio: "pipe" });
}
