/**
 * Edge overhead benchmark: the time an edit spends outside the runner.
 *
 * Starts a real runner process (tiny profile by default) and the edge worker under Miniflare on
 * 127.0.0.1, then sends synchronous `POST /v1/edits` requests with a photo of about 1 MB as
 * base64 JSON. For each edit the overhead is the client's round-trip time minus the runner's own
 * duration (from the prediction's timestamps, `timings_ms.runner`). That leaves body upload and
 * parsing, validation, hashing and storing the input, D1 and KV work, the queue hop, signed URLs
 * and the wait loop that notices completion. The runner's reads and writes of blobs through the
 * worker fall inside the runner's duration, so they count as runner time.
 *
 * - misses: each request uses a new `threshold`, a selection setting of the mask-cache key, so
 *   the runner runs the whole alignment phase (tens of seconds each on a CPU);
 * - hits: the same entity and threshold as the first miss, so the runner gets the cached mask.
 *
 * As a baseline, a bare Hono worker under the same Miniflare accepts the same JSON body and
 * returns its length. The ratio puts the edge's overhead next to that floor.
 *
 * Usage: npm run bench:edge -- [--misses 5] [--hits 30] [--baseline 30] [--steps 2]
 *          [--profile tiny]
 */
import { parseArgs } from 'node:util'

import { build } from 'esbuild'
import { Miniflare } from 'miniflare'
import sharp from 'sharp'

import { findFreePort, REPO_ROOT, startLocalWorker } from '../functions/local/stack.ts'
import { createApiKey } from '../functions/services/keys.ts'
import type { EditJob } from '../shared/schemas/api.ts'
import { startRunnerProcess } from '../test/helpers/runner-process.ts'

const SOURCE_PHOTO = 'test/fixtures/photos/white-pickup-truck.jpg'
const PHOTO_WIDTH_PX = 2400

interface Options {
  misses: number
  hits: number
  baseline: number
  steps: number
  profile: 'tiny' | 'cpu' | 'gpu'
}

interface Sample {
  readonly totalMs: number
  readonly runnerMs: number
  readonly overheadMs: number
  /** Creation of the edit row to the start of the runner attempt: the queue hop. */
  readonly queuedMs: number
  /** Creation to completion minus the runner, as the worker measured it. */
  readonly workerMs: number
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      misses: { type: 'string', default: '5' },
      hits: { type: 'string', default: '30' },
      baseline: { type: 'string', default: '30' },
      steps: { type: 'string', default: '2' },
      profile: { type: 'string', default: 'tiny' },
    },
  })
  return {
    misses: Number(values.misses),
    hits: Number(values.hits),
    baseline: Number(values.baseline),
    steps: Number(values.steps),
    profile: values.profile as Options['profile'],
  }
}

/**
 * Re-encodes the source photo at 2400 px wide, JPEG quality 95 without chroma subsampling: about
 * 1 MB (1,048,260 bytes with sharp 0.35 here). The exact size is printed with the figures.
 */
async function makePhoto(): Promise<Buffer> {
  return sharp(`${REPO_ROOT}/${SOURCE_PHOTO}`)
    .resize({ width: PHOTO_WIDTH_PX })
    .jpeg({ quality: 95, chromaSubsampling: '4:4:4' })
    .toBuffer()
}

/** Nearest-rank percentile of `values`, p in (0, 100]. */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN
}

