/**
 * The finished edit: the original with the mask and candidate boxes laid over it, the result
 * beside it, and the facts of the edit (id, chosen score, seed, timings, candidates).
 */
import type { EditJob } from '../../../shared/schemas/api.ts'
import {
  drawCandidateBoxes,
  formatScore,
  rankCandidates,
  renderCandidateTable,
} from './candidates.ts'
import { html, loadImage } from './dom.ts'
import type { PickedPhoto } from './photo-picker.ts'

/** Colour of the masked region in the overlay; the rest of the photo keeps its colours. */
const MASK_TINT = '#e0218a'

/** The result section's elements, as the page's markup defines them. */
export interface ResultElements {
  readonly section: HTMLElement
  readonly original: HTMLImageElement
  readonly maskOverlay: HTMLCanvasElement
  readonly boxOverlay: SVGSVGElement
  readonly result: HTMLImageElement
  readonly facts: HTMLElement
  readonly candidates: HTMLElement
  readonly timings: HTMLElement
  readonly downloadResult: HTMLAnchorElement
  readonly downloadMask: HTMLAnchorElement
}

/** A succeeded edit, whose `result` is set. */
export type FinishedEdit = EditJob & { result: NonNullable<EditJob['result']> }

/** Hides the previous result. */
export function hideResult(elements: ResultElements): void {
  elements.section.hidden = true
}

/**
 * Shows a finished edit next to the photo it was made from. Resolves once both images and the
 * mask have loaded, so the section never shows half a result.
 */
export async function showResult(
  elements: ResultElements,
  job: FinishedEdit,
  photo: PickedPhoto
): Promise<void> {
  const mask = new Image()
  await Promise.all([
    loadImage(elements.original, photo.url),
    loadImage(elements.result, job.result.image_url),
    loadImage(mask, job.result.mask_url),
  ])

  drawMaskOverlay(elements.maskOverlay, mask)
  const ranked = rankCandidates(job.candidates, job.selected)
  drawCandidateBoxes(elements.boxOverlay, ranked, photo)
  elements.facts.replaceChildren(...renderFacts(job))
  elements.candidates.replaceChildren(renderCandidateTable(ranked))
  elements.timings.replaceChildren(...renderTimings(job.timings_ms))
  setDownload(elements.downloadResult, job.result.image_url, `${job.id}.${job.result.format}`)
  setDownload(elements.downloadMask, job.result.mask_url, `${job.id}-mask.png`)
  elements.section.hidden = false
}

/**
 * Paints the mask as an overlay that the page multiplies over the photo: MASK_TINT inside the
 * mask and white (no change under multiply) outside, with the feathered edge in between.
 * It uses compositing only and never reads pixels back, so masks served from another origin
 * without CORS headers work too.
 */
function drawMaskOverlay(canvas: HTMLCanvasElement, mask: HTMLImageElement): void {
  canvas.width = mask.naturalWidth
  canvas.height = mask.naturalHeight
  const context = canvas.getContext('2d')
  if (!context) return

  // 1. White minus the mask: black inside the entity, white outside
  context.globalCompositeOperation = 'source-over'
  context.fillStyle = '#ffffff'
  context.fillRect(0, 0, canvas.width, canvas.height)
  context.globalCompositeOperation = 'difference'
  context.drawImage(mask, 0, 0)

  // 2. The lighter of that and the tint: the tint inside, white outside
  context.globalCompositeOperation = 'lighten'
  context.fillStyle = MASK_TINT
  context.fillRect(0, 0, canvas.width, canvas.height)
  context.globalCompositeOperation = 'source-over'
}

function renderFacts(job: FinishedEdit): HTMLElement[] {
  const scores = job.selected.map((region) => formatScore(region.score)).join(', ')
  const chosen =
    job.selected.length === 0
      ? 'not scored: the mask came from the cache'
      : job.selected.length === 1
        ? scores
        : `${scores} (${job.selected.length} regions)`

  return [
    ...fact('Edit', job.id, 'edit-id'),
    ...fact('Chosen entity score', chosen, 'chosen-score'),
    ...fact('Seed', job.seed === null ? 'none' : String(job.seed), 'seed'),
    ...fact('Output', `${job.result.width} × ${job.result.height} px, ${job.result.format}`),
    ...fact('Mask', job.mask_cache === 'hit' ? 'from the mask cache' : 'computed for this edit'),
  ]
}

function renderTimings(timingsMs: Readonly<Record<string, number>>): HTMLElement[] {
  return Object.entries(timingsMs).flatMap(([stage, ms]) =>
    fact(stage.replace(/_/g, ' '), `${Math.round(ms).toLocaleString('en')} ms`)
  )
}

function fact(term: string, value: string, id?: string): HTMLElement[] {
  return [html('dt', {}, term), html('dd', { id }, value)]
}

function setDownload(link: HTMLAnchorElement, url: string, fileName: string): void {
  link.href = url
  link.download = fileName
}
