/**
 * Measures the CPU-side cost of one edit around the models: decoding the upload, growing and
 * feathering the entity mask, cropping and converting the working window, compositing the
 * regenerated window back, and encoding the result. No model runs here; the "generated" window
 * is the model-size crop with its colours inverted, which costs the same to composite.
 *
 * Usage: npx tsx scripts/bench-compose.ts [--runs 20] [--width 4000] [--height 3000]
 *          [--grow 8] [--feather 8] [--entity 0.5] [--json]
 *
 * Prints wall-clock and process CPU p50/p95 per stage on stdout, progress on stderr (set
 * SEMANI_LOG_LEVEL=warn to leave out the runner's per-decode log lines). Two baselines run in
 * the same process on the same mask: the same distance transforms over the full frame instead
 * of the entity's box, and sharp's own dilate + Gaussian blur over the full frame. On a machine
 * shared with other work, wall times vary from run to run; CPU times vary less.
 *
 * Contents, in order: timing helpers (percentile, summarize, timeStage), synthetic inputs,
 * one measured run (measureComposeRun), the baselines, the whole benchmark (runComposeBench),
 * the text report, and the command-line entry point. The full edit benchmark imports the
 * timing helpers and measureComposeRun.
 */
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'

import sharp from 'sharp'

import { compositeWindow } from '../gpu-runner/compose/composite.ts'
import { prepareInpaintInputs } from '../gpu-runner/compose/inpaint-inputs.ts'
import { maskBounds } from '../gpu-runner/compose/bounds.ts'
import { featherMask, growAndFeather, growMask } from '../gpu-runner/compose/mask-ops.ts'
import { computeWindow, type WorkingWindow } from '../gpu-runner/compose/window.ts'
import { encodeImage } from '../gpu-runner/image/encode.ts'
import { decodeImage } from '../gpu-runner/image/intake.ts'
import type { GrayMask, RgbImage } from '../gpu-runner/image/types.ts'
import type { PixelBox } from '../gpu-runner/pipeline/types.ts'

/** Stages of one measured run, in pipeline order. */
export const COMPOSE_STAGES = [
  'decode',
  'growFeather',
  'windowInputs',
  'composite',
  'encodeJpeg',
  'encodePng',
] as const
export type ComposeStage = (typeof COMPOSE_STAGES)[number]

/** Baselines measured in the same process and run as the stages. */
export const BASELINES = ['fullFrameTransforms', 'sharpDilateBlur'] as const
export type BaselineName = (typeof BASELINES)[number]

/** Percentiles of one stage over all runs, in milliseconds. */
export interface StageStats {
  readonly p50Ms: number
  readonly p95Ms: number
  readonly minMs: number
  readonly maxMs: number
  readonly runs: number
}

/** Wall-clock and process CPU samples of one stage, in milliseconds, one per run. */
export interface StageSamples {
  readonly wallMs: number[]
  /** User plus system CPU time of the whole process, libvips threads included. */
  readonly cpuMs: number[]
}

/** Wall-clock and CPU percentiles of one stage. */
export interface StageReport {
  readonly wall: StageStats
  readonly cpu: StageStats
}

/** Options of {@link runComposeBench}. */
export interface ComposeBenchOptions {
  readonly width?: number
  readonly height?: number
  /** Measured runs after one warm-up run. */
  readonly runs?: number
  readonly growPx?: number
  readonly featherPx?: number
  /** Diameter of the elliptic entity as a fraction of the photo's width and height. */
  readonly entityFraction?: number
  /** Receives one line per finished step. */
  readonly onProgress?: (line: string) => void
}

/** Everything one benchmark run measured. */
export interface ComposeBenchReport {
  readonly width: number
  readonly height: number
  readonly jpegBytes: number
  readonly entityBox: PixelBox
  readonly window: WorkingWindow
  readonly stages: Readonly<Record<ComposeStage, StageReport>>
  /** Per-run sum of every stage except encodePng: intake plus compositing with JPEG output. */
  readonly totalJpeg: StageReport
  /** Per-run sum of every stage except encodeJpeg: the same with PNG output. */
  readonly totalPng: StageReport
  /** Full-frame growth and feathering, done two ways, on the same entity mask. */
  readonly baselines: Readonly<Record<BaselineName, StageReport>>
  /** Peak resident set size of the process so far, in bytes. */
  readonly peakRssBytes: number
}

