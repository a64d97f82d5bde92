/**
 * `semani runner`: starts the GPU runner's HTTP service (Cog's prediction API) and keeps it up
 * until SIGTERM or SIGINT, which drain it: no new predictions, running ones finish, then exit.
 */
import { parseArgs } from 'node:util'

import { RUNNER_DEFAULTS, startRunnerService } from '../../gpu-runner/server/service.ts'
import type { PipelineProfile, RunnerPipeline } from '../../gpu-runner/server/pipeline-port.ts'
import { commandError, describeError } from '../output.ts'

const PROFILES: readonly PipelineProfile[] = ['tiny', 'cpu', 'gpu']

const USAGE = `Usage: semani runner --profile tiny|cpu|gpu [options]

Starts the runner's HTTP service (Cog prediction API) and loads the models of the profile.

Options:
  --profile NAME         Model profile: tiny (generated test models), cpu or gpu.
                         Default: $SEMANI_PROFILE.
  --model-dir DIR        Folder with the profile's model files (default: the pipeline's own).
  --host ADDR            Address to listen on (default ${RUNNER_DEFAULTS.host}; 0.0.0.0 in a container).
  --port N               Port to listen on (default ${RUNNER_DEFAULTS.port}; 0 picks a free port).
  --concurrency N        Predictions run at once (default ${RUNNER_DEFAULTS.concurrency}).
  --queue N              Predictions that may wait for a slot; more get 503 queue-full
                         (default ${RUNNER_DEFAULTS.queueCapacity}).
  --timeout-s S          Time limit of one prediction in seconds, from start of processing
                         to the end of the pipeline run (default ${RUNNER_DEFAULTS.timeoutMs / 1000}).
  --drain-timeout-s S    Longest wait for running predictions on SIGTERM, in seconds
                         (default ${RUNNER_DEFAULTS.drainTimeoutMs / 1000}).
  --trusted-prefix URL   URL prefix the runner may fetch from, upload to and post webhooks
                         to; repeat for several. $SEMANI_TRUSTED_PREFIXES adds more
                         (separated by spaces or commas).
  --local                Also allow loopback addresses and plain http (tests, local stack).
  -h, --help             Show this help.
`

/** Runs the command; resolves with the exit code once the service has stopped. */
export async function run(argv: string[]): Promise<number> {
  let options: RunnerCommandOptions
  try {
    options = parseRunnerArgs(argv, process.env)
  } catch (error) {
    return commandError(`${describeError(error)} Run \`semani runner --help\` for the options.`, 2)
  }
  if (options === 'help') {
    process.stdout.write(USAGE)
    return 0
  }

  const { loadEditPipeline } = await import('../../gpu-runner/pipeline/run-edit.ts')
  const loadPipeline = async (): Promise<RunnerPipeline> =>
    loadEditPipeline({
      profile: options.profile,
      ...(options.modelDir === undefined ? {} : { modelDir: options.modelDir }),
    })

  let service: Awaited<ReturnType<typeof startRunnerService>>
  try {
    service = await startRunnerService({ ...options.service, loadPipeline })
  } catch (error) {
    return commandError(`The runner could not start: ${describeError(error)}`)
  }

  await waitForStopSignal()
  await service.shutdown()
  return 0
}

interface RunnerCommandOptionsValue {
  readonly profile: PipelineProfile
  readonly modelDir: string | undefined
  readonly service: Omit<Parameters<typeof startRunnerService>[0], 'loadPipeline'>
}
type RunnerCommandOptions = RunnerCommandOptionsValue | 'help'

/**
 * Parses the command's arguments and environment.
 *
 * @throws Error with a one-line message for an unknown option or an invalid value.
 */
export function parseRunnerArgs(argv: string[], env: NodeJS.ProcessEnv): RunnerCommandOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      profile: { type: 'string' },
      'model-dir': { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      concurrency: { type: 'string' },
      queue: { type: 'string' },
      'timeout-s': { type: 'string' },
      'drain-timeout-s': { type: 'string' },
      'trusted-prefix': { type: 'string', multiple: true },
      local: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) return 'help'

  const profile = values.profile ?? env.SEMANI_PROFILE
  if (profile === undefined) throw new Error('Give --profile tiny, cpu or gpu.')
  if (!PROFILES.includes(profile as PipelineProfile)) {
    throw new Error(`Unknown profile "${profile}"; use one of ${PROFILES.join(', ')}.`)
  }
  const envPrefixes = (env.SEMANI_TRUSTED_PREFIXES ?? '').split(/[\s,]+/).filter(Boolean)

  return {
    profile: profile as PipelineProfile,
    modelDir: values['model-dir'],
    service: {
      trustedPrefixes: [...(values['trusted-prefix'] ?? []), ...envPrefixes],
      local: values.local ?? false,
      host: values.host ?? RUNNER_DEFAULTS.host,
      port: parseInteger('--port', values.port, RUNNER_DEFAULTS.port, { min: 0, max: 65535 }),
      concurrency: parseInteger('--concurrency', values.concurrency, RUNNER_DEFAULTS.concurrency, {
        min: 1,
      }),
      queueCapacity: parseInteger('--queue', values.queue, RUNNER_DEFAULTS.queueCapacity, {
        min: 0,
      }),
      timeoutMs:
        1000 *
        parseInteger('--timeout-s', values['timeout-s'], RUNNER_DEFAULTS.timeoutMs / 1000, {
          min: 1,
        }),
      drainTimeoutMs:
        1000 *
        parseInteger(
          '--drain-timeout-s',
          values['drain-timeout-s'],
          RUNNER_DEFAULTS.drainTimeoutMs / 1000,
          { min: 0 }
        ),
    },
  }
}

function parseInteger(
  name: string,
  text: string | undefined,
  fallback: number,
  range: { min: number; max?: number }
): number {
  if (text === undefined) return fallback
  const value = Number(text)
  const max = range.max ?? Number.MAX_SAFE_INTEGER
  if (!Number.isInteger(value) || value < range.min || value > max) {
    const bound = range.max === undefined ? `>= ${range.min}` : `from ${range.min} to ${range.max}`
    throw new Error(`${name} must be an integer ${bound}, got "${text}".`)
  }
  return value
}

// The first SIGTERM or SIGINT starts a drain; a second one while draining exits at once.
function waitForStopSignal(): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (): void => {
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
      process.once('SIGTERM', () => process.exit(1))
      process.once('SIGINT', () => process.exit(1))
      resolve()
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })
}
