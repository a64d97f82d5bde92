/**
 * Benchmarks whole edits on the tiny profile and the CPU-side cost around the models.
 *
 * Usage: npm run bench:edit -- [--photos 4] [--steps 50] [--compose-runs 10]
 *
 * Prints, on stdout:
 * 1. p50/p95 per stage of full edits (SAM + CLIP alignment, then inpainting) over fixture photos;
 * 2. the working-window baseline: the same cached-mask edit on a 0.5-megapixel and on a
 *    12-megapixel photo, with the ratio, which stays near 1 when the window keeps cost flat;
 * 3. the intake and compositing cost for a 12-megapixel photo (scripts/bench-compose.ts),
 *    with its two full-frame baselines;
 * 4. peak resident memory.
 * Progress goes to stderr. The tiny models' own times are not those of real weights: this
 * measures the pipeline around the models and the real segmentation model.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

import sharp from 'sharp'

import { loadEditPipeline, type EditPipeline } from '../gpu-runner/pipeline/run-edit.ts'
import { EditSettingsSchema } from '../shared/schemas/edit-settings.ts'
import {
  formatComposeReport,
  makeSyntheticPhoto,
  runComposeBench,
  summarize,
} from './bench-compose.ts'

process.env.SEMANI_LOG_LEVEL ??= 'warn'

const FIXTURES = new URL('../test/fixtures/photos/', import.meta.url)
const PHOTO_CASES = [
  ['dog-and-owner-with-bowl.jpg', 'dog', 'a white cat sitting on the tiled floor'],
  ['orange-beetle-car.jpg', 'car', 'a blue vintage car'],
  ['bird-on-branch.jpg', 'bird', 'a red parrot'],
  ['pink-flower.jpg', 'flower', 'a yellow sunflower'],
  ['three-hot-dogs.jpg', 'hot dog', 'a slice of pizza'],
  ['white-pickup-truck.jpg', 'truck', 'a red fire truck'],
] as const

const STAGE_ORDER = [
  'decode',
  'segmentation_encoder',
  'segmentation_decoder',
  'segmentation_filtering',
  'alignment_text',
  'alignment_images',
  'text_encoding',
  'vae_encode',
  'unet_loop',
  'vae_decode',
  'compositing',
  'encoding',
]

function progress(line: string): void {
  process.stderr.write(`bench-edit: ${line}\n`)
}

function formatRow(name: string, samplesMs: readonly number[]): string {
  const stats = summarize(samplesMs)
  return `${name.padEnd(26)}${stats.p50Ms.toFixed(1).padStart(10)}${stats.p95Ms.toFixed(1).padStart(10)}`
}

async function benchFullEdits(pipeline: EditPipeline, photoCount: number, steps: number) {
  const samples: Record<string, number[]> = {}
  const totals: number[] = []
  const cases = PHOTO_CASES.slice(0, photoCount)

  for (const [index, [file, entity, prompt]] of cases.entries()) {
    progress(`full edit ${index + 1}/${cases.length}: ${file} "${entity}"`)
    const started = performance.now()
    const result = await pipeline.run({
      image: readFileSync(new URL(file, FIXTURES)),
      edits: [{ entity, prompt }],
      settings: EditSettingsSchema.parse({ steps, seed: 1 }),
    })
    totals.push(performance.now() - started)
    for (const [stage, ms] of Object.entries(result.timingsMs)) (samples[stage] ??= []).push(ms)
  }

  const rows = STAGE_ORDER.filter((stage) => samples[stage]).map((stage) =>
    formatRow(stage, samples[stage] as number[])
  )
  return [
    `Full edits on the tiny profile, ${cases.length} photos, ${steps} DDIM steps`,
    `${'stage'.padEnd(26)}${'p50 ms'.padStart(10)}${'p95 ms'.padStart(10)}`,
    ...rows,
    formatRow('total', totals),
  ].join('\n')
}

async function timeMaskedEdit(
  pipeline: EditPipeline,
  width: number,
  height: number,
  steps: number
) {
  const photo = makeSyntheticPhoto(width, height)
  const image = await sharp(photo.data, { raw: { width, height, channels: 3 } })
    .jpeg()
    .toBuffer()
  const mask = new Uint8Array(width * height)
  // The same 200×150 entity in both photos, so only the photo's size differs.
  for (let y = 100; y < 250; y++) mask.fill(255, y * width + 100, y * width + 300)
  const maskPng = await sharp(mask, { raw: { width, height, channels: 1 } })
    .png()
    .toBuffer()

  const started = performance.now()
  await pipeline.run({
    image,
    mask: maskPng,
    edits: [{ entity: 'box', prompt: 'a wooden crate' }],
    settings: EditSettingsSchema.parse({ steps, seed: 1, output_format: 'jpeg' }),
  })
  return performance.now() - started
}

async function benchWindowBaseline(pipeline: EditPipeline, steps: number, runs: number) {
  const small: number[] = []
  const large: number[] = []
  for (let run = 1; run <= runs; run++) {
    progress(`window baseline run ${run}/${runs}`)
    small.push(await timeMaskedEdit(pipeline, 800, 600, steps))
    large.push(await timeMaskedEdit(pipeline, 4000, 3000, steps))
  }

  const ratio = summarize(large).p50Ms / summarize(small).p50Ms
  return [
    `Same entity, cached mask, JPEG output, ${runs} runs each`,
    formatRow('800x600 photo', small),
    formatRow('4000x3000 photo', large),
    `12 MP / 0.5 MP p50 ratio: ${ratio.toFixed(2)}`,
  ].join('\n')
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      photos: { type: 'string', default: '4' },
      steps: { type: 'string', default: '50' },
      'baseline-runs': { type: 'string', default: '3' },
      'compose-runs': { type: 'string', default: '10' },
    },
  })

  progress('loading the tiny profile')
  const pipeline = await loadEditPipeline({ profile: 'tiny' })
  try {
    const steps = Number(values.steps)
    const sections = [
      await benchFullEdits(pipeline, Number(values.photos), steps),
      await benchWindowBaseline(pipeline, steps, Number(values['baseline-runs'])),
    ]
    progress('intake and compositing on 12 megapixels')
    const compose = await runComposeBench({
      runs: Number(values['compose-runs']),
      onProgress: (line) => progress(line),
    })
    sections.push(formatComposeReport(compose))

    const peakRssMiB = process.resourceUsage().maxRSS / 1024
    sections.push(`Peak RSS: ${peakRssMiB.toFixed(0)} MiB`)
    process.stdout.write(sections.join('\n\n') + '\n')
  } finally {
    await pipeline.release()
  }
}

await main()
