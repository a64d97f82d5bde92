/**
 * Errors in words a person can act on. The page shows the problem's title and detail as the
 * API wrote them, and a hint for the statuses a playground user meets most. It also lists the
 * fields that failed validation and, when no entity matched, the regions that were scored.
 */
import type { ProblemBody } from '../../../shared/problems.ts'
import type { EditJob } from '../../../shared/schemas/api.ts'
import { rankCandidates, renderCandidateTable } from './candidates.ts'
import { html } from './dom.ts'

/** The error section's elements, as the page's markup defines them. */
export interface ProblemElements {
  readonly section: HTMLElement
  readonly title: HTMLElement
  readonly detail: HTMLElement
  readonly extra: HTMLElement
}

const HINTS: Readonly<Record<number, string>> = {
  401: 'Check the API key field at the top of the form.',
  402: 'This key has no credit left for the edit.',
  413: 'Choose a smaller photo.',
  415: 'Choose a PNG, JPEG or WebP photo.',
  429: 'Too many requests in a short time. Wait a moment, then submit again.',
}

/** Hides the previous error. */
export function hideProblem(elements: ProblemElements): void {
  elements.section.hidden = true
}

/** Shows a problem in place of the result. */
export function showProblem(elements: ProblemElements, problem: ProblemBody): void {
  const hint = HINTS[problem.status]
  elements.title.textContent = problem.title
  elements.detail.textContent = problem.detail
  elements.extra.replaceChildren(
    ...[
      hint ? html('p', { class: 'hint' }, hint) : null,
      renderValidationErrors(problem),
      renderScoredRegions(problem),
      typeof problem.requestId === 'string'
        ? html('p', { class: 'request-id' }, `Request id: ${problem.requestId}`)
        : null,
    ].filter((node) => node !== null)
  )
  elements.section.hidden = false
}

function renderValidationErrors(problem: ProblemBody): HTMLElement | null {
  if (!problem.errors || problem.errors.length === 0) return null
  return html(
    'ul',
    { class: 'field-errors' },
    ...problem.errors.map((issue) =>
      html('li', {}, issue.path ? html('code', {}, issue.path) : null, ` ${issue.message}`)
    )
  )
}

// An entity-not-found problem lists the regions it scored, so the user can try another word.
function renderScoredRegions(problem: ProblemBody): HTMLElement | null {
  const candidates = problem.candidates
  if (!Array.isArray(candidates) || candidates.length === 0) return null
  return renderCandidateTable(rankCandidates(candidates as EditJob['candidates'], []))
}
