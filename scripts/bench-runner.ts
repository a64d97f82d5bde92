/**
 * Load benchmark of the runner's HTTP service over loopback.
 *
 * Starts a real runner process (`--local`, the chosen profile) and a loopback blob server that
 * serves the input photo and receives the outputs through PUT, as the edge's signed URLs would.
 * Then, for each client concurrency (1, 4, 16 by default), sends a fixed number of synchronous
 * predictions and prints throughput, latency percentiles of the successful ones, queue-full
 * rejections and the runner's resident memory. Rejected requests are counted, not retried, so the
 * rejection count shows the admission limit at work.
 *
 * A second phase checks for leaks: the runner's RSS after `--leak-total` predictions must stay
 * within 10% of its RSS after `--leak-warmup` predictions.
 *
 * By default each request sends a cached entity mask, as the edge does on a mask-cache hit, so
 * the figures show the service and the diffusion phase. `--full` leaves the mask out and runs
 * segmentation and alignment too.
 *
 * Usage: npm run bench:runner -- [--profile tiny] [--requests 20] [--clients 1,4,16] [--steps 4]
 *          [--queue 8] [--leak-warmup 20] [--leak-total 200] [--photo dog-and-owner-with-bowl.jpg]
 *          [--full]
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'

import sharp from 'sharp'

import {
  startBlobServer,
  type BlobServer,
} from '../test/integration/gpu-runner/server/blob-server.ts'
import { startRunnerProcess, type RunnerProcess } from '../test/helpers/runner-process.ts'

const PHOTOS_DIR = new URL('../test/fixtures/photos/', import.meta.url)

/** Allowed growth of the runner's RSS between the leak check's two measurements. */
const MAX_RSS_GROWTH = 0.1

interface Options {
  profile: 'tiny' | 'cpu' | 'gpu'
  requests: number
  clients: number[]
  steps: number
  queue: number
  leakWarmup: number
  leakTotal: number
  photo: string
  full: boolean
}

interface RequestOutcome {
  readonly kind: 'succeeded' | 'failed' | 'rejected' | 'error'
  readonly latencyMs: number
}

interface PhaseResult {
  clients: number
  requests: number
  succeeded: number
  failed: number
  rejected: number
  errors: number
  wallS: number
  throughputPerS: number
  p50Ms: number
  p95Ms: number
  p99Ms: number
  rssMiB: number
  peakRssMiB: number
}

async function main(): Promise<void> {
  const options = readOptions()
  const photo = await readFile(new URL(options.photo, PHOTOS_DIR))
  const { entity, box } = await entityOf(options.photo)
  const blobs = await startBlobServer()
  blobs.seed('/in/photo', new Uint8Array(photo), 'image/jpeg')
  blobs.seed('/in/mask', await boxMaskPng(photo, box), 'image/png')
  const runner = await startRunnerProcess({
    profile: options.profile,
    trustedPrefixes: [`${blobs.origin}/`],
    args: ['--queue', String(options.queue)],
  })

  try {
    printHeader(options, runner, photo.byteLength, entity)
    let sequence = 0
    const makeBody = () => {
      sequence++
      return JSON.stringify({
        input: {
          image: `${blobs.origin}/in/photo?sig=bench`,
          ...(options.full ? {} : { mask: `${blobs.origin}/in/mask?sig=bench` }),
          entity,
          prompt: 'a small red robot',
          steps: options.steps,
          seed: sequence,
          output_image_url: `${blobs.origin}/out/${sequence}.png?sig=bench`,
          output_mask_url: `${blobs.origin}/out/${sequence}-mask.png?sig=bench`,
        },
      })
    }

    // One prediction first, so model warm-up does not count against the first phase.
    await sendPrediction(runner.url, makeBody())
    const phases: PhaseResult[] = []
    for (const clients of options.clients) {
      phases.push(await runPhase({ runner, clients, requests: options.requests, makeBody }))
      printPhase(phases.at(-1) as PhaseResult)
      dropOutputs(blobs)
    }

    const leak = await checkMemoryGrowth({ runner, options, makeBody, blobs })
    process.stdout.write(
      `\nleak check: RSS after ${options.leakWarmup} predictions ${leak.warmRssMiB.toFixed(1)} MiB, ` +
        `after ${options.leakTotal} ${leak.finalRssMiB.toFixed(1)} MiB, growth ${(leak.growth * 100).toFixed(1)}% ` +
        `(limit ${MAX_RSS_GROWTH * 100}%): ${leak.growth <= MAX_RSS_GROWTH ? 'ok' : 'EXCEEDED'}\n`
    )
    process.stdout.write(JSON.stringify({ options, phases, leak }) + '\n')
    process.exitCode = leak.growth <= MAX_RSS_GROWTH ? 0 : 1
  } finally {
    await runner.stop()
    await blobs.close()
  }
}

