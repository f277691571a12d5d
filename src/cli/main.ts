// The `bench` CLI: parse → call a library function → print (the work stays in functions tests call). Exit codes: 0 ok,
// 1 a case failed or timed out (or a regression), 2 usage, suite or database errors.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError, messages } from "../messages.js";
import { commands, type Command } from "./commands.js";

const HELP = `bench — measure what PEFT and sparse/compressed models really cost

Usage: bench <command> [options]

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join("\n")}

Run \`bench <command> --help\` for a command's options.`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(HELP);
    return name ? 0 : 2;
  }
  if (name === "--version") {
    const { packageVersion } = await import("../run/environment.js");
    console.log(packageVersion());
    return 0;
  }
  const command = commands[name];
  try {
    if (!command) throw new UsageError(messages.unknownCommand(name));
    if (rest.includes("--help") || rest.includes("-h")) {
      console.log(commandHelp(name, command));
      return 0;
    }
    const parsed = parseCommandArgs(name, command, rest);
    return await command.run(parsed.values as Record<string, unknown>, parsed.positionals);
  } catch (error) {
    if (error instanceof UsageError || (error as { exitCode?: number }).exitCode === 2) {
      console.error(`error: ${(error as Error).message}`);
      return 2;
    }
    throw error;
  }
}

function parseCommandArgs(name: string, command: Command, args: string[]) {
  try {
    return parseArgs({
      args,
      options: command.options as ParseArgsConfig["options"],
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(`bench ${name}: ${(error as Error).message} — run \`bench ${name} --help\``);
  }
}

function commandHelp(name: string, command: Command): string {
  const options = Object.entries(command.options)
    .map(([flag, o]) => `  --${flag}${o.type === "string" ? " <value>" : ""}`.padEnd(28) + (o.description ?? ""))
    .join("\n");
  return `bench ${name} ${command.usage}\n\n${command.summary}\n\nOptions:\n${options}`;
}
