/**
 * The worker's settings, parsed once per isolate from the string variables in wrangler.toml
 * (`[vars]`, secrets, or `.dev.vars`). Defaults live here only.
 */
import { z } from 'zod'

import { parseLogLevel, type LogLevel } from '../shared/logger.ts'
import type { Bindings } from './env.ts'

const flag = z.enum(['true', 'false']).transform((value) => value === 'true')
const seconds = z.coerce.number().int().min(0)
const count = z.coerce.number().int().min(1)

const VariablesSchema = z.object({
  ENVIRONMENT: z.enum(['local', 'production']).default('production'),
  PUBLIC_BASE_URL: z.url(),
  ALLOW_LOOPBACK_URLS: flag.default(false),
  LOG_LEVEL: z.string().optional(),

  BLOB_URL_MODE: z.enum(['worker', 'r2']).default('worker'),
  BLOB_SIGNING_SECRET: z.string().min(16),
  BLOB_URL_TTL_S: seconds.default(3600),
  R2_ACCOUNT_ID: z.string().optional(),
  R2_BUCKET_NAME: z.string().optional(),
  R2_ACCESS_KEY_ID: z.string().optional(),
  R2_SECRET_ACCESS_KEY: z.string().optional(),

  RUNNER_KIND: z.enum(['http', 'replicate']).default('http'),
  RUNNER_URL: z.url().optional(),
  RUNNER_MODE: z.enum(['sync', 'webhook']).default('sync'),
  RUNNER_TIMEOUT_S: count.default(900),
  RUNNER_MAX_ATTEMPTS: count.default(3),
  RUNNER_WEBHOOK_SECRET: z.string().optional(),
  REPLICATE_API_TOKEN: z.string().optional(),
  REPLICATE_DEPLOYMENT: z
    .string()
    .regex(/^[\w.-]+\/[\w.-]+$/, 'REPLICATE_DEPLOYMENT is "owner/name".')
    .optional(),
  REPLICATE_BASE_URL: z.url().default('https://api.replicate.com/v1'),
  REPLICATE_WEBHOOK_SECRET: z.string().optional(),

  DEFAULT_WAIT_S: seconds.default(60),
  MAX_WAIT_S: seconds.default(300),
  RATE_LIMIT_PER_MINUTE: count.default(60),
  RETRY_DELAY_S: seconds.default(10),
  WEBHOOK_TIMEOUT_S: count.default(10),
  IMAGE_FETCH_TIMEOUT_S: count.default(15),
})

/** Settings of one deployment. */
export interface Config {
  readonly environment: 'local' | 'production'
  /** Origin that runners and callers reach this worker at, without a trailing slash. */
  readonly publicBaseUrl: string
  /** Lets image and webhook URLs point at loopback over http; for the local stack only. */
  readonly allowLoopbackUrls: boolean
  readonly logLevel: LogLevel
  readonly blobs: {
    readonly urlMode: 'worker' | 'r2'
    readonly signingSecret: string
    readonly urlTtlS: number
    readonly r2?: {
      accountId: string
      bucketName: string
      accessKeyId: string
      secretAccessKey: string
    }
  }
  readonly runner: {
    readonly kind: 'http' | 'replicate'
    readonly url?: string
    readonly mode: 'sync' | 'webhook'
    readonly timeoutS: number
    readonly maxAttempts: number
    readonly webhookSecret?: string
    readonly replicate?: {
      apiToken: string
      deploymentOwner: string
      deploymentName: string
      baseUrl: string
      webhookSecret: string
    }
  }
  /** `Prefer: wait` default and cap, in seconds (RFC 7240). */
  readonly wait: { readonly defaultS: number; readonly maxS: number }
  readonly rateLimitPerMinute: number
  /** Delay before a queue retry after a transient runner failure. */
  readonly retryDelayS: number
  readonly webhookTimeoutS: number
  readonly imageFetchTimeoutS: number
}

const cache = new WeakMap<object, Config>()

/**
 * Parses the worker's variables into a `Config`, once per bindings object.
 *
 * @throws Error naming each invalid variable; the request then fails as `internal`.
 */
export function readConfig(env: Bindings): Config {
  const cached = cache.get(env)
  if (cached) return cached

  const parsed = VariablesSchema.safeParse(env)
  if (!parsed.success) {
    const names = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)
    throw new Error(`Invalid worker configuration: ${names.join('; ')}`)
  }
  const config = toConfig(parsed.data)
  cache.set(env, config)
  return config
}

function toConfig(vars: z.infer<typeof VariablesSchema>): Config {
  return {
    environment: vars.ENVIRONMENT,
    publicBaseUrl: vars.PUBLIC_BASE_URL.replace(/\/+$/, ''),
    allowLoopbackUrls: vars.ALLOW_LOOPBACK_URLS,
    logLevel: parseLogLevel(vars.LOG_LEVEL, 'info'),
    blobs: {
      urlMode: vars.BLOB_URL_MODE,
      signingSecret: vars.BLOB_SIGNING_SECRET,
      urlTtlS: vars.BLOB_URL_TTL_S,
      r2: readR2Credentials(vars),
    },
    runner: {
      kind: vars.RUNNER_KIND,
      url: vars.RUNNER_URL?.replace(/\/+$/, ''),
      mode: vars.RUNNER_MODE,
      timeoutS: vars.RUNNER_TIMEOUT_S,
      maxAttempts: vars.RUNNER_MAX_ATTEMPTS,
      webhookSecret: vars.RUNNER_WEBHOOK_SECRET,
      replicate: readReplicateSettings(vars),
    },
    wait: { defaultS: Math.min(vars.DEFAULT_WAIT_S, vars.MAX_WAIT_S), maxS: vars.MAX_WAIT_S },
    rateLimitPerMinute: vars.RATE_LIMIT_PER_MINUTE,
    retryDelayS: vars.RETRY_DELAY_S,
    webhookTimeoutS: vars.WEBHOOK_TIMEOUT_S,
    imageFetchTimeoutS: vars.IMAGE_FETCH_TIMEOUT_S,
  }
}

function readR2Credentials(vars: z.infer<typeof VariablesSchema>): Config['blobs']['r2'] {
  const { R2_ACCOUNT_ID, R2_BUCKET_NAME, R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY } = vars
  if (!R2_ACCOUNT_ID || !R2_BUCKET_NAME || !R2_ACCESS_KEY_ID || !R2_SECRET_ACCESS_KEY) {
    return undefined
  }
  return {
    accountId: R2_ACCOUNT_ID,
    bucketName: R2_BUCKET_NAME,
    accessKeyId: R2_ACCESS_KEY_ID,
    secretAccessKey: R2_SECRET_ACCESS_KEY,
  }
}

function readReplicateSettings(
  vars: z.infer<typeof VariablesSchema>
): Config['runner']['replicate'] {
  const { REPLICATE_API_TOKEN, REPLICATE_DEPLOYMENT, REPLICATE_WEBHOOK_SECRET } = vars
  if (!REPLICATE_API_TOKEN || !REPLICATE_DEPLOYMENT || !REPLICATE_WEBHOOK_SECRET) return undefined

  const [deploymentOwner = '', deploymentName = ''] = REPLICATE_DEPLOYMENT.split('/')
  return {
    apiToken: REPLICATE_API_TOKEN,
    deploymentOwner,
    deploymentName,
    baseUrl: vars.REPLICATE_BASE_URL.replace(/\/+$/, ''),
    webhookSecret: REPLICATE_WEBHOOK_SECRET,
  }
}
