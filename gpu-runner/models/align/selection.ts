/**
 * Choice of the proposals that match the entity word, from their similarity scores.
 *
 * The best proposal must reach the model's not-found threshold, otherwise the word names
 * nothing in the photo and the edit stops with `entity-not-found` rather than editing the
 * wrong region. With `multiple`, every other proposal at or above the match threshold joins it.
 */
import { RunnerError } from '../../errors.ts'
import type { EntityCandidate } from '../../pipeline/types.ts'

/** A scored proposal and its position in the list that alignment was given. */
export interface ScoredCandidate extends EntityCandidate {
  readonly index: number
}

/** Similarity thresholds of one CLIP model (cosine similarity, in [−1, 1]). */
export interface AlignThresholds {
  /** With `multiple`, proposals at or above this score are selected together. */
  readonly match: number
  /** A best score below this means that no proposal shows the entity. */
  readonly notFound: number
}

/** Candidates named in an `entity-not-found` message. */
const CANDIDATES_IN_MESSAGE = 3

/**
 * Selects the matching candidates, best first.
 *
 * @param candidates Scored proposals in any order.
 * @throws RunnerError `entity-not-found` when there is no candidate or the best score is below
 *   `thresholds.notFound`; `details.candidates` lists the best candidates with their scores.
 */
export function selectMatches(
  candidates: readonly ScoredCandidate[],
  options: { entity: string; multiple: boolean; thresholds: AlignThresholds }
): ScoredCandidate[] {
  const { entity, multiple, thresholds } = options
  const ranked = rankCandidates(candidates)
  const best = ranked[0]

  if (best === undefined) throw noRegionsError(entity)
  if (best.score < thresholds.notFound) throw notFoundError(entity, ranked, thresholds.notFound)

  if (!multiple) return [best]
  return ranked.filter((candidate) => candidate === best || candidate.score >= thresholds.match)
}

/** Sorts candidates by score, best first; ties keep the given order. */
export function rankCandidates(candidates: readonly ScoredCandidate[]): ScoredCandidate[] {
  return [...candidates].sort((a, b) => b.score - a.score || a.index - b.index)
}

/** Builds the `entity-not-found` error for an image in which segmentation found no region. */
export function noRegionsError(entity: string): RunnerError {
  return new RunnerError(
    'entity-not-found',
    `Segmentation found no regions, so nothing in the image can match "${entity}". ` +
      'Pass a mask, or use a photo where the entity is clearly visible.',
    { details: { entity, candidates: [] } }
  )
}

function notFoundError(
  entity: string,
  ranked: readonly ScoredCandidate[],
  threshold: number
): RunnerError {
  const top = ranked.slice(0, CANDIDATES_IN_MESSAGE)
  const listed = top
    .map((c) => `#${c.index} box [${c.bbox.join(', ')}] score ${c.score.toFixed(3)}`)
    .join('; ')
  const best = top[0]?.score ?? Number.NaN

  return new RunnerError(
    'entity-not-found',
    `No region matches "${entity}": the best score is ${best.toFixed(3)}, below the ` +
      `threshold ${threshold.toFixed(3)}. Closest regions: ${listed}. ` +
      'Try another word for the entity, or pass a mask.',
    { details: { entity, threshold, candidates: top } }
  )
}
