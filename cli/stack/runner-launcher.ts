/**
 * Starts the runner as a child process (`semani runner`) for the local stack and waits until
 * its models are loaded. The runner picks a free port itself and reports it in its
 * `runner.listening` log line.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const CLI_PATH = fileURLToPath(new URL('../../bin/semani.js', import.meta.url))

/** Time the runner gets to load its models; real CPU weights take minutes on a small machine. */
const RUNNER_READY_TIMEOUT_MS = 15 * 60_000

export interface LaunchedRunner {
  readonly url: string
  readonly child: ChildProcess
  stop(): Promise<void>
}

/**
 * Spawns the runner on loopback with `profile` and resolves once its health check reports READY.
 *
 * @param onLogLine Receives each JSON log line of the runner.
 * @throws Error with the runner's last log lines when it exits or its setup fails.
 */
export async function launchRunner(options: {
  profile: string
  /** URL prefixes the runner may fetch inputs from and upload outputs to. */
  trustedPrefixes: readonly string[]
  onLogLine?: (line: string) => void
}): Promise<LaunchedRunner> {
  const trusted = options.trustedPrefixes.flatMap((prefix) => ['--trusted-prefix', prefix])
  const child = spawn(
    process.execPath,
    [CLI_PATH, 'runner', '--profile', options.profile, '--port', '0', '--local', ...trusted],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SEMANI_LOG_LEVEL: 'info' } }
  )
  const recent: string[] = []
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  }

  try {
    const port = await readListeningPort(child, exited, (line) => {
      recent.push(line)
      if (recent.length > 20) recent.shift()
      options.onLogLine?.(line)
    })
    const url = `http://127.0.0.1:${port}`
    await waitForReady(url, exited)
    return { url, child, stop }
  } catch (error) {
    await stop()
    throw new Error(`${(error as Error).message}\nLast runner log lines:\n${recent.join('\n')}`, {
      cause: error,
    })
  }
}

function readListeningPort(
  child: ChildProcess,
  exited: Promise<number | null>,
  onLine: (line: string) => void
): Promise<number> {
  return new Promise((resolve, reject) => {
    let pending = ''
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => {
      pending += chunk
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines.filter(Boolean)) {
        onLine(line)
        const port = /"event":"runner\.listening".*"port":(\d+)/.exec(line)?.[1]
        if (port) resolve(Number(port))
      }
    })
    void exited.then((code) => reject(new Error(`The runner exited with code ${code}.`)))
  })
}

async function waitForReady(url: string, exited: Promise<number | null>): Promise<void> {
  const deadline = Date.now() + RUNNER_READY_TIMEOUT_MS
  let hasExited = false
  void exited.then(() => (hasExited = true))

  while (!hasExited && Date.now() < deadline) {
    const health = (await (await fetch(`${url}/health-check`)).json()) as { status: string }
    if (health.status === 'READY') return
    if (health.status === 'SETUP_FAILED') throw new Error('The runner failed to load its models.')
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(
    hasExited ? 'The runner exited during setup.' : 'The runner was not ready in time.'
  )
}
