// Every user-facing error text lives here: what is wrong, where, how to fix it.

/** An error caused by the user's input: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export const messages = {
  suiteNotFound: (path: string) => `${path}: suite file not found — check the path (suites live in suites/*.ts)`,
  suiteSyntax: (path: string, detail: string) => `${path}: the suite file does not compile —\n${detail}`,
  suiteNoDefault: (path: string) =>
    `${path}: the suite has no default export — end it with \`export default defineSuite({ ... })\``,
  suiteThrew: (path: string, detail: string) => `${path}: the suite file threw while loading: ${detail}`,
  suiteInvalid: (path: string, issues: string[]) =>
    `${path}: the suite is not valid —\n${issues.map((i) => `  ${path} › ${i}`).join("\n")}`,
  unknownCommand: (cmd: string) => `unknown command "${cmd}" — run \`bench --help\` for the commands`,
  missingArgument: (cmd: string, what: string) => `bench ${cmd}: missing ${what} — run \`bench ${cmd} --help\``,
  badOption: (option: string, detail: string) => `${option}: ${detail}`,
  filterMatchedNothing: (filter: string, count: number) =>
    `--filter "${filter}" matched none of the ${count} planned cases — run \`bench list <suite>\` to see case ids and names`,
  caseNotFound: (id: string) => `--case ${id}: no planned case has this id — run \`bench list <suite>\` to see ids`,
  interrupted: (suitePath: string, db: string) =>
    `interrupted — what completed is in ${db}; resume with: bench run ${suitePath} --db ${db} --resume`,
} as const;
