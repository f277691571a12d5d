// The installed node-llama-cpp version, read from its package.json (which the package does not export) without
// importing the library.
import { readFileSync } from "node:fs";

export function nodeLlamaCppVersion(): string {
  const entry = new URL(import.meta.resolve("node-llama-cpp")); // …/node_modules/node-llama-cpp/dist/index.js
  return (JSON.parse(readFileSync(new URL("../package.json", entry), "utf8")) as { version: string }).version;
}
