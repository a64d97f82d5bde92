/**
 * Downloads and verifies the model files of a profile into the model folder. This runs at
 * install or image build time (`semani models pull`), never while serving requests.
 *
 * Files pinned in the manifest are verified against their sha256 before they replace anything.
 * Files the manifest could not pin (`pin: "first-pull"`) are rejected unless the caller trusts
 * the first download. Their measured digest then goes to `<modelDir>/pins.json`, and later
 * pulls and loads check the file against it. When a host cannot be reached, the pull stops
 * the other downloads and reports every file still missing, pointing to the tiny profile.
 *
 * Layout: options and events, `pullModels` with its steps, then the helpers for verification,
 * URL rewriting, pins.json writes, the download pool and the final error.
 */
import { existsSync } from 'node:fs'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

import { DownloadError, downloadFile, hashFile, type DownloadFailure } from './download.ts'
import {
  loadManifest,
  modelsOfProfile,
  type Manifest,
  type ModelEntry,
  type ModelFile,
  type Profile,
} from './manifest.ts'
import {
  PINS_FILE,
  expectedDigest,
  localFilePath,
  pinKey,
  readPins,
  resolveModelDir,
  type Pins,
} from './registry.ts'

/** Concurrent downloads when the caller gives none. */
export const DEFAULT_PULL_CONCURRENCY = 3

/** Wait for a host's response headers before it counts as unreachable. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000

/** Wait for the next chunk of a body before the transfer counts as interrupted. */
export const DEFAULT_STALL_TIMEOUT_MS = 60_000

/** Failure reason of a pull, as a stable code. */
export type PullFailure = DownloadFailure | 'unpinned' | 'unknown-model'

/** A failed pull; `missing` lists the local paths that are still not usable. */
export class PullError extends Error {
  constructor(
    readonly reason: PullFailure,
    message: string,
    readonly missing: readonly string[] = [],
    options: { cause?: unknown } = {}
  ) {
    super(message, { cause: options.cause })
    this.name = 'PullError'
  }
}

/** Progress of a pull, one event per file state change and bounded-rate progress. */
export type PullEvent =
  | { readonly kind: 'present'; readonly file: string; readonly sizeBytes: number }
  | { readonly kind: 'started'; readonly file: string; readonly host: string }
  | {
      readonly kind: 'progress'
      readonly file: string
      readonly receivedBytes: number
      readonly totalBytes?: number
    }
  | {
      readonly kind: 'finished'
      readonly file: string
      readonly sha256: string
      readonly sizeBytes: number
      readonly resumedFromBytes: number
      /** True when the digest was recorded now, at first pull. */
      readonly pinnedNow: boolean
    }

export interface PullOptions {
  /** Profile whose models to pull; or list `modelIds`. */
  readonly profile?: Profile
  readonly modelIds?: readonly string[]
  /** Defaults to SEMANI_MODEL_DIR, then `.semani/models`. */
  readonly modelDir?: string
  readonly manifest?: Manifest
  readonly concurrency?: number
  /** Accept files the manifest could not pin and record the digest of their first download. */
  readonly trustOnFirstUse?: boolean
  /** Replaces scheme, host and port of every URL (and prefixes its path); for mirrors and tests. */
  readonly baseUrl?: string
  readonly headersTimeoutMs?: number
  readonly stallTimeoutMs?: number
  readonly progressIntervalMs?: number
  readonly onEvent?: (event: PullEvent) => void
}

/** One file of a finished pull. */
export interface PulledFile {
  readonly model: string
  readonly path: string
  readonly sha256: string
  readonly sizeBytes: number
  readonly status: 'present' | 'downloaded'
}

interface PullTask {
  readonly model: ModelEntry
  readonly file: ModelFile
  readonly path: string
}

/**
 * Makes every file of the chosen models present and verified in the model folder.
 *
 * @throws PullError `unpinned` before any download when unpinned files lack trust on first
 *   use. Otherwise `unreachable`, `interrupted`, `http-status`, `size` or `checksum`, naming the
 *   files that failed and every file still missing.
 */
