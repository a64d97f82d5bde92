/** `semani tokenize TEXT [--json]`: prints the CLIP token ids of a text. */
import { parseArgs } from 'node:util'

import { loadClipTokenizer } from '../../gpu-runner/text/clip-tokenizer.ts'
import { commandError, describeError, printJson } from '../output.ts'

const USAGE = `Usage: semani tokenize TEXT [--json]

Prints the CLIP BPE token ids of TEXT, start (49406) and end (49407) tokens included, without
padding or truncation. Quote TEXT when it contains spaces; put -- before a TEXT that starts
with "-".

Options:
  --json      Print {"ids":[...]} instead of space-separated ids.
  -h, --help  Print this help.
`

/** Runs the command and returns its exit code: 0 on success, 1 on a failure, 2 on a usage error. */
export async function run(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseTokenizeArgs>
  try {
    parsed = parseTokenizeArgs(argv)
  } catch (error) {
    return commandError(`${describeError(error)}. Run \`semani tokenize --help\`.`, 2)
  }

  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  if (positionals.length !== 1) {
    return commandError(
      `Expected one TEXT argument, got ${positionals.length}. Quote text that contains spaces.`,
      2
    )
  }

  let ids: number[]
  try {
    ids = loadClipTokenizer().encode(positionals[0] as string)
  } catch (error) {
    return commandError(describeError(error))
  }

  if (values.json) printJson({ ids })
  else process.stdout.write(ids.join(' ') + '\n')
  return 0
}

function parseTokenizeArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  })
}
