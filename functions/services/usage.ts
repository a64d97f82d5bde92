/**
 * Credits and the usage ledger. An edit costs one unit per entity edit it makes, charged once
 * when it succeeds (see jobs.ts); failed and canceled edits cost nothing. Units of queued and
 * running edits are reserved, so concurrent requests cannot overspend.
 */
import { ApiProblem } from '../../shared/problems.ts'
import { EDIT_STATUSES, type EditStatus, type Usage } from '../../shared/schemas/api.ts'
import type { RatePolicy } from './gcra.ts'
import type { ApiKeyRecord } from './keys.ts'

/** Days of per-day totals that `GET /v1/usage` returns. */
export const USAGE_HISTORY_DAYS = 30

/** Units an edit of `editCount` entity edits costs. */
export function unitsForEdits(editCount: number): number {
  return editCount
}

/** Credit state of one key. */
export interface CreditState {
  readonly used: number
  readonly reserved: number
  /** null for an unmetered key. */
  readonly remaining: number | null
}

/** Reads how much of a key's credit is spent and reserved. */
export async function readCredit(db: D1Database, key: ApiKeyRecord): Promise<CreditState> {
  const row = await db
    .prepare(
      `SELECT
         (SELECT COALESCE(SUM(units), 0) FROM usage_ledger WHERE key_id = ?1) AS used,
         (SELECT COALESCE(SUM(units), 0) FROM edits
            WHERE key_id = ?1 AND status IN ('queued', 'running')) AS reserved`
    )
    .bind(key.id)
    .first<{ used: number; reserved: number }>()
  const used = row?.used ?? 0
  const reserved = row?.reserved ?? 0
  return { used, reserved, remaining: key.credits === null ? null : key.credits - used - reserved }
}

/** Builds the `insufficient-credit` problem for a request of `units` units. */
export function insufficientCredit(units: number, credit: CreditState): ApiProblem {
  const remaining = Math.max(0, credit.remaining ?? 0)
  return new ApiProblem(
    'insufficient-credit',
    `This edit needs ${units} credit${units === 1 ? '' : 's'} and the key has ${remaining} left ` +
      `(${credit.reserved} reserved by edits still running). Add credits to the key or wait ` +
      'for running edits to finish.',
    { members: { credits_needed: units, credits_remaining: remaining } }
  )
}

/** Builds the `GET /v1/usage` body for a key. */
export async function readUsage(
  db: D1Database,
  options: { key: ApiKeyRecord; policies: readonly RatePolicy[]; now: Date }
): Promise<Usage> {
  const { key, policies, now } = options
  const since = new Date(now.getTime() - USAGE_HISTORY_DAYS * 24 * 3600 * 1000).toISOString()

  const [credit, statusRows, dailyRows] = await Promise.all([
    readCredit(db, key),
    db
      .prepare('SELECT status, COUNT(*) AS count FROM edits WHERE key_id = ? GROUP BY status')
      .bind(key.id)
      .all<{ status: EditStatus; count: number }>(),
    db
      .prepare(
        `SELECT substr(created_at, 1, 10) AS date, SUM(units) AS units FROM usage_ledger
         WHERE key_id = ? AND created_at >= ? GROUP BY date ORDER BY date`
      )
      .bind(key.id, since)
      .all<{ date: string; units: number }>(),
  ])

  const edits = Object.fromEntries(EDIT_STATUSES.map((status) => [status, 0])) as Record<
    EditStatus,
    number
  >
  for (const row of statusRows.results) edits[row.status] = row.count

  return {
    key: { id: key.id, name: key.name, created_at: key.createdAt },
    credits: { total: key.credits, ...credit },
    edits,
    daily_units: dailyRows.results,
    rate_limits: policies.map((policy) => ({
      policy: policy.name,
      quota: policy.quota,
      window_s: policy.windowS,
    })),
  }
}
