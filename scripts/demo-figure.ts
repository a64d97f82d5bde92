/**
 * Builds docs/images/demo.png from the images `npm run demo` writes: before, result and mask
 * side by side, each 400 px wide.
 *
 * Usage: npx tsx scripts/demo-figure.ts [out/demo]
 */
import { mkdir } from 'node:fs/promises'
import path from 'node:path'

import sharp from 'sharp'

const PANEL_WIDTH_PX = 400
const GAP_PX = 8

const folder = process.argv[2] ?? 'out/demo'
const panels = await Promise.all(
  ['before.jpg', 'result.png', 'mask.png'].map((name) =>
    sharp(path.join(folder, name))
      .resize({ width: PANEL_WIDTH_PX })
      .removeAlpha()
      .toColourspace('srgb')
      .png()
      .toBuffer({ resolveWithObject: true })
  )
)

const height = Math.max(...panels.map((panel) => panel.info.height))
const width = panels.length * PANEL_WIDTH_PX + (panels.length - 1) * GAP_PX
await mkdir('docs/images', { recursive: true })
await sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
  .composite(
    panels.map((panel, index) => ({
      input: panel.data,
      left: index * (PANEL_WIDTH_PX + GAP_PX),
      top: 0,
    }))
  )
  .png()
  .toFile('docs/images/demo.png')
process.stdout.write(`wrote docs/images/demo.png (${width}x${height})\n`)
