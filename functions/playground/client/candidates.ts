/**
 * The scored regions of an edit: a table of candidates, best score first, and their boxes
 * drawn over the photo. Boxes are `[x0, y0, x1, y1]` in upright image pixels, x1 and y1
 * exclusive, as the API returns them.
 */
import type { EditJob } from '../../../shared/schemas/api.ts'
import { html, svg } from './dom.ts'

type Candidate = EditJob['candidates'][number]

/** Most candidates listed and outlined; the rest are only counted. */
export const MAX_LISTED_CANDIDATES = 10

/** A candidate with its place in the ranking and whether the edit chose it. */
export interface RankedCandidate extends Candidate {
  /** 1 for the best score. */
  readonly rank: number
  readonly isSelected: boolean
}

/** Ranks candidates by score and marks those whose box matches a selected region. */
export function rankCandidates(
  candidates: readonly Candidate[],
  selected: readonly Candidate[]
): RankedCandidate[] {
  return [...candidates]
    .sort((a, b) => b.score - a.score)
    .map((candidate, index) => ({
      ...candidate,
      rank: index + 1,
      isSelected: selected.some((chosen) => isSameBox(chosen.bbox, candidate.bbox)),
    }))
}

/** Formats a similarity score the way the page shows it everywhere. */
export function formatScore(score: number): string {
  return score.toFixed(3)
}

/** Builds the candidates table for the first MAX_LISTED_CANDIDATES of `ranked`. */
export function renderCandidateTable(ranked: readonly RankedCandidate[]): HTMLElement {
  const listed = ranked.slice(0, MAX_LISTED_CANDIDATES)
  const caption =
    listed.length < ranked.length
      ? `Candidates: the best ${listed.length} of ${ranked.length}, by score`
      : `Candidates: ${ranked.length}, by score`

  const rows = listed.map((candidate) =>
    html(
      'tr',
      { class: candidate.isSelected ? 'is-selected' : undefined },
      html('td', {}, String(candidate.rank)),
      html(
        'td',
        {},
        formatScore(candidate.score),
        candidate.isSelected && html('span', { class: 'badge' }, 'chosen')
      ),
      html('td', { class: 'box' }, candidate.bbox.join(', ')),
      html('td', {}, candidate.area.toLocaleString('en'))
    )
  )
  return html(
    'div',
    { class: 'table-scroll' },
    html(
      'table',
      { class: 'candidates', id: 'candidates' },
      html('caption', {}, caption),
      html(
        'thead',
        {},
        html(
          'tr',
          {},
          html('th', { scope: 'col' }, '#'),
          html('th', { scope: 'col' }, 'Score'),
          html('th', { scope: 'col' }, 'Box x0, y0, x1, y1'),
          html('th', { scope: 'col' }, 'Area (px)')
        )
      ),
      html('tbody', {}, ...rows)
    )
  )
}

/**
 * Draws the listed candidates' boxes into `overlay`, an SVG laid over a photo of
 * `width` × `height` pixels. Chosen boxes are drawn last, so they stay on top.
 */
export function drawCandidateBoxes(
  overlay: SVGSVGElement,
  ranked: readonly RankedCandidate[],
  size: { width: number; height: number }
): void {
  const listed = ranked.slice(0, MAX_LISTED_CANDIDATES)
  const ordered = [
    ...listed.filter((candidate) => !candidate.isSelected),
    ...listed.filter((candidate) => candidate.isSelected),
  ]
  // Labels scale with the photo, so they read the same at any displayed size.
  const fontSize = Math.max(size.width, size.height) / 40

  overlay.replaceChildren(...ordered.map((candidate) => drawBox(candidate, fontSize)))
  overlay.setAttribute('viewBox', `0 0 ${size.width} ${size.height}`)
}

function drawBox(candidate: RankedCandidate, fontSize: number): SVGGElement {
  const [x0, y0, x1, y1] = candidate.bbox
  return svg(
    'g',
    { class: candidate.isSelected ? 'box is-selected' : 'box' },
    svg('rect', { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }),
    svg(
      'text',
      { x: x0 + fontSize * 0.3, y: y0 + fontSize, 'font-size': fontSize },
      String(candidate.rank)
    )
  )
}

function isSameBox(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index])
}
