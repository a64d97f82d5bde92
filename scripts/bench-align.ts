/**
 * Benchmarks the semantic alignment phase on the fixture photos: decoding, SAM proposals
 * (encoder, decoder calls, filtering) and CLIP scoring of the proposals.
 *
 * Usage: npm run bench:align -- [--photos 16] [--profile tiny] [--threads N]
 *                               [--baseline grid32|none] [--baseline-photo FILE]
 * Set SEMANI_LOG_LEVEL=warn to keep the runner's info lines off stderr.
 *
 * Prints, on stdout:
 * 1. one row per photo with the default settings: size, decoder calls, proposals, entity boxes
 *    covered, wall and CPU time of the proposals;
 * 2. p50/p95 per stage over the photos;
 * 3. the default and the fast settings compared: entity boxes covered, time, decoder calls;
 * 4. the baseline, measured in the same run on one photo: the reference generator's full
 *    32 × 32 grid with every point prompted, against the default settings;
 * 5. peak resident memory.
 * Progress goes to stderr. On the tiny profile the CLIP models are the generated tiny ones, so
 * the CLIP stage measures canvases and preprocessing more than a real CLIP encoder.
 * CPU time counts every thread of this process, so other work on a shared machine inflates
 * wall time but not CPU time.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

import { decodeImage } from '../gpu-runner/image/intake.ts'
import type { RgbImage } from '../gpu-runner/image/types.ts'
import {
  DEFAULT_IMAGE_BATCH_SIZE,
  embedEntityText,
  embedProposals,
} from '../gpu-runner/models/align/align.ts'
import { PROFILES, type Profile } from '../gpu-runner/models/manifest.ts'
import {
  FAST_AUTO_MASK_OPTIONS,
  generateMaskProposals,
  type AutoMaskOptions,
  type AutoMaskResult,
} from '../gpu-runner/models/segment/auto-masks.ts'
import { computeBoxIou } from '../gpu-runner/models/segment/nms.ts'
import { loadPipelineModels, type PipelineModels } from '../gpu-runner/pipeline/models.ts'
import type { PixelBox } from '../gpu-runner/pipeline/types.ts'
import { percentile, summarize } from './bench-compose.ts'

const FIXTURES = new URL('../test/fixtures/photos/', import.meta.url)

/** The reference generator's grid: 32 points per side, every point prompted. */
const FULL_GRID_OPTIONS: Partial<AutoMaskOptions> = {
  passes: [{ pointsPerSide: 32, skipCovered: false, singleMask: 'never' }],
  maxDecoderCalls: Number.POSITIVE_INFINITY,
}

/** Box IoU at which a proposal counts as covering an entity box. */
const MIN_BOX_IOU = 0.5

const STAGES = ['decode', 'encoder', 'decoder', 'filtering', 'clip_text', 'clip_images'] as const
type Stage = (typeof STAGES)[number]

interface PhotoCase {
  readonly file: string
  readonly entities: readonly {
    readonly word: string
    readonly count: number
    readonly approx_box: PixelBox
    readonly instance_boxes?: readonly PixelBox[]
  }[]
}

/** Proposals of one setting on one photo, with their cost and the entity boxes they cover. */
interface SettingRun {
  readonly result: AutoMaskResult
  readonly wallMs: number
  readonly cpuMs: number
  readonly coveredBoxes: number
  readonly boxes: number
}

interface PhotoRun {
  readonly file: string
  readonly width: number
  readonly height: number
  /** Default settings, followed by CLIP scoring. */
  readonly standard: SettingRun
  /** FAST_AUTO_MASK_OPTIONS, proposals only. */
  readonly fast: SettingRun
  readonly stagesMs: Record<Stage, number>
}

function progress(line: string): void {
  process.stderr.write(`bench-align: ${line}\n`)
}

function readCases(): PhotoCase[] {
  return JSON.parse(readFileSync(new URL('cases.json', FIXTURES), 'utf8')) as PhotoCase[]
}

/** Boxes of single entities (`approx_box` where `count` is 1) and of each listed instance. */
function listEntityBoxes(photo: PhotoCase): PixelBox[] {
  return photo.entities.flatMap((entity) =>
    entity.count === 1 ? [entity.approx_box] : [...(entity.instance_boxes ?? [])]
  )
}