async function runEdits(options: {
  url: string
  key: string
  photoBase64: string
  count: number
  steps: number
  threshold: (i: number) => number
  expectCache: 'hit' | 'miss'
}): Promise<Sample[]> {
  const samples: Sample[] = []
  for (let i = 0; i < options.count; i++) {
    const startMs = performance.now()
    const res = await fetch(`${options.url}/v1/edits`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${options.key}`,
        'Content-Type': 'application/json',
        Prefer: 'wait=300',
      },
      body: JSON.stringify({
        image_base64: options.photoBase64,
        entity: 'truck',
        prompt: `a red truck ${i}`,
        steps: options.steps,
        threshold: options.threshold(i),
      }),
    })
    const edit = (await res.json()) as EditJob
    const totalMs = performance.now() - startMs
    if (res.status !== 200 || edit.mask_cache !== options.expectCache) {
      throw new Error(
        `Edit ${i} returned HTTP ${res.status} with mask_cache ${String(edit.mask_cache)}`
      )
    }
    const runnerMs = edit.timings_ms.runner ?? NaN
    samples.push({
      totalMs,
      runnerMs,
      overheadMs: totalMs - runnerMs,
      queuedMs: edit.timings_ms.queued ?? NaN,
      workerMs: edit.timings_ms.edge ?? NaN,
    })
  }
  return samples
}

/** Bundles a bare Hono worker with one route that reads the same JSON body. */
async function startBaselineWorker(): Promise<{ url: string; dispose: () => Promise<void> }> {
  const bundle = await build({
    stdin: {
      contents: `import { Hono } from 'hono'
        const app = new Hono()
        app.post('/upload', async (c) => {
          const body = await c.req.json()
          return c.json({ length: body.image_base64.length })
        })
        export default app`,
      resolveDir: REPO_ROOT,
      loader: 'ts',
    },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['browser', 'module', 'main'],
  })
  const port = await findFreePort()
  const mf = new Miniflare({
    modules: [{ type: 'ESModule', path: 'index.js', contents: bundle.outputFiles[0]?.text ?? '' }],
    compatibilityDate: '2026-04-20',
    host: '127.0.0.1',
    port,
  })
  await mf.ready
  return { url: `http://127.0.0.1:${port}`, dispose: () => mf.dispose() }
}

async function runBaseline(url: string, photoBase64: string, count: number): Promise<number[]> {
  const body = JSON.stringify({ image_base64: photoBase64, entity: 'truck', prompt: 'a red truck' })
  const latencies: number[] = []
  for (let i = 0; i < count; i++) {
    const startMs = performance.now()
    const res = await fetch(`${url}/upload`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body,
    })
    await res.arrayBuffer()
    latencies.push(performance.now() - startMs)
  }
  return latencies
}

function row(label: string, values: readonly number[]): string {
  const format = (ms: number) => ms.toFixed(1).padStart(9)
  return `${label.padEnd(30)}${format(percentile(values, 50))}${format(percentile(values, 95))}`
}

function phaseRows(name: string, samples: readonly Sample[]): string[] {
  const column = (field: keyof Sample) => samples.map((sample) => sample[field])
  return [
    row(`${name}: total (n=${samples.length})`, column('totalMs')),
    row(`${name}: runner`, column('runnerMs')),
    row(`${name}: edge overhead`, column('overheadMs')),
    row('  of which queue hop', column('queuedMs')),
    row('  of which worker, after row', column('workerMs')),
  ]
}

function formatReport(results: {
  options: Options
  photoBytes: number
  misses: readonly Sample[]
  hits: readonly Sample[]
  bare: readonly number[]
}): string {
  const { options, photoBytes, misses, hits, bare } = results
  const ratio = (samples: readonly Sample[]) =>
    (
      percentile(
        samples.map((sample) => sample.overheadMs),
        50
      ) / percentile(bare, 50)
    ).toFixed(1)

  return [
    `photo: ${SOURCE_PHOTO} at ${PHOTO_WIDTH_PX} px wide, ${photoBytes} bytes JPEG, sent as base64 JSON`,
    `runner: ${options.profile} profile, ${options.steps} steps; edge and baseline under Miniflare on 127.0.0.1`,
    '',
    `${''.padEnd(30)}${'p50 ms'.padStart(9)}${'p95 ms'.padStart(9)}`,
    ...phaseRows('miss', misses),
    ...phaseRows('hit', hits),
    row(`bare Hono route (n=${bare.length})`, bare),
    '',
    `edge overhead / bare route at p50: miss ${ratio(misses)}x, hit ${ratio(hits)}x`,
  ].join('\n')
}

async function main(): Promise<void> {
  const options = readOptions()
  const photo = await makePhoto()
  const photoBase64 = photo.toString('base64')
  const port = await findFreePort()
  const runner = await startRunnerProcess({
    profile: options.profile,
    trustedPrefixes: [`http://127.0.0.1:${port}/`],
  })
  const edge = await startLocalWorker({ port, vars: { RUNNER_URL: runner.url, LOG_LEVEL: 'warn' } })
  const baseline = await startBaselineWorker()

  try {
    const db = (await edge.mf.getD1Database('DB')) as unknown as D1Database
    const { key } = await createApiKey(db, { name: 'bench', rateLimitPerMinute: 100_000 })
    const common = { url: edge.url, key, photoBase64, steps: options.steps }

    const misses = await runEdits({
      ...common,
      count: options.misses,
      threshold: (i) => 0.2 + i / 1000,
      expectCache: 'miss',
    })
    const hits = await runEdits({
      ...common,
      count: options.hits,
      threshold: () => 0.2,
      expectCache: 'hit',
    })
    const bare = await runBaseline(baseline.url, photoBase64, options.baseline)

    console.log(formatReport({ options, photoBytes: photo.byteLength, misses, hits, bare }))
  } finally {
    await baseline.dispose()
    await edge.dispose()
    await runner.stop()
  }
}

await main()
