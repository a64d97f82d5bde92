/**
 * The local stack: the runner on the CPU as a child process and the edge worker under
 * Miniflare (local R2, D1, KV, Queues and Durable Objects persisted on disk), both on
 * 127.0.0.1. `semani start` keeps it up; `semani demo` runs one edit through it.
 */
import path from 'node:path'

import { detectCuda } from '../../gpu-runner/onnx/sessions.ts'
import type { Profile } from '../../gpu-runner/models/manifest.ts'
import { chooseInstalledProfile, type ProfileChoice } from './profile-choice.ts'
import { launchRunner, type LaunchedRunner } from './runner-launcher.ts'

/** Port of the API and playground when PORT is not set (wrangler dev's default). */
export const DEFAULT_STACK_PORT = 8787

export interface LocalStack {
  /** Origin of the API and playground, for example `http://127.0.0.1:8787`. */
  readonly url: string
  readonly runnerUrl: string
  readonly profile: ProfileChoice
  /** Local state folder (wrangler's layout), shared with `semani keys`. */
  readonly persistTo: string
  /** Creates an API key in the stack's database and returns the key. */
  createKey(name: string): Promise<string>
  stop(): Promise<void>
}

/**
 * Starts the runner and the worker and wires the worker to the runner.
 *
 * @param profile A fixed profile, or the best installed one when absent.
 * @param onLogLine Receives every log line of the runner and the worker.
 */
export async function startLocalStack(options: {
  port?: number
  persistTo?: string
  profile?: Profile
  onLogLine?: (line: string) => void
}): Promise<LocalStack> {
  // Loaded here so that `semani --help` does not load wrangler and Miniflare.
  const { DEFAULT_PERSIST_DIR, startLocalWorker } = await import('../../functions/local/stack.ts')
  const { createApiKey } = await import('../../functions/services/keys.ts')

  // 1. Model profile: the one asked for, or the best one installed
  const profile: ProfileChoice = options.profile
    ? { profile: options.profile, skipped: [] }
    : chooseInstalledProfile({ hasCuda: detectCuda().available })

  // 2. Runner on a free loopback port, trusting only the worker's blob and webhook URLs
  const port = options.port ?? DEFAULT_STACK_PORT
  const origin = `http://127.0.0.1:${port}`
  const runner: LaunchedRunner = await launchRunner({
    profile: profile.profile,
    trustedPrefixes: [`${origin}/v1/blobs/`, `${origin}/v1/runner-webhooks/`],
    ...(options.onLogLine ? { onLogLine: options.onLogLine } : {}),
  })

  // 3. Worker, pointed at the runner
  const persistTo = path.resolve(options.persistTo ?? DEFAULT_PERSIST_DIR)
  let worker: Awaited<ReturnType<typeof startLocalWorker>>
  try {
    worker = await startLocalWorker({
      port,
      persistTo,
      vars: { RUNNER_URL: runner.url },
      ...(options.onLogLine ? { onLogLine: options.onLogLine } : {}),
    })
  } catch (error) {
    await runner.stop()
    throw error
  }

  return {
    url: worker.url,
    runnerUrl: runner.url,
    profile,
    persistTo,
    createKey: async (name) => {
      const db = (await worker.mf.getD1Database('DB')) as unknown as D1Database
      const { key } = await createApiKey(db, {
        name,
        credits: null,
        rateLimitPerMinute: null,
        editsPerDay: null,
      })
      return key
    },
    stop: async () => {
      await worker.dispose()
      await runner.stop()
    },
  }
}