export async function pullModels(
  options: PullOptions
): Promise<{ modelDir: string; files: PulledFile[] }> {
  // 1. Pick the files and refuse unpinned ones before touching the network
  const modelDir = resolveModelDir(options.modelDir)
  const manifest = options.manifest ?? loadManifest()
  const tasks = selectModels(manifest, options).flatMap((model) =>
    model.files.map((file) => ({ model, file, path: localFilePath(model, file, modelDir) }))
  )
  const pins = readPins(modelDir)
  assertPinned(tasks, pins, options.trustOnFirstUse ?? false)

  // 2. Verify files that are present, download the others, a few at a time
  const abort = new AbortController()
  const pinWriter = createPinWriter(modelDir, pins)
  const run = (task: PullTask): Promise<PulledFile> =>
    pullFile({ task, pins, pinWriter, options, signal: abort.signal }).catch((error: unknown) => {
      if (error instanceof DownloadError && error.reason === 'unreachable') abort.abort(error)
      throw error
    })
  const results = await mapWithConcurrency(
    tasks,
    options.concurrency ?? DEFAULT_PULL_CONCURRENCY,
    run
  )
  await pinWriter.flush()

  // 3. Report every failure and every file still missing
  const failures = results.flatMap((result, i) =>
    result.status === 'rejected'
      ? [{ task: tasks[i] as PullTask, error: result.reason as unknown }]
      : []
  )
  if (failures.length > 0) throw pullFailed(options, tasks.length, failures)

  return {
    modelDir,
    files: results.map((result) => (result as PromiseFulfilledResult<PulledFile>).value),
  }
}

function selectModels(manifest: Manifest, options: PullOptions): ModelEntry[] {
  const ids = options.modelIds ?? []
  const unknown = ids.filter((id) => !manifest.models.some((model) => model.id === id))
  if (unknown.length > 0) {
    throw new PullError(
      'unknown-model',
      `Unknown model id(s) ${unknown.join(', ')}; the manifest lists ${manifest.models.map((m) => m.id).join(', ')}.`
    )
  }

  const fromProfile =
    options.profile === undefined ? [] : modelsOfProfile(manifest, options.profile)
  const fromIds = manifest.models.filter((model) => ids.includes(model.id))
  return [...new Set([...fromProfile, ...fromIds])]
}

function assertPinned(tasks: readonly PullTask[], pins: Pins, trustOnFirstUse: boolean): void {
  if (trustOnFirstUse) return
  const unpinned = tasks.filter((task) => expectedDigest(task.model, task.file, pins) === undefined)
  if (unpinned.length === 0) return

  throw new PullError(
    'unpinned',
    `${unpinned.length} file(s) have no sha256 in the manifest yet: ${unpinned.map((t) => pinKey(t.model, t.file)).join(', ')}. ` +
      'Pass --trust-on-first-use to download them and record the digest of this first download ' +
      '(see infra/models/README.md), or use --profile tiny, which needs no download.',
    unpinned.map((task) => task.path)
  )
}

async function pullFile(args: {
  task: PullTask
  pins: Pins
  pinWriter: PinWriter
  options: PullOptions
  signal: AbortSignal
}): Promise<PulledFile> {
  const { task, pins, pinWriter, options, signal } = args
  const { model, file, path } = task
  const expected = expectedDigest(model, file, pins)
  const label = pinKey(model, file)

  // Files already on disk, and package or repository files, are verified where they are.
  if (existsSync(path) || file.from !== 'url') {
    const present = await verifyPresent(task, expected)
    if (present !== undefined) {
      options.onEvent?.({ kind: 'present', file: label, sizeBytes: present.sizeBytes })
      return present
    }
  }
  if (file.from !== 'url') {
    throw new DownloadError(
      'checksum',
      `${path} is missing or differs from the manifest; run \`npm ci\` or regenerate it.`
    )
  }

  signal.throwIfAborted()
  const url = rewriteUrl(file.url, options.baseUrl ?? process.env.SEMANI_MODEL_BASE_URL)
  options.onEvent?.({ kind: 'started', file: label, host: new URL(url).host })
  const result = await downloadFile({
    url,
    dest: path,
    ...(expected === undefined ? {} : { expected }),
    headersTimeoutMs: options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
    stallTimeoutMs: options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
    progressIntervalMs: options.progressIntervalMs ?? 1000,
    signal,
    onProgress: (progress) => options.onEvent?.({ kind: 'progress', file: label, ...progress }),
  })

  const pinnedNow = expected === undefined
  if (pinnedNow)
    pinWriter.record(label, { sha256: result.sha256, sizeBytes: result.sizeBytes, url: file.url })
  options.onEvent?.({ kind: 'finished', file: label, ...result, pinnedNow })
  return {
    model: model.id,
    path,
    sha256: result.sha256,
    sizeBytes: result.sizeBytes,
    status: 'downloaded',
  }
}