async function timeProposals(
  image: RgbImage,
  models: PipelineModels,
  options: { settings?: Partial<AutoMaskOptions>; boxes?: readonly PixelBox[] } = {}
): Promise<SettingRun> {
  const { settings = {}, boxes = [] } = options
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const result = await generateMaskProposals(image, models.sam, settings)
  const wallMs = performance.now() - started
  const cpu = process.cpuUsage(cpuBefore)

  const isCovered = (box: PixelBox): boolean =>
    result.proposals.some((proposal) => computeBoxIou(proposal.bbox, box) >= MIN_BOX_IOU)
  return {
    result,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    coveredBoxes: boxes.filter(isCovered).length,
    boxes: boxes.length,
  }
}

async function runPhoto(photo: PhotoCase, models: PipelineModels): Promise<PhotoRun> {
  // 1. Decode
  const decodeStarted = performance.now()
  const { image } = await decodeImage(readFileSync(new URL(photo.file, FIXTURES)))
  const decodeMs = performance.now() - decodeStarted

  // 2. SAM proposals with the default and the fast settings
  const boxes = listEntityBoxes(photo)
  const standard = await timeProposals(image, models, { boxes })
  const fast = await timeProposals(image, models, { settings: FAST_AUTO_MASK_OPTIONS, boxes })

  // 3. CLIP scoring of the default proposals against the photo's first entity word
  const entity = photo.entities[0]?.word ?? 'object'
  const textStarted = performance.now()
  await embedEntityText(entity, {
    encoders: models.clip,
    tokenizer: models.tokenizer,
    pad: 'zeros',
  })
  const textMs = performance.now() - textStarted
  const imagesStarted = performance.now()
  await embedProposals(image, standard.result.proposals, {
    encoders: models.clip,
    batchSize: DEFAULT_IMAGE_BATCH_SIZE,
  })
  const imagesMs = performance.now() - imagesStarted

  const stagesMs = {
    decode: decodeMs,
    encoder: standard.result.timingsMs.encoder,
    decoder: standard.result.timingsMs.decoder,
    filtering: standard.result.timingsMs.filtering,
    clip_text: textMs,
    clip_images: imagesMs,
  }
  return { file: photo.file, width: image.width, height: image.height, standard, fast, stagesMs }
}

function describeCounts(counts: readonly number[]): string {
  const sorted = [...counts].sort((a, b) => a - b)
  const p50 = percentile(sorted, 50)
  const p95 = percentile(sorted, 95)
  return `p50 ${p50}, p95 ${p95}, min ${sorted[0]}, max ${sorted[sorted.length - 1]}`
}

function formatPhotoTable(runs: readonly PhotoRun[]): string {
  const header =
    `${'photo'.padEnd(36)}${'size'.padStart(11)}${'calls'.padStart(7)}${'props'.padStart(7)}` +
    `${'boxes'.padStart(7)}${'wall ms'.padStart(10)}${'cpu ms'.padStart(10)}`
  const rows = runs.map(({ file, width, height, standard }) => {
    const covered = `${standard.coveredBoxes}/${standard.boxes}`
    return (
      `${file.padEnd(36)}${`${width}x${height}`.padStart(11)}` +
      `${String(standard.result.stats.decoderCalls).padStart(7)}` +
      `${String(standard.result.proposals.length).padStart(7)}${covered.padStart(7)}` +
      `${standard.wallMs.toFixed(0).padStart(10)}${standard.cpuMs.toFixed(0).padStart(10)}`
    )
  })
  return [
    'Proposals per photo, default settings',
    `(boxes: entity boxes that some proposal box overlaps with IoU >= ${MIN_BOX_IOU})`,
    header,
    ...rows,
  ].join('\n')
}

function formatStageTable(runs: readonly PhotoRun[]): string {
  const row = (name: string, samples: readonly number[]): string => {
    const stats = summarize(samples)
    return `${name.padEnd(26)}${stats.p50Ms.toFixed(1).padStart(10)}${stats.p95Ms.toFixed(1).padStart(10)}`
  }
  const proposals = describeCounts(runs.map((run) => run.standard.result.proposals.length))
  const calls = describeCounts(runs.map((run) => run.standard.result.stats.decoderCalls))
  return [
    `Stages over ${runs.length} photos, default settings (wall time)`,
    `${'stage'.padEnd(26)}${'p50 ms'.padStart(10)}${'p95 ms'.padStart(10)}`,
    ...STAGES.map((stage) =>
      row(
        stage,
        runs.map((run) => run.stagesMs[stage])
      )
    ),
    row(
      'proposals total',
      runs.map((run) => run.standard.wallMs)
    ),
    row(
      'proposals total, CPU',
      runs.map((run) => run.standard.cpuMs)
    ),
    `proposals per photo: ${proposals}`,
    `decoder calls per photo: ${calls}`,
  ].join('\n')
}

