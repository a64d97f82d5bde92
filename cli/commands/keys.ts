/**
 * `semani keys create|revoke`: API keys in the local stack's D1 database, the one
 * `wrangler dev` and the tests' Miniflare use (wrangler.toml's `DB`, persisted under
 * `.wrangler/state` or `--persist-to DIR`).
 */
import path from 'node:path'
import { parseArgs } from 'node:util'

import { commandError, describeError, printJson } from '../output.ts'

const USAGE = `Usage: semani keys create --name NAME [options]
       semani keys revoke KEY_ID [--persist-to DIR]

Creates or revokes an API key in the local D1 database. \`create\` prints one JSON line with
the key's id, settings and webhook secret, then the key itself alone on the last line; the key
is not stored and cannot be shown again.

Options:
  --name NAME            Name of the key (create; required).
  --credits N            Credits the key may spend, one per entity edit (default: unmetered).
  --rate-limit N         Requests per minute (default: the worker's RATE_LIMIT_PER_MINUTE).
  --edits-per-day N      Daily quota of edits (default: none).
  --persist-to DIR       Local state directory, as for \`wrangler dev --persist-to\`
                         (default: .wrangler/state in the repository).
  -h, --help             Print this help.
`

/** Runs the command and returns its exit code: 0 on success, 1 on a failure, 2 on a usage error. */
export async function run(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseKeysArgs>
  try {
    parsed = parseKeysArgs(argv)
  } catch (error) {
    return commandError(`${describeError(error)}. Run \`semani keys --help\`.`, 2)
  }
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }

  const [action, ...rest] = positionals
  if (action === 'create' && rest.length === 0) return createKey(values)
  if (action === 'revoke' && rest.length === 1) return revokeKey(rest[0] as string, values)
  return commandError(
    'Expected `keys create --name NAME` or `keys revoke KEY_ID`. Run `semani keys --help`.',
    2
  )
}

type KeysOptions = ReturnType<typeof parseKeysArgs>['values']

async function createKey(values: KeysOptions): Promise<number> {
  if (!values.name) return commandError('Give the key a name with --name NAME.', 2)
  let limits: {
    credits: number | null
    rateLimitPerMinute: number | null
    editsPerDay: number | null
  }
  try {
    limits = {
      credits: readCount(values.credits, '--credits', 0),
      rateLimitPerMinute: readCount(values['rate-limit'], '--rate-limit', 1),
      editsPerDay: readCount(values['edits-per-day'], '--edits-per-day', 1),
    }
  } catch (error) {
    return commandError(describeError(error), 2)
  }

  return withLocalDatabase(values, async (db) => {
    const { createApiKey } = await import('../../functions/services/keys.ts')
    const { record, key } = await createApiKey(db, { name: values.name ?? '', ...limits })
    printJson({
      id: record.id,
      name: record.name,
      credits: record.credits,
      rate_limit_per_minute: record.rateLimitPerMinute,
      edits_per_day: record.editsPerDay,
      webhook_secret: record.webhookSecret,
      created_at: record.createdAt,
    })
    process.stdout.write(key + '\n')
    return 0
  })
}

async function revokeKey(keyId: string, values: KeysOptions): Promise<number> {
  return withLocalDatabase(values, async (db) => {
    const { revokeApiKey } = await import('../../functions/services/keys.ts')
    if (!(await revokeApiKey(db, keyId))) {
      return commandError(`No active key ${keyId} in the local database.`)
    }
    printJson({ id: keyId, revoked: true })
    return 0
  })
}

async function withLocalDatabase(
  values: KeysOptions,
  action: (db: D1Database) => Promise<number>
): Promise<number> {
  // Loaded here, so `semani --help` does not start wrangler or Miniflare.
  const { DEFAULT_PERSIST_DIR, openLocalDatabase } = await import('../../functions/local/stack.ts')
  const persistTo = values['persist-to'] ? path.resolve(values['persist-to']) : DEFAULT_PERSIST_DIR

  let local: Awaited<ReturnType<typeof openLocalDatabase>>
  try {
    local = await openLocalDatabase(persistTo)
  } catch (error) {
    return commandError(
      `The local database at ${persistTo} could not be opened: ${describeError(error)}`
    )
  }
  try {
    // Miniflare's D1 proxy implements the Workers D1Database API over loopback.
    return await action(local.db as unknown as D1Database)
  } catch (error) {
    return commandError(describeError(error))
  } finally {
    await local.dispose()
  }
}

function readCount(text: string | undefined, option: string, min: number): number | null {
  if (text === undefined) return null
  const value = Number(text)
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${option} must be a whole number of at least ${min}, got "${text}".`)
  }
  return value
}

function parseKeysArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      credits: { type: 'string' },
      'rate-limit': { type: 'string' },
      'edits-per-day': { type: 'string' },
      'persist-to': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}
