/** The runner's logger: JSON lines on stderr, level from SEMANI_LOG_LEVEL (default info). */
import { createLogger, parseLogLevel, type LogLevel } from '../shared/logger.ts'

const level = parseLogLevel(process.env.SEMANI_LOG_LEVEL, 'info')

export const log = createLogger({
  level,
  sink: (_level: LogLevel, line: string) => process.stderr.write(line + '\n'),
})