function formatSettingsTable(runs: readonly PhotoRun[]): string {
  const row = (name: string, settingRuns: readonly SettingRun[]): string => {
    const covered = settingRuns.reduce((sum, run) => sum + run.coveredBoxes, 0)
    const boxes = settingRuns.reduce((sum, run) => sum + run.boxes, 0)
    const wall = summarize(settingRuns.map((run) => run.wallMs))
    const calls = describeCounts(settingRuns.map((run) => run.result.stats.decoderCalls))
    return (
      `${name.padEnd(10)}${`${covered}/${boxes}`.padStart(8)}` +
      `${wall.p50Ms.toFixed(0).padStart(10)}${wall.p95Ms.toFixed(0).padStart(10)}   ${calls}`
    )
  }
  return [
    'Default and fast settings over the same photos (proposals only, wall time)',
    `${'settings'.padEnd(10)}${'boxes'.padStart(8)}${'p50 ms'.padStart(10)}${'p95 ms'.padStart(10)}   decoder calls`,
    row(
      'default',
      runs.map((run) => run.standard)
    ),
    row(
      'fast',
      runs.map((run) => run.fast)
    ),
  ].join('\n')
}

async function benchBaseline(file: string, models: PipelineModels): Promise<string> {
  const { image } = await decodeImage(readFileSync(new URL(file, FIXTURES)))
  progress(`baseline: default settings on ${file}`)
  const standard = await timeProposals(image, models)
  progress(`baseline: full 32x32 grid on ${file} (about 1000 decoder calls)`)
  const full = await timeProposals(image, models, { settings: FULL_GRID_OPTIONS })

  const line = (name: string, run: SettingRun): string =>
    `${name.padEnd(26)}${String(run.result.stats.decoderCalls).padStart(7)}` +
    `${String(run.result.proposals.length).padStart(7)}` +
    `${run.wallMs.toFixed(0).padStart(10)}${run.cpuMs.toFixed(0).padStart(10)}` +
    `${run.result.timingsMs.decoder.toFixed(0).padStart(12)}`
  return [
    `Baseline on ${file} (${image.width}x${image.height}), measured in this run`,
    `${'settings'.padEnd(26)}${'calls'.padStart(7)}${'props'.padStart(7)}${'wall ms'.padStart(10)}${'cpu ms'.padStart(10)}${'decoder ms'.padStart(12)}`,
    line('default', standard),
    line('full 32x32 grid', full),
    `full grid / default wall time: ${(full.wallMs / standard.wallMs).toFixed(1)}x`,
  ].join('\n')
}

function parseProfile(value: string): Profile {
  if ((PROFILES as readonly string[]).includes(value)) return value as Profile
  throw new RangeError(`Unknown profile "${value}"; use one of ${PROFILES.join(', ')}.`)
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      photos: { type: 'string', default: '16' },
      profile: { type: 'string', default: 'tiny' },
      threads: { type: 'string' },
      baseline: { type: 'string', default: 'grid32' },
      'baseline-photo': { type: 'string', default: 'dog-and-owner-with-bowl.jpg' },
    },
  })
  if (values.baseline !== 'grid32' && values.baseline !== 'none') {
    throw new RangeError(`Unknown baseline "${values.baseline}"; use grid32 or none.`)
  }

  progress(`loading the ${values.profile} profile`)
  const threads = values.threads === undefined ? {} : { intraOpThreads: Number(values.threads) }
  const models = await loadPipelineModels({ profile: parseProfile(values.profile), ...threads })
  try {
    const cases = readCases().slice(0, Number(values.photos))
    const runs: PhotoRun[] = []
    for (const [index, photo] of cases.entries()) {
      progress(`photo ${index + 1}/${cases.length}: ${photo.file}`)
      runs.push(await runPhoto(photo, models))
    }
    const sections = [formatPhotoTable(runs), formatStageTable(runs), formatSettingsTable(runs)]
    if (values.baseline === 'grid32') {
      sections.push(await benchBaseline(values['baseline-photo'], models))
    }

    const peakRssMiB = process.resourceUsage().maxRSS / 1024
    sections.push(`Peak RSS: ${peakRssMiB.toFixed(0)} MiB`)
    process.stdout.write(sections.join('\n\n') + '\n')
  } finally {
    await models.release()
  }
}

await main()
