/**
 * Parses a prediction request body at the HTTP entry point: the Cog envelope, the input with the
 * shared schemas, the edit list, and every URL against the outbound policy. Anything wrong is one
 * `invalid-request` problem that lists all issues, so a caller can fix a request in one round.
 */
import { createHash } from 'node:crypto'

import { ApiProblem, toValidationIssues, type ValidationIssue } from '../../shared/problems.ts'
import type { EditSettings, EditStep } from '../../shared/schemas/edit-settings.ts'
import {
  PredictionInputSchema,
  PredictionRequestSchema,
  WEBHOOK_EVENTS,
  type PredictionInput,
} from '../../shared/schemas/prediction.ts'
import { RunnerError } from '../errors.ts'
import { checkOutboundUrl, type OutboundPolicy, type UrlPurpose } from '../fetch/url-policy.ts'
import type { WebhookTarget } from './webhooks.ts'

/** A validated prediction request, ready for the prediction service. */
export interface ParsedPredictionRequest {
  readonly id: string | undefined
  readonly input: PredictionInput
  /** SHA-256 of the input with defaults applied, to spot an id reused with another input. */
  readonly inputDigest: string
  readonly edits: readonly EditStep[]
  readonly settings: EditSettings
  readonly webhook: WebhookTarget | undefined
}

/** Prediction ids appear in URL paths, so they use URL-safe characters only. */
const PREDICTION_ID_PATTERN = /^[A-Za-z0-9._~-]{1,128}$/

/**
 * Validates a request body; `pathId` is the id of `PUT /predictions/{id}`.
 *
 * @throws ApiProblem `invalid-request` with `errors` listing every issue.
 */
export function parsePredictionRequest(
  body: unknown,
  options: { pathId?: string; policy: OutboundPolicy }
): ParsedPredictionRequest {
  const { pathId, policy } = options

  const envelope = PredictionRequestSchema.safeParse(body)
  if (!envelope.success) throw invalid(toValidationIssues(envelope.error.issues))
  const parsedInput = PredictionInputSchema.safeParse(envelope.data.input ?? {})
  if (!parsedInput.success) {
    throw invalid(prefixPaths(toValidationIssues(parsedInput.error.issues), 'input'))
  }
  const input = parsedInput.data

  const id = pathId ?? envelope.data.id
  const issues = [
    ...checkId(id, envelope.data.id, pathId),
    ...checkEditFields(input),
    ...checkInputUrls(input, policy),
  ]
  const webhook = parseWebhook(envelope.data.webhook, envelope.data.webhook_events_filter, policy)
  issues.push(...webhook.issues)
  if (issues.length > 0) throw invalid(issues)

  return {
    id,
    input,
    inputDigest: digestInput(input),
    edits: toEditSteps(input),
    settings: toSettings(input),
    webhook: webhook.target,
  }
}

function checkId(id: string | undefined, bodyId: string | undefined, pathId: string | undefined) {
  const issues: ValidationIssue[] = []
  if (id !== undefined && !PREDICTION_ID_PATTERN.test(id)) {
    issues.push({
      path: pathId === undefined ? 'id' : 'path.id',
      code: 'invalid_format',
      message: 'Use 1 to 128 letters, digits, "-", "_", "." or "~" for a prediction id.',
    })
  }
  if (pathId !== undefined && bodyId !== undefined && bodyId !== pathId) {
    issues.push({
      path: 'id',
      code: 'custom',
      message: `The body id "${bodyId}" differs from the path id; omit it or send the same id.`,
    })
  }
  return issues
}

// The schema requires exactly one of `entity` and `edits`; these are the pairings it leaves open.
function checkEditFields(input: PredictionInput): ValidationIssue[] {
  if (input.entity !== undefined && input.prompt === undefined) {
    return [
      {
        path: 'input.prompt',
        code: 'custom',
        message: 'Give `prompt` with `entity`; an empty prompt removes the entity.',
      },
    ]
  }
  if (input.edits !== undefined && input.prompt !== undefined) {
    return [
      {
        path: 'input.prompt',
        code: 'custom',
        message: 'Put each prompt inside `edits`; a top-level `prompt` is only used with `entity`.',
      },
    ]
  }
  return []
}

function checkInputUrls(input: PredictionInput, policy: OutboundPolicy): ValidationIssue[] {
  const fields: readonly [UrlPurpose, string | undefined][] = [
    ['image', input.image],
    ['mask', input.mask],
    ['output_image_url', input.output_image_url],
    ['output_mask_url', input.output_mask_url],
  ]

  return fields.flatMap(([field, value]) =>
    value === undefined || value.startsWith('data:') ? [] : checkUrl(value, policy, field, 'input.')
  )
}

function parseWebhook(
  url: string | undefined,
  filter: readonly (typeof WEBHOOK_EVENTS)[number][] | undefined,
  policy: OutboundPolicy
): { target: WebhookTarget | undefined; issues: ValidationIssue[] } {
  if (url === undefined) return { target: undefined, issues: [] }

  const issues = checkUrl(url, policy, 'webhook', '')
  const target =
    issues.length > 0 ? undefined : { url: new URL(url), events: new Set(filter ?? WEBHOOK_EVENTS) }
  return { target, issues }
}

function checkUrl(value: string, policy: OutboundPolicy, field: UrlPurpose, pathPrefix: string) {
  try {
    checkOutboundUrl(value, policy, field)
    return []
  } catch (error) {
    if (!(error instanceof RunnerError)) throw error
    return [{ path: pathPrefix + field, code: 'url_not_allowed', message: error.message }]
  }
}

function toEditSteps(input: PredictionInput): EditStep[] {
  if (input.edits !== undefined) return input.edits

  return [{ entity: input.entity ?? '', prompt: input.prompt ?? '' }]
}

function toSettings(input: PredictionInput): EditSettings {
  return {
    negative_prompt: input.negative_prompt,
    seed: input.seed,
    steps: input.steps,
    guidance_scale: input.guidance_scale,
    scheduler: input.scheduler,
    grow_mask: input.grow_mask,
    feather: input.feather,
    keep_shape: input.keep_shape,
    strength: input.strength,
    multiple: input.multiple,
    threshold: input.threshold,
    output_format: input.output_format,
  }
}

function digestInput(input: PredictionInput): string {
  return createHash('sha256').update(canonicalJson(input)).digest('hex')
}

// JSON with object keys sorted at every level, so key order does not change the digest.
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'

  const entries = Object.entries(value)
    .filter(([, member]) => member !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : 1)) // keys of one object are distinct
  return `{${entries.map(([key, member]) => `${JSON.stringify(key)}:${canonicalJson(member)}`).join(',')}}`
}

function prefixPaths(issues: ValidationIssue[], prefix: string): ValidationIssue[] {
  return issues.map((issue) => ({
    ...issue,
    path: issue.path === '' ? prefix : `${prefix}.${issue.path}`,
  }))
}

function invalid(issues: readonly ValidationIssue[]): ApiProblem {
  const [first] = issues
  const more = issues.length > 1 ? ` (${issues.length - 1} more issue(s) in \`errors\`)` : ''
  const detail =
    first === undefined
      ? 'The prediction request is invalid.'
      : `${first.path || 'body'}: ${first.message}${more}`

  return new ApiProblem('invalid-request', detail, { errors: issues })
}
