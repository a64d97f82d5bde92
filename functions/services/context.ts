/** Service context: the bindings, settings, logger and clock every service call needs. */
import type { Logger } from '../../shared/logger.ts'
import { readConfig, type Config } from '../config.ts'
import type { Bindings } from '../env.ts'
import { workerLogger } from '../log.ts'

export interface ServiceContext {
  readonly env: Bindings
  readonly config: Config
  readonly log: Logger
  readonly now: () => Date
}

/** Builds the context of a queue invocation or a request, with `fields` bound to the logger. */
export function serviceContext(
  env: Bindings,
  fields: Record<string, unknown> = {}
): ServiceContext {
  const config = readConfig(env)
  return { env, config, log: workerLogger(config.logLevel).child(fields), now: () => new Date() }
}
