/**
 * The public view of an edit job: the row, its result as freshly signed GET URLs, and the
 * timings the edge measured around the runner's own.
 */
import { ApiProblem, PROBLEM_TYPE_BASE, PROBLEMS, type ProblemSlug } from '../../shared/problems.ts'
import type { EditJob } from '../../shared/schemas/api.ts'
import type { BlobUrlSigner } from '../storage/signed-urls.ts'
import type { EditRecord } from './jobs.ts'

/** Path of an edit job, the `Location` of a 202 response. */
export function editPath(editId: string): string {
  return `/v1/edits/${editId}`
}

/** Renders an edit as the API returns it; result URLs are signed at each call. */
export async function renderEdit(edit: EditRecord, signer: BlobUrlSigner): Promise<EditJob> {
  const output = edit.result?.output

  return {
    id: edit.id,
    object: 'edit',
    status: edit.status,
    created_at: edit.createdAt,
    started_at: edit.startedAt,
    completed_at: edit.completedAt,
    edits: [...edit.edits],
    settings: edit.settings,
    input: {
      sha256: edit.input.sha256,
      format: edit.input.format,
      width: edit.input.width,
      height: edit.input.height,
      size_bytes: edit.input.sizeBytes,
    },
    result: edit.status === 'succeeded' ? await renderResult(edit, signer) : null,
    selected: output?.selected ?? [],
    candidates: output?.candidates ?? candidatesOfProblem(edit),
    seed: output?.seed ?? null,
    window: output?.window ?? null,
    mask_cache: edit.maskCache,
    timings_ms: edgeTimings(edit),
    model_revisions: output?.model_revisions ?? {},
    attempts: edit.attempts,
    units: edit.units,
    webhook_url: edit.webhookUrl,
    error: edit.error,
  }
}

async function renderResult(edit: EditRecord, signer: BlobUrlSigner): Promise<EditJob['result']> {
  const result = edit.result
  if (!result) return null

  const [image, mask] = await Promise.all([
    signer.sign({ key: result.imageKey, method: 'GET' }),
    signer.sign({ key: result.maskKey, method: 'GET' }),
  ])
  return {
    image_url: image.url,
    mask_url: mask.url,
    format: result.output.format,
    width: result.output.width,
    height: result.output.height,
    expires_at: image.expiresAt.toISOString(),
  }
}

// An entity-not-found failure lists the candidates it scored, so the caller can pick a word.
function candidatesOfProblem(edit: EditRecord): EditJob['candidates'] {
  const candidates = edit.error?.candidates
  return Array.isArray(candidates) ? (candidates as EditJob['candidates']) : []
}

/**
 * Timings: the runner's per-stage `timings_ms`, plus `queued` (creation to the first attempt's
 * start) and `total` (creation to completion), and when the runner reports its own duration,
 * `runner` and `edge` (total minus runner: the edge, the queue and the transfers).
 */
function edgeTimings(edit: EditRecord): Record<string, number> {
  const timings: Record<string, number> = { ...edit.result?.output.timings_ms }
  const createdMs = Date.parse(edit.createdAt)

  if (edit.startedAt) timings.queued = Date.parse(edit.startedAt) - createdMs
  if (!edit.completedAt) return timings
  timings.total = Date.parse(edit.completedAt) - createdMs
  const runnerMs = edit.result?.runnerMs
  if (runnerMs !== undefined) {
    timings.runner = runnerMs
    timings.edge = Math.max(0, timings.total - runnerMs)
  }
  return timings
}

/** Rebuilds the ApiProblem of a failed or canceled edit, for a synchronous response. */
export function problemOfEdit(edit: EditRecord): ApiProblem {
  const body = edit.error
  const slug = body?.type.startsWith(PROBLEM_TYPE_BASE)
    ? (body.type.slice(PROBLEM_TYPE_BASE.length) as ProblemSlug)
    : undefined
  const known = slug !== undefined && slug in PROBLEMS ? slug : 'internal'
  const members: Record<string, unknown> = { ...body, edit_id: edit.id }
  for (const name of ['type', 'title', 'status', 'detail', 'instance', 'requestId'])
    delete members[name]

  return new ApiProblem(known, body?.detail ?? `The edit ${edit.status}.`, { members })
}