// Returns the file when it exists and matches; deletes a downloaded file that does not match.
async function verifyPresent(
  task: PullTask,
  expected: { sha256: string; sizeBytes: number } | undefined
): Promise<PulledFile | undefined> {
  if (!existsSync(task.path) || expected === undefined) return undefined

  const sha256 = (await hashFile(task.path)).digest('hex')
  if (sha256 === expected.sha256) {
    return {
      model: task.model.id,
      path: task.path,
      sha256,
      sizeBytes: expected.sizeBytes,
      status: 'present',
    }
  }
  if (task.file.from === 'url') await rm(task.path)
  return undefined
}

/**
 * Points `url` at `baseUrl`: its scheme, host and port replace the URL's, and its path is
 * put in front of the URL's path. Returns `url` unchanged when `baseUrl` is empty.
 *
 * @example rewriteUrl('https://huggingface.co/a/b.onnx', 'http://127.0.0.1:8080/mirror')
 *   === 'http://127.0.0.1:8080/mirror/a/b.onnx'
 */
export function rewriteUrl(url: string, baseUrl: string | undefined): string {
  if (baseUrl === undefined || baseUrl === '') return url
  const source = new URL(url)
  const base = new URL(baseUrl)
  return `${base.origin}${base.pathname.replace(/\/+$/, '')}${source.pathname}${source.search}`
}

interface PinWriter {
  record(key: string, entry: { sha256: string; sizeBytes: number; url: string }): void
  flush(): Promise<void>
}

// Serialises pins.json updates from concurrent downloads; each write is atomic (temp + rename).
function createPinWriter(modelDir: string, pins: Pins): PinWriter {
  let pending: Promise<void> = Promise.resolve()
  const write = async (): Promise<void> => {
    await mkdir(modelDir, { recursive: true })
    const path = join(modelDir, PINS_FILE)
    await writeFile(`${path}.tmp`, JSON.stringify(pins, null, 2) + '\n')
    await rename(`${path}.tmp`, path)
  }

  return {
    record(key, entry) {
      pins.files[key] = { ...entry, pinnedAt: new Date().toISOString() }
      pending = pending.then(write)
    },
    flush: () => pending,
  }
}

async function mapWithConcurrency<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>
): Promise<PromiseSettledResult<R>[]> {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}.`)
  }
  const results: PromiseSettledResult<R>[] = new Array(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++
      results[index] = await work(items[index] as T).then(
        (value) => ({ status: 'fulfilled', value }) as const,
        (reason: unknown) => ({ status: 'rejected', reason }) as const
      )
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
  return results
}

function pullFailed(
  options: PullOptions,
  total: number,
  failures: readonly { task: PullTask; error: unknown }[]
): PullError {
  const first = failures[0]?.error
  const reason: PullFailure = first instanceof DownloadError ? first.reason : 'interrupted'
  // Files skipped after a host turned out unreachable repeat that host's error; list it once.
  const messages = failures.map(({ error }) =>
    error instanceof Error ? error.message : String(error)
  )
  const described = [...new Set(messages)]
  const missing = failures.map((failure) => failure.task.path)
  const target = options.profile ? `profile "${options.profile}"` : 'the requested models'

  return new PullError(
    reason,
    `Pull of ${target} failed for ${failures.length} of ${total} file(s): ${described.join('; ')}. ` +
      `Still missing: ${missing.join(', ')}. Use --profile tiny to work without these downloads.`,
    missing,
    { cause: first }
  )
}