/** Computes the nearest-rank percentile (p in [0, 100]) of ascending samples. */
export function percentile(sortedMs: readonly number[], p: number): number {
  if (sortedMs.length === 0) throw new RangeError('percentile of an empty sample')
  const rank = Math.max(1, Math.ceil((p / 100) * sortedMs.length))
  return sortedMs[Math.min(rank, sortedMs.length) - 1]!
}

/** Summarises timing samples in milliseconds. */
export function summarize(samplesMs: readonly number[]): StageStats {
  const sorted = [...samplesMs].sort((a, b) => a - b)
  return {
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    minMs: sorted[0]!,
    maxMs: sorted[sorted.length - 1]!,
    runs: sorted.length,
  }
}

/** Returns empty sample arrays for a stage. */
export function makeStageSamples(): StageSamples {
  return { wallMs: [], cpuMs: [] }
}

/**
 * Runs `work` and appends its wall time and the process's CPU time to `samples`.
 *
 * CPU time counts every thread of the process, so work of other processes on a shared machine
 * inflates the wall time but not the CPU time.
 */
export async function timeStage<T>(samples: StageSamples, work: () => T | Promise<T>): Promise<T> {
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const result = await work()
  samples.wallMs.push(performance.now() - started)
  const cpu = process.cpuUsage(cpuBefore)
  samples.cpuMs.push((cpu.user + cpu.system) / 1000)
  return result
}

/** Summarises a stage's wall-clock and CPU samples. */
export function reportStage(samples: StageSamples): StageReport {
  return { wall: summarize(samples.wallMs), cpu: summarize(samples.cpuMs) }
}

/**
 * Builds a photo-like RGB image: gradients, a soft texture and ±12 of seeded noise, which
 * encodes to about 3.6 MB as a 12-megapixel JPEG at quality 90, close to a phone photo.
 */
export function makeSyntheticPhoto(width: number, height: number, seed = 12345): RgbImage {
  const data = new Uint8Array(width * height * 3)
  let state = seed >>> 0
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0
      const noise = ((state >>> 24) / 255) * 24 - 12
      const texture = Math.sin(x / 37) * Math.cos(y / 23) * 40
      const i = (y * width + x) * 3
      data[i] = 90 + (100 * x) / width + texture + noise
      data[i + 1] = 120 + 60 * Math.sin(y / 300) + texture * 0.5 + noise
      data[i + 2] = 60 + (120 * y) / height - texture + noise
    }
  }
  return { data, width, height }
}

/** Builds an elliptic entity mask centred in the photo, `fraction` of its width and height across. */
export function makeEntityMask(width: number, height: number, fraction: number): GrayMask {
  const data = new Uint8Array(width * height)
  const rx = (width * fraction) / 2
  const ry = (height * fraction) / 2
  for (let y = 0; y < height; y++) {
    const v = (y + 0.5 - height / 2) / ry
    if (Math.abs(v) > 1) continue
    const half = rx * Math.sqrt(1 - v * v)
    const from = Math.max(0, Math.ceil(width / 2 - half - 0.5))
    const to = Math.min(width, Math.floor(width / 2 + half - 0.5) + 1)
    data.fill(255, y * width + from, y * width + to)
  }
  return { data, width, height }
}

/** Inverts every byte: a stand-in for the model's output with the same size and cost. */
function invertColours(image: RgbImage): RgbImage {
  const data = new Uint8Array(image.data.length)
  for (let i = 0; i < data.length; i++) data[i] = 255 - image.data[i]!
  return { data, width: image.width, height: image.height }
}

/**
 * Times one edit's CPU stages on an encoded photo and an entity mask.
 *
 * @param samples Per-stage sample arrays; this run appends one sample to each.
 */
