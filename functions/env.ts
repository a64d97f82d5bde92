/**
 * The worker's bindings (wrangler.toml), the Hono environment of every route and the messages
 * on the edits queue.
 */
import type { Logger } from '../shared/logger.ts'
import type { ApiKeyRecord } from './services/keys.ts'
import type { RateLimiter } from './services/rate-limit.ts'

/** Bindings and variables from wrangler.toml; string values are parsed by `readConfig`. */
export interface Bindings {
  readonly BLOBS: R2Bucket
  readonly DB: D1Database
  readonly MASK_CACHE: KVNamespace
  readonly EDIT_QUEUE: Queue<QueueMessageBody>
  readonly RATE_LIMITER: DurableObjectNamespace<RateLimiter>
  readonly [variable: string]: unknown
}

/** Variables a request carries through the middleware chain. */
export interface AppVariables {
  requestId: string
  log: Logger
  apiKey: ApiKeyRecord
}

export interface AppEnv {
  Bindings: Bindings
  Variables: AppVariables
}

/** Run (or re-run) an edit on the runner. */
export interface DispatchMessage {
  readonly kind: 'dispatch'
  readonly editId: string
}

/** Check on an edit whose runner accepted it asynchronously and has not called back yet. */
export interface WatchdogMessage {
  readonly kind: 'watchdog'
  readonly editId: string
  /** The attempt the check is for; a later attempt makes the message stale. */
  readonly attempt: number
}

/** Deliver the finished edit to the caller's webhook. */
export interface NotifyMessage {
  readonly kind: 'notify'
  readonly editId: string
}

export type QueueMessageBody = DispatchMessage | WatchdogMessage | NotifyMessage
