/** Output helpers shared by the commands: JSON on stdout, one-line errors on stderr. */

/** Prints `value` as one line of JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n')
}

/** Prints a one-line error on stderr and returns the exit code for it. */
export function commandError(message: string, exitCode = 1): number {
  process.stderr.write(`semani: ${message.replace(/\s*\n\s*/g, ' ')}\n`)
  return exitCode
}

/** Turns any thrown value into a one-line message for `commandError`. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
