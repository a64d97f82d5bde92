/**
 * Starts a real runner process (`node bin/semani.js runner`) on a free loopback port for tests,
 * reads its JSON log lines, and stops or kills it. The runner picks the port itself (`--port 0`)
 * and reports it in its `runner.listening` line, so parallel test files never race for a port.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CLI_PATH = fileURLToPath(new URL('../../bin/semani.js', import.meta.url))

/** Time a tiny-profile runner gets to become READY; generous because CI machines are shared. */
export const RUNNER_START_TIMEOUT_MS = 120_000

export interface RunnerProcessOptions {
  readonly profile?: 'tiny' | 'cpu' | 'gpu'
  /** Passed as `--trusted-prefix`; the runner always starts with `--local`. */
  readonly trustedPrefixes?: readonly string[]
  /** Further command-line options, for example `['--queue', '0']`. */
  readonly args?: readonly string[]
  readonly env?: Readonly<Record<string, string>>
  /** `ready` (default) waits for health READY; `listening` returns once the port is bound. */
  readonly waitFor?: 'listening' | 'ready'
  readonly startTimeoutMs?: number
}

/** A running runner process. */
export interface RunnerProcess {
  /** Base URL, for example `http://127.0.0.1:40211`. */
  readonly url: string
  readonly port: number
  readonly child: ChildProcess
  /** JSON log lines printed so far, parsed. */
  readonly logLines: Record<string, unknown>[]
  /** Resolves with the exit code (null after a signal) when the process exits. */
  readonly exited: Promise<number | null>
  /**
   * Resolves with the first log line, from now on, that `matches` accepts. It resolves inside
   * the stderr handler, so a test can act on a log line with little delay.
   */
  waitForLogLine(
    matches: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number
  ): Promise<Record<string, unknown>>
  /** Sends SIGTERM (or `signal`) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/**
 * Spawns the runner and waits until it listens (and, by default, is READY).
 *
 * @throws Error with the runner's stderr when it exits, fails setup or misses the time limit.
 */
export async function startRunnerProcess(
  options: RunnerProcessOptions = {}
): Promise<RunnerProcess> {
  const args = [
    CLI_PATH,
    'runner',
    '--profile',
    options.profile ?? 'tiny',
    '--port',
    '0',
    '--local',
    ...(options.trustedPrefixes ?? []).flatMap((prefix) => ['--trusted-prefix', prefix]),
    ...(options.args ?? []),
  ]
  const child = spawn(process.execPath, args, {
    cwd: REPOSITORY_ROOT,
    env: { ...process.env, SEMANI_LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const logLines: Record<string, unknown>[] = []
  const lineWatchers = new Set<(line: Record<string, unknown>) => void>()
  let stderrText = ''
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code))
  )
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = ''
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => {
      stderrText += chunk
      buffered += chunk
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) {
        const parsed = parseLogLine(line)
        if (parsed === undefined) continue
        logLines.push(parsed)
        for (const watch of lineWatchers) watch(parsed)
        if (parsed.event === 'runner.listening') resolve(Number(parsed.port))
      }
    })
    void exited.then((code) =>
      reject(new Error(`Runner exited with ${code} before listening:\n${stderrText}`))
    )
  })

  const url = `http://127.0.0.1:${port}`
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    return exited
  }
  const waitForLogLine = (
    matches: (line: Record<string, unknown>) => boolean,
    timeoutMs = 30_000
  ): Promise<Record<string, unknown>> =>
    new Promise((resolveLine, rejectLine) => {
      const timer = setTimeout(() => {
        lineWatchers.delete(watch)
        rejectLine(new Error(`No matching runner log line within ${timeoutMs} ms`))
      }, timeoutMs)
      const watch = (line: Record<string, unknown>) => {
        if (!matches(line)) return
        clearTimeout(timer)
        lineWatchers.delete(watch)
        resolveLine(line)
      }
      lineWatchers.add(watch)
    })
  const runner: RunnerProcess = { url, port, child, logLines, exited, stop, waitForLogLine }
  if (options.waitFor === 'listening') return runner

  try {
    await waitUntilReady(url, options.startTimeoutMs ?? RUNNER_START_TIMEOUT_MS)
  } catch (error) {
    await stop('SIGKILL')
    throw new Error(`${(error as Error).message}\nRunner stderr:\n${stderrText}`, { cause: error })
  }
  return runner
}

/** Polls `GET /health-check` until READY; throws on SETUP_FAILED or when time runs out. */
export async function waitUntilReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const health = (await (await fetch(`${url}/health-check`)).json()) as {
      status: string
      setup: { logs: string }
    }
    if (health.status === 'READY') return
    if (health.status === 'SETUP_FAILED')
      throw new Error(`Runner setup failed:\n${health.setup.logs}`)
    if (Date.now() > deadline)
      throw new Error(`Runner not READY within ${timeoutMs} ms (${health.status})`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

function parseLogLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined
  try {
    return JSON.parse(line) as Record<string, unknown>
  } catch {
    // A line that merely starts with "{" but is not JSON is ordinary output; skip it.
    return undefined
  }
}
