/**
 * The worker's logger: one JSON object per line on the console, which Workers Logs and
 * `wrangler tail` collect. The level comes from the `LOG_LEVEL` variable, read with the config.
 */
import { createLogger, type LogLevel, type Logger } from '../shared/logger.ts'

const loggers = new Map<LogLevel, Logger>()

/** Returns the worker logger for `level`, creating it on first use. */
export function workerLogger(level: LogLevel): Logger {
  const existing = loggers.get(level)
  if (existing) return existing

  const logger = createLogger({
    level,
    sink: (lineLevel, line) => {
      if (lineLevel === 'error' || lineLevel === 'warn') console.error(line)
      else console.log(line)
    },
  })
  loggers.set(level, logger)
  return logger
}
