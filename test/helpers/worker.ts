/**
 * Starts the edge worker under Miniflare for a test file, with helpers to create API keys and to
 * reach the local R2, D1 and KV it uses. Requests go over real HTTP to 127.0.0.1.
 */
import type { Miniflare } from 'miniflare'

import { startLocalWorker, type LocalWorkerOptions } from '../../functions/local/stack.ts'
import { createApiKey, type ApiKeyRecord, type NewApiKey } from '../../functions/services/keys.ts'
import type { ProblemBody } from '../../shared/problems.ts'

export interface TestWorker {
  readonly mf: Miniflare
  readonly url: string
  /** Every line the worker logged, in order. */
  readonly logs: string[]
  readonly db: D1Database
  readonly bucket: R2Bucket
  readonly kv: KVNamespace
  /** Sends a request to the worker; `path` starts with a slash. */
  request(path: string, init?: RequestInit): Promise<Response>
  /** Creates an API key in the worker's D1 database. */
  createKey(options?: Partial<NewApiKey>): Promise<{ key: string; record: ApiKeyRecord }>
  dispose(): Promise<void>
}

/** Starts a worker with in-memory state; queue retries are immediate unless set otherwise. */
export async function startTestWorker(options: LocalWorkerOptions = {}): Promise<TestWorker> {
  const logs: string[] = []
  const local = await startLocalWorker({
    queueRetryDelayS: 0,
    ...options,
    vars: { LOG_LEVEL: 'debug', RETRY_DELAY_S: '0', ...options.vars },
    onLogLine: (line) => {
      logs.push(line)
      options.onLogLine?.(line)
      if (process.env.SEMANI_EDGE_LOGS === '1') console.log(line)
    },
  })
  // Miniflare's binding proxies implement the Workers binding APIs over loopback.
  const db = (await local.mf.getD1Database('DB')) as unknown as D1Database
  const bucket = (await local.mf.getR2Bucket('BLOBS')) as unknown as R2Bucket
  const kv = (await local.mf.getKVNamespace('MASK_CACHE')) as unknown as KVNamespace

  return {
    mf: local.mf,
    url: local.url,
    logs,
    db,
    bucket,
    kv,
    request: (path, init) => fetch(local.url + path, init),
    createKey: (keyOptions = {}) => createApiKey(db, { name: 'test', ...keyOptions }),
    dispose: local.dispose,
  }
}

/** Authorization header for an API key. */
export function bearer(key: string): Record<string, string> {
  return { Authorization: `Bearer ${key}` }
}

/** A problem+json body with the members this API adds. */
export type ProblemResponse = ProblemBody & { edit_id?: string; candidates?: unknown[] }

/** Reads a response body as JSON of the type the test expects. */
export async function readJson<T>(res: Response): Promise<T> {
  return (await res.json()) as T
}

/** Reads a problem+json body. */
export function readProblem(res: Response): Promise<ProblemResponse> {
  return readJson<ProblemResponse>(res)
}