export async function measureComposeRun(
  jpeg: Uint8Array,
  entity: GrayMask,
  samples: Record<ComposeStage, StageSamples>,
  { growPx, featherPx }: { growPx: number; featherPx: number }
): Promise<WorkingWindow> {
  const { image } = await timeStage(samples.decode, () => decodeImage(jpeg))
  const masks = await timeStage(samples.growFeather, () =>
    growAndFeather(entity, { growPx, featherPx })
  )
  if (masks.grownBox === undefined) throw new RangeError('the entity mask is empty')

  const { window, inputs } = await timeStage(samples.windowInputs, async () => {
    const window = computeWindow(masks.grownBox!, image)
    return { window, inputs: await prepareInpaintInputs(image, masks.grown, window) }
  })
  const generated = invertColours(inputs.imageWindow)
  const result = await timeStage(samples.composite, () =>
    compositeWindow(image, generated, window, masks.alpha)
  )

  await timeStage(samples.encodeJpeg, () => encodeImage(result, 'jpeg'))
  await timeStage(samples.encodePng, () => encodeImage(result, 'png'))
  return window
}

/** Times the two full-frame baselines once each, appending to their sample arrays. */
async function measureBaselines(
  entity: GrayMask,
  samples: Record<BaselineName, StageSamples>,
  { growPx, featherPx }: { growPx: number; featherPx: number }
): Promise<void> {
  const { width, height } = entity
  const fullFrame: PixelBox = [0, 0, width, height]
  await timeStage(samples.fullFrameTransforms, () => {
    const grown = growMask(entity, growPx, fullFrame)
    return featherMask(grown, featherPx, fullFrame)
  })
  await timeStage(samples.sharpDilateBlur, () =>
    sharp(entity.data, { raw: { width, height, channels: 1 } })
      .dilate(growPx)
      // sharp documents sigma = 1 + radius / 2 for a Gaussian of a given radius.
      .blur(1 + featherPx / 2)
      .toColourspace('b-w')
      .raw()
      .toBuffer()
  )
}

/** Runs the compose benchmark and returns its figures. */
export async function runComposeBench(
  options: ComposeBenchOptions = {}
): Promise<ComposeBenchReport> {
  const {
    width = 4000,
    height = 3000,
    runs = 20,
    growPx = 8,
    featherPx = 8,
    entityFraction = 0.5,
    onProgress = () => {},
  } = options

  // 1. Inputs: a photo-like JPEG and an elliptic entity mask
  const photo = makeSyntheticPhoto(width, height)
  const jpeg = new Uint8Array(
    await sharp(photo.data, { raw: { width, height, channels: 3 } })
      .jpeg({ quality: 90 })
      .toBuffer()
  )
  const entity = makeEntityMask(width, height, entityFraction)
  onProgress(`inputs ready: ${width}×${height} JPEG of ${(jpeg.length / 1e6).toFixed(1)} MB`)

  // 2. One warm-up run, not recorded, then the measured runs
  const newSamples = <K extends string>(names: readonly K[]): Record<K, StageSamples> =>
    Object.fromEntries(names.map((name) => [name, makeStageSamples()])) as Record<K, StageSamples>
  await measureComposeRun(jpeg, entity, newSamples(COMPOSE_STAGES), { growPx, featherPx })
  const samples = newSamples(COMPOSE_STAGES)
  const baselineSamples = newSamples(BASELINES)
  let window: WorkingWindow | undefined
  for (let run = 1; run <= runs; run++) {
    window = await measureComposeRun(jpeg, entity, samples, { growPx, featherPx })
    await measureBaselines(entity, baselineSamples, { growPx, featherPx })
    const last = COMPOSE_STAGES.map((s) => `${s} ${samples[s].wallMs.at(-1)!.toFixed(0)}`)
    onProgress(`run ${run}/${runs}, wall ms: ${last.join(', ')}`)
  }

  // 3. Summaries
  const runTotal = (skip: ComposeStage): StageSamples => {
    const stages = COMPOSE_STAGES.filter((s) => s !== skip)
    const sum = (pick: (s: StageSamples) => number[], i: number): number =>
      stages.reduce((total, s) => total + pick(samples[s])[i]!, 0)
    return {
      wallMs: samples.decode.wallMs.map((_, i) => sum((s) => s.wallMs, i)),
      cpuMs: samples.decode.cpuMs.map((_, i) => sum((s) => s.cpuMs, i)),
    }
  }
  const reportAll = <K extends string>(all: Record<K, StageSamples>): Record<K, StageReport> =>
    Object.fromEntries(
      Object.entries<StageSamples>(all).map(([name, stage]) => [name, reportStage(stage)])
    ) as Record<K, StageReport>
  return {
    width,
    height,
    jpegBytes: jpeg.length,
    entityBox: maskBounds(entity)!,
    window: window!,
    stages: reportAll(samples),
    totalJpeg: reportStage(runTotal('encodePng')),
    totalPng: reportStage(runTotal('encodeJpeg')),
    baselines: reportAll(baselineSamples),
    // maxRSS is in kibibytes on Linux and macOS.
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  }
}

