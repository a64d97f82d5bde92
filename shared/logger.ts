/**
 * Structured logger core shared by both sides: one JSON object per line,
 * `{ time, level, event, ...fields }`. Each side wraps it in its own `log.ts`.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export type LogFields = Record<string, unknown>

/** Fields, or a function that builds them, called only when the level is enabled. */
export type LazyFields = LogFields | (() => LogFields)

/** A logger with a minimum level and fields bound to every line. */
export interface Logger {
  readonly level: LogLevel
  debug(event: string, fields?: LazyFields): void
  info(event: string, fields?: LazyFields): void
  warn(event: string, fields?: LazyFields): void
  error(event: string, fields?: LazyFields): void
  /** Returns a logger that adds `fields` to every line. */
  child(fields: LogFields): Logger
}

/** Destination of formatted lines; stderr on Node, console on Workers. */
export type LogSink = (level: LogLevel, line: string) => void

/** Creates a logger that writes lines at or above `level` to `sink`. */
export function createLogger(options: {
  level: LogLevel
  sink: LogSink
  bound?: LogFields
}): Logger {
  const { level, sink, bound = {} } = options

  const write = (lineLevel: LogLevel, event: string, fields?: LazyFields): void => {
    if (LEVEL_RANK[lineLevel] < LEVEL_RANK[level]) return
    const resolved = typeof fields === 'function' ? fields() : fields
    const line = { time: new Date().toISOString(), level: lineLevel, event, ...bound, ...resolved }
    sink(lineLevel, JSON.stringify(line, serialiseError))
  }

  return {
    level,
    debug: (event, fields) => write('debug', event, fields),
    info: (event, fields) => write('info', event, fields),
    warn: (event, fields) => write('warn', event, fields),
    error: (event, fields) => write('error', event, fields),
    child: (fields) => createLogger({ level, sink, bound: { ...bound, ...fields } }),
  }
}

/** Parses a level name, falling back to `fallback` for anything unknown. */
export function parseLogLevel(value: string | undefined, fallback: LogLevel = 'info'): LogLevel {
  return value !== undefined && value in LEVEL_RANK ? (value as LogLevel) : fallback
}

// Errors have no enumerable fields, so JSON.stringify would print `{}`; keep name, message and
// the cause chain, never the stack of a foreign object.
function serialiseError(_key: string, value: unknown): unknown {
  if (!(value instanceof Error)) return value

  return {
    name: value.name,
    message: value.message,
    ...('code' in value ? { code: value.code } : {}),
    ...(value.cause !== undefined ? { cause: value.cause } : {}),
  }
}