async function runPhase(options: {
  runner: RunnerProcess
  clients: number
  requests: number
  makeBody: () => string
}): Promise<PhaseResult> {
  const { runner, clients, requests, makeBody } = options
  const outcomes: RequestOutcome[] = []
  let issued = 0
  const startedMs = performance.now()

  // Each client sends its next request as soon as the response to its previous one arrives.
  const worker = async (): Promise<void> => {
    while (issued < requests) {
      issued++
      outcomes.push(await sendPrediction(runner.url, makeBody()))
    }
  }
  await Promise.all(Array.from({ length: clients }, worker))

  const wallS = (performance.now() - startedMs) / 1000
  const latencies = outcomes
    .filter((outcome) => outcome.kind === 'succeeded')
    .map((outcome) => outcome.latencyMs)
    .sort((a, b) => a - b)
  const count = (kind: RequestOutcome['kind']) => outcomes.filter((o) => o.kind === kind).length
  const memory = await readMemory(runner)

  return {
    clients,
    requests,
    succeeded: count('succeeded'),
    failed: count('failed'),
    rejected: count('rejected'),
    errors: count('error'),
    wallS,
    throughputPerS: count('succeeded') / wallS,
    p50Ms: percentile(latencies, 0.5),
    p95Ms: percentile(latencies, 0.95),
    p99Ms: percentile(latencies, 0.99),
    rssMiB: memory.rssMiB,
    peakRssMiB: memory.peakRssMiB,
  }
}

async function checkMemoryGrowth(options: {
  runner: RunnerProcess
  options: Options
  makeBody: () => string
  blobs: BlobServer
}) {
  const { runner, makeBody, blobs } = options
  const { leakWarmup, leakTotal } = options.options

  for (let i = 0; i < leakWarmup; i++) await expectSuccess(runner.url, makeBody(), blobs)
  const warmRssMiB = (await readMemory(runner)).rssMiB
  for (let i = leakWarmup; i < leakTotal; i++) await expectSuccess(runner.url, makeBody(), blobs)
  const finalRssMiB = (await readMemory(runner)).rssMiB

  return { warmRssMiB, finalRssMiB, growth: (finalRssMiB - warmRssMiB) / warmRssMiB }
}

async function expectSuccess(url: string, body: string, blobs: BlobServer): Promise<void> {
  const outcome = await sendPrediction(url, body)
  if (outcome.kind !== 'succeeded')
    throw new Error(`Leak-check prediction ended as ${outcome.kind}`)
  dropOutputs(blobs)
}

// Uploaded outputs are dropped, so the blob server's memory does not grow with the count.
function dropOutputs(blobs: BlobServer): void {
  for (const path of blobs.objects.keys()) if (path.startsWith('/out/')) blobs.objects.delete(path)
}

