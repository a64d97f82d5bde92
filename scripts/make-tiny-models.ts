/**
 * Writes the tiny ONNX models of the `tiny` profile: real tensor names and element types, tiny
 * dims, deterministic weights. Rerunning it rewrites byte-identical files; it prints each file's
 * sha256 and size, which infra/models/manifest.json records.
 *
 * Usage: npx tsx scripts/make-tiny-models.ts [--out DIR]   (default infra/models/tiny)
 */
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

import { buildClipImageTiny, buildClipTextTiny } from './tiny-models/clip.ts'
import {
  buildSdTextEncoderTiny,
  buildSdUnetInpaintTiny,
  buildSdVaeDecoderTiny,
  buildSdVaeEncoderTiny,
} from './tiny-models/sd.ts'

/** File name → builder of every tiny model. */
export const TINY_MODEL_BUILDERS = {
  'clip-image-tiny.onnx': buildClipImageTiny,
  'clip-text-tiny.onnx': buildClipTextTiny,
  'sd-text-encoder-tiny.onnx': buildSdTextEncoderTiny,
  'sd-vae-encoder-tiny.onnx': buildSdVaeEncoderTiny,
  'sd-vae-decoder-tiny.onnx': buildSdVaeDecoderTiny,
  'sd-unet-inpaint-tiny.onnx': () => buildSdUnetInpaintTiny('float32'),
  'sd-unet-inpaint-tiny-fp16.onnx': () => buildSdUnetInpaintTiny('float16'),
} as const satisfies Record<string, () => Uint8Array>

/** A written model file with its digest. */
export interface WrittenModel {
  readonly fileName: string
  readonly path: string
  readonly sha256: string
  readonly sizeBytes: number
}

/** Builds every tiny model and writes it into `outDir`. */
export function writeTinyModels(outDir: string): WrittenModel[] {
  mkdirSync(outDir, { recursive: true })

  return Object.entries(TINY_MODEL_BUILDERS).map(([fileName, build]) => {
    const bytes = build()
    const path = join(outDir, fileName)
    writeFileSync(path, bytes)
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    return { fileName, path, sha256, sizeBytes: bytes.length }
  })
}

const DEFAULT_OUT_DIR = fileURLToPath(new URL('../infra/models/tiny', import.meta.url))

function main(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { out: { type: 'string' } } })
  const outDir = resolve(values.out ?? DEFAULT_OUT_DIR)

  for (const model of writeTinyModels(outDir)) {
    console.log(`${model.sha256}  ${String(model.sizeBytes).padStart(7)}  ${model.path}`)
  }
  return 0
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2))
}
