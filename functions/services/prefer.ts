/**
 * The `Prefer` request header (RFC 7240) of `POST /v1/edits`. `wait=N` requests that the API
 * hold the response up to N seconds for the edit to finish, and `respond-async` requests an
 * immediate 202.
 * Without either the API waits the configured default (DEFAULT_WAIT_S); N is capped at
 * MAX_WAIT_S.
 */

/** Wait time, and the `Preference-Applied` value to send (none when no preference applied). */
export interface WaitPreference {
  readonly waitS: number
  readonly applied?: string
}

/** Reads `Prefer`; preferences the API does not know are ignored, as RFC 7240 requires. */
export function readWaitPreference(
  header: string | undefined,
  limits: { defaultS: number; maxS: number }
): WaitPreference {
  const preferences = (header ?? '')
    .split(',')
    .map((part) => part.trim().toLowerCase())
    .filter(Boolean)

  if (preferences.includes('respond-async')) return { waitS: 0, applied: 'respond-async' }
  for (const preference of preferences) {
    const match = /^wait\s*=\s*"?(\d+)"?$/.exec(preference)
    if (!match) continue
    const waitS = Math.min(Number(match[1]), limits.maxS)
    return { waitS, applied: `wait=${waitS}` }
  }
  return { waitS: limits.defaultS }
}
