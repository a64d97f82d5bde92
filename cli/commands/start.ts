/** `semani start`: runs the local stack until Ctrl-C. */
import { parseArgs } from 'node:util'

import { isProfile, PROFILES } from '../../gpu-runner/models/manifest.ts'
import { commandError, describeError } from '../output.ts'
import { describeProfileChoice } from '../stack/describe-profile.ts'
import { DEFAULT_STACK_PORT, startLocalStack } from '../stack/local-stack.ts'

const USAGE = `Usage: semani start [--profile NAME] [--persist-to DIR] [--verbose]

Starts the local stack on 127.0.0.1: the edge worker (API, docs and playground) under
Miniflare with local R2, D1, KV and Queues kept on disk, and the runner on the CPU. It runs
until Ctrl-C. The port is $PORT, or ${DEFAULT_STACK_PORT}.

Options:
  --profile NAME     Model profile: ${PROFILES.join(', ')} (default: the best one installed).
  --persist-to DIR   Local state folder (default .wrangler/state, as wrangler dev).
  --verbose          Print the log lines of the worker and the runner.
  -h, --help         Print this help.
`

/** Runs the command; resolves with the exit code once the stack has stopped. */
export async function run(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parseStartArgs>['values']
  try {
    values = parseStartArgs(argv).values
  } catch (error) {
    return commandError(`${describeError(error)}. Run \`semani start --help\`.`, 2)
  }
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  if (values.profile !== undefined && !isProfile(values.profile)) {
    return commandError(
      `Unknown profile "${values.profile}"; use one of ${PROFILES.join(', ')}.`,
      2
    )
  }
  const port = Number(process.env.PORT ?? DEFAULT_STACK_PORT)
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return commandError(`PORT must be a port number, got "${process.env.PORT}".`, 2)
  }

  process.stdout.write('Starting the local stack (runner, then worker)...\n')
  let stack: Awaited<ReturnType<typeof startLocalStack>>
  try {
    stack = await startLocalStack({
      port,
      ...(values.profile ? { profile: values.profile } : {}),
      ...(values['persist-to'] ? { persistTo: values['persist-to'] } : {}),
      ...(values.verbose ? { onLogLine: (line: string) => process.stderr.write(line + '\n') } : {}),
    })
  } catch (error) {
    return commandError(`The local stack could not start: ${describeError(error)}`)
  }

  process.stdout.write(
    [
      describeProfileChoice(stack.profile),
      `Playground:  ${stack.url}/`,
      `API docs:    ${stack.url}/docs`,
      `State:       ${stack.persistTo}`,
      'Create an API key with `npx semani keys create --name me` (same state folder).',
      'Press Ctrl-C to stop.',
      '',
    ].join('\n')
  )
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  process.stdout.write('Stopping...\n')
  await stack.stop()
  return 0
}

function parseStartArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      profile: { type: 'string' },
      'persist-to': { type: 'string' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}