/** Formats a report as a plain-text table. */
export function formatComposeReport(report: ComposeBenchReport): string {
  const cell = (ms: number): string => ms.toFixed(1).padStart(9)
  const row = (name: string, { wall, cpu }: StageReport): string =>
    `${name.padEnd(34)}${cell(wall.p50Ms)}${cell(wall.p95Ms)}${cell(cpu.p50Ms)}${cell(cpu.p95Ms)}`
  const [wx0, wy0, wx1, wy1] = report.window.box
  const { modelWidth, modelHeight } = report.window
  return [
    `photo ${report.width}×${report.height}, JPEG ${(report.jpegBytes / 1e6).toFixed(2)} MB, ` +
      `entity box [${report.entityBox.join(', ')}]`,
    `window ${wx1 - wx0}×${wy1 - wy0} → model ${modelWidth}×${modelHeight}, ` +
      `${report.stages.decode.wall.runs} runs`,
    `${'stage'.padEnd(34)}${'wall p50'.padStart(9)}${'wall p95'.padStart(9)}` +
      `${'cpu p50'.padStart(9)}${'cpu p95'.padStart(9)}`,
    ...Object.entries(report.stages).map(([name, stage]) => row(name, stage)),
    row('total, JPEG output', report.totalJpeg),
    row('total, PNG output', report.totalPng),
    row('baseline: full-frame transforms', report.baselines.fullFrameTransforms),
    row('baseline: sharp dilate + blur', report.baselines.sharpDilateBlur),
    `peak RSS ${(report.peakRssBytes / 2 ** 20).toFixed(0)} MiB (times in ms)`,
  ].join('\n')
}

/** Parses a numeric command-line option, or throws a RangeError that names it. */
function parseNumberOption(name: string, text: string, check: (n: number) => boolean): number {
  const value = Number(text)
  if (!check(value)) throw new RangeError(`--${name} ${text} is out of range`)
  return value
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '20' },
      width: { type: 'string', default: '4000' },
      height: { type: 'string', default: '3000' },
      grow: { type: 'string', default: '8' },
      feather: { type: 'string', default: '8' },
      entity: { type: 'string', default: '0.5' },
      json: { type: 'boolean', default: false },
    },
  })
  const isPositiveInteger = (n: number): boolean => Number.isInteger(n) && n >= 1
  const isRadius = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 256
  const report = await runComposeBench({
    runs: parseNumberOption('runs', values.runs, isPositiveInteger),
    width: parseNumberOption('width', values.width, isPositiveInteger),
    height: parseNumberOption('height', values.height, isPositiveInteger),
    growPx: parseNumberOption('grow', values.grow, isRadius),
    featherPx: parseNumberOption('feather', values.feather, isRadius),
    entityFraction: parseNumberOption('entity', values.entity, (n) => n > 0 && n <= 1),
    onProgress: (line) => process.stderr.write(`bench-compose: ${line}\n`),
  })
  process.stdout.write(
    (values.json ? JSON.stringify(report, null, 2) : formatComposeReport(report)) + '\n'
  )
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    await main()
  } catch (error) {
    process.stderr.write(`bench-compose: ${error instanceof Error ? error.message : error}\n`)
    process.exitCode = 1
  }
}