async function sendPrediction(url: string, body: string): Promise<RequestOutcome> {
  const startedMs = performance.now()
  try {
    const res = await fetch(`${url}/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    })
    const answer = (await res.json()) as { status?: string; detail?: string; error?: string }
    const latencyMs = performance.now() - startedMs
    if (res.status === 503) return { kind: 'rejected', latencyMs }
    if (res.status !== 200) {
      process.stderr.write(`bench: HTTP ${res.status}: ${answer.detail ?? ''}\n`)
      return { kind: 'error', latencyMs }
    }
    if (answer.status !== 'succeeded')
      process.stderr.write(`bench: prediction failed: ${answer.error}\n`)
    return { kind: answer.status === 'succeeded' ? 'succeeded' : 'failed', latencyMs }
  } catch (error) {
    process.stderr.write(`bench: request failed: ${String(error)}\n`)
    return { kind: 'error', latencyMs: performance.now() - startedMs }
  }
}

// VmRSS is the current resident set, VmHWM its peak over the process's life (Linux only).
async function readMemory(runner: RunnerProcess): Promise<{ rssMiB: number; peakRssMiB: number }> {
  const status = await readFile(`/proc/${runner.child.pid}/status`, 'utf8')
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)

  return { rssMiB: kib('VmRSS') / 1024, peakRssMiB: kib('VmHWM') / 1024 }
}

function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return NaN
  const index = Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)
  return sorted[Math.max(0, index)] ?? NaN
}

async function entityOf(photo: string): Promise<{ entity: string; box: number[] }> {
  const cases = JSON.parse(await readFile(new URL('cases.json', PHOTOS_DIR), 'utf8')) as {
    file: string
    entities: { word: string; approx_box: number[] }[]
  }[]
  const first = cases.find((entry) => entry.file === photo)?.entities[0]
  if (first === undefined) throw new Error(`No entity listed for ${photo} in cases.json`)
  return { entity: first.word, box: first.approx_box }
}

// A mask of the entity's rough box from cases.json (255 inside, 0 outside), the photo's size.
async function boxMaskPng(photo: Buffer, box: number[]): Promise<Uint8Array> {
  const { width = 0, height = 0 } = await sharp(photo).rotate().metadata()
  const [x0 = 0, y0 = 0, x1 = width, y1 = height] = box
  const mask = new Uint8Array(width * height)
  for (let y = y0; y < Math.min(y1, height); y++)
    mask.fill(255, y * width + x0, y * width + Math.min(x1, width))

  return new Uint8Array(
    await sharp(mask, { raw: { width, height, channels: 1 } })
      .png()
      .toBuffer()
  )
}

function printHeader(options: Options, runner: RunnerProcess, photoBytes: number, entity: string) {
  process.stdout.write(
    `runner ${runner.url} profile=${options.profile} queue=${options.queue} steps=${options.steps} ` +
      `photo=${options.photo} (${photoBytes} bytes) entity="${entity}" ` +
      `${options.full ? 'full pipeline' : 'cached mask'} requests/phase=${options.requests}\n\n` +
      'clients  ok  failed  rejected  errors  wall_s  pred/s   p50_ms   p95_ms   p99_ms  rss_MiB  peak_MiB\n'
  )
}

function printPhase(phase: PhaseResult): void {
  const cells = [
    String(phase.clients).padStart(7),
    String(phase.succeeded).padStart(3),
    String(phase.failed).padStart(7),
    String(phase.rejected).padStart(9),
    String(phase.errors).padStart(7),
    phase.wallS.toFixed(1).padStart(7),
    phase.throughputPerS.toFixed(2).padStart(7),
    phase.p50Ms.toFixed(0).padStart(8),
    phase.p95Ms.toFixed(0).padStart(8),
    phase.p99Ms.toFixed(0).padStart(8),
    phase.rssMiB.toFixed(1).padStart(8),
    phase.peakRssMiB.toFixed(1).padStart(9),
  ]
  process.stdout.write(cells.join(' ') + '\n')
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      profile: { type: 'string', default: 'tiny' },
      requests: { type: 'string', default: '20' },
      clients: { type: 'string', default: '1,4,16' },
      steps: { type: 'string', default: '4' },
      queue: { type: 'string', default: '8' },
      'leak-warmup': { type: 'string', default: '20' },
      'leak-total': { type: 'string', default: '200' },
      photo: { type: 'string', default: 'dog-and-owner-with-bowl.jpg' },
      full: { type: 'boolean', default: false },
    },
  })
  const profile = values.profile
  if (profile !== 'tiny' && profile !== 'cpu' && profile !== 'gpu') {
    throw new Error(`Unknown profile "${profile}"; use tiny, cpu or gpu.`)
  }

  return {
    profile,
    requests: Number(values.requests),
    clients: values.clients.split(',').map(Number),
    steps: Number(values.steps),
    queue: Number(values.queue),
    leakWarmup: Number(values['leak-warmup']),
    leakTotal: Number(values['leak-total']),
    photo: values.photo,
    full: values.full,
  }
}

await main()
