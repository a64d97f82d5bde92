/**
 * The edge worker on the local stack, for the tests, the benchmark and `semani keys` (Node only;
 * the worker bundle never imports this file).
 *
 * Bindings come from wrangler.toml through wrangler's `unstable_getMiniflareWorkerOptions`, so
 * the tests, `wrangler dev` and production read one configuration. The worker is bundled with
 * esbuild in memory and served by Miniflare on 127.0.0.1. With `persistTo`, state lives where
 * `wrangler dev --persist-to <dir>` keeps it (`<dir>/v3`; wrangler's default dir is
 * `.wrangler/state`), so the CLI and `wrangler dev` share one local D1 database.
 */
import { readdir, readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { build } from 'esbuild'
import type { Readable } from 'node:stream'

import { Miniflare, type WorkerOptions } from 'miniflare'
import { unstable_getMiniflareWorkerOptions, unstable_splitSqlQuery } from 'wrangler'

/** Repository root, two levels above this file. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** The wrangler configuration of the edge worker. */
export const WRANGLER_CONFIG = path.join(REPO_ROOT, 'wrangler.toml')

/** Local state directory of wrangler when no `--persist-to` is given. */
export const DEFAULT_PERSIST_DIR = path.join(REPO_ROOT, '.wrangler/state')

export interface LocalWorkerOptions {
  /** State directory as for `wrangler dev --persist-to`; in memory when absent. */
  readonly persistTo?: string
  /** Port on 127.0.0.1; a free one when absent. */
  readonly port?: number
  /** Variables that replace those of wrangler.toml (PUBLIC_BASE_URL is set from the port). */
  readonly vars?: Readonly<Record<string, string>>
  /** Seconds before a retried queue message is delivered again (wrangler.toml: 10). */
  readonly queueRetryDelayS?: number
  /** Receives each line the worker writes to stdout or stderr; lines are dropped otherwise. */
  readonly onLogLine?: (line: string) => void
}

export interface LocalWorker {
  readonly mf: Miniflare
  /** Origin of the worker, e.g. `http://127.0.0.1:43123`. */
  readonly url: string
  dispose(): Promise<void>
}

let bundle: Promise<string> | undefined

/** Bundles functions/index.ts for workerd, once per process. */
export function buildWorkerBundle(): Promise<string> {
  bundle ??= build({
    entryPoints: [path.join(REPO_ROOT, 'functions/index.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['browser', 'module', 'main'],
    external: ['cloudflare:*', 'node:*'],
    logLevel: 'silent',
  }).then((result) => result.outputFiles[0]?.text ?? '')
  return bundle
}

/** Returns a port on 127.0.0.1 that was free a moment ago. */
export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** Starts the worker under Miniflare with its D1 migrations applied. */
export async function startLocalWorker(options: LocalWorkerOptions = {}): Promise<LocalWorker> {
  const port = options.port ?? (await findFreePort())
  const origin = `http://127.0.0.1:${port}`
  const { workerOptions } = unstable_getMiniflareWorkerOptions(WRANGLER_CONFIG)
  const script = await buildWorkerBundle()

  const worker: WorkerOptions = {
    ...workerOptions,
    modules: [{ type: 'ESModule', path: 'index.js', contents: script }],
    bindings: { ...workerOptions.bindings, ...options.vars, PUBLIC_BASE_URL: origin },
    queueConsumers: withRetryDelay(workerOptions.queueConsumers, options.queueRetryDelayS),
  }
  const mf = new Miniflare({
    workers: [worker],
    host: '127.0.0.1',
    port,
    ...(options.persistTo ? { defaultPersistRoot: path.join(options.persistTo, 'v3') } : {}),
    handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
      for (const stream of [stdout, stderr]) forwardLines(stream, options.onLogLine)
    },
  })
  await mf.ready
  await applyMigrations(await mf.getD1Database('DB'))
  return { mf, url: origin, dispose: () => mf.dispose() }
}

function withRetryDelay(
  consumers: WorkerOptions['queueConsumers'],
  retryDelayS: number | undefined
): WorkerOptions['queueConsumers'] {
  if (retryDelayS === undefined || !consumers || Array.isArray(consumers)) return consumers
  return Object.fromEntries(
    Object.entries(consumers).map(([queue, consumer]) => [
      queue,
      { ...(consumer as object), retryDelay: retryDelayS },
    ])
  )
}

function forwardLines(stream: Readable, onLine: ((line: string) => void) | undefined): void {
  let pending = ''
  stream.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8')
    const lines = pending.split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) if (line.trim()) onLine?.(line)
  })
}

/** D1 database handle as Miniflare returns it. */
type LocalD1 = Awaited<ReturnType<Miniflare['getD1Database']>>

/**
 * Applies the SQL files of migrations/ that are not yet recorded, in name order, recording each
 * in `d1_migrations` as `wrangler d1 migrations apply` does, so both see the same history.
 *
 * @returns the names of the files applied now.
 */
export async function applyMigrations(
  db: LocalD1,
  directory = path.join(REPO_ROOT, 'migrations')
): Promise<string[]> {
  await db
    .prepare(
      `CREATE TABLE IF NOT EXISTS d1_migrations (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         name TEXT UNIQUE,
         applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)`
    )
    .run()
  const applied = await db.prepare('SELECT name FROM d1_migrations').all<{ name: string }>()
  const done = new Set(applied.results.map((row) => row.name))
  const files = (await readdir(directory)).filter((name) => name.endsWith('.sql')).sort()

  const appliedNow: string[] = []
  for (const name of files.filter((file) => !done.has(file))) {
    const sql = await readFile(path.join(directory, name), 'utf8')
    const statements = unstable_splitSqlQuery(sql).map((statement) => db.prepare(statement))
    await db.batch([
      ...statements,
      db.prepare('INSERT INTO d1_migrations (name) VALUES (?)').bind(name),
    ])
    appliedNow.push(name)
  }
  return appliedNow
}

/**
 * Opens the local D1 database alone (no worker code runs), for commands such as `semani keys`.
 * Pending migrations are applied first.
 */
export async function openLocalDatabase(
  persistTo: string = DEFAULT_PERSIST_DIR
): Promise<{ db: LocalD1; dispose: () => Promise<void> }> {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(WRANGLER_CONFIG)
  const mf = new Miniflare({
    modules: true,
    script: 'export default { fetch: () => new Response(null, { status: 404 }) }',
    compatibilityDate: workerOptions.compatibilityDate,
    d1Databases: workerOptions.d1Databases,
    defaultPersistRoot: path.join(persistTo, 'v3'),
  })
  const db = await mf.getD1Database('DB')
  await applyMigrations(db)
  return { db, dispose: () => mf.dispose() }
}
