/**
 * The handlers of the MCP tools. `edit_image` goes through the same service code as
 * `POST /v1/edits` (validation, credit check, storage, queue, metering), then waits for the
 * edit up to MAX_WAIT_S, the cap of `Prefer: wait`. An edit still running after that is
 * returned with its id, and `get_edit` waits for it again.
 *
 * Errors never escape as JSON-RPC errors: each becomes a tool result with `isError` and the
 * problem body the HTTP API would have sent.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import type { z } from 'zod'

import { ApiProblem } from '../../shared/problems.ts'
import { EditJsonRequestSchema, TERMINAL_EDIT_STATUSES } from '../../shared/schemas/api.ts'
import { toApiProblem, validationHook } from '../errors.ts'
import type { ServiceContext } from '../services/context.ts'
import { toEditSubmission } from '../services/edit-request.ts'
import { problemOfEdit, renderEdit } from '../services/edit-view.ts'
import { submitEdit, waitForEdit } from '../services/edits.ts'
import { findEdit, type EditRecord } from '../services/jobs.ts'
import type { ApiKeyRecord } from '../services/keys.ts'
import { createBlobUrlSigner } from '../storage/signed-urls.ts'
import { chargeEditQuota } from './edit-quota.ts'
import {
  MAX_INLINE_IMAGE_BYTES,
  pendingResult,
  problemResult,
  succeededResult,
} from './tool-result.ts'
import { EditImageArgsSchema, GetEditArgsSchema } from './tool-schemas.ts'

/** Seconds between progress notifications while a tool waits for an edit. */
export const PROGRESS_INTERVAL_S = 10

/** Path that problem bodies name as their `instance`. */
const MCP_PATH = '/mcp'

/** Context of one tool call: services, the calling key and the request. */
export interface ToolCallContext {
  readonly ctx: ServiceContext
  readonly apiKey: ApiKeyRecord
  readonly requestId: string
  /** Sends a progress notification. Absent when the caller requested none. */
  readonly reportProgress?: (message: string) => Promise<void>
}

/** Runs `edit_image`: validates, charges the edit quota, submits the edit and waits for it. */
export function callEditImage(args: unknown, call: ToolCallContext): Promise<CallToolResult> {
  return runTool('edit_image', call, async () => {
    const toolArgs = parseArgs(EditImageArgsSchema, args)
    // The tool's arguments are a subset of the JSON body, so its schema fills in the defaults.
    const fields = EditJsonRequestSchema.parse(toolArgs)

    await chargeEditQuota(call.ctx, call.apiKey)
    const { edit } = await submitEdit(call.ctx, {
      submission: await toEditSubmission(fields),
      apiKey: call.apiKey,
      requestId: call.requestId,
    })
    return finishEdit(call, edit)
  })
}

/** Runs `get_edit`: waits for an edit of the calling key and returns it like `edit_image`. */
export function callGetEdit(args: unknown, call: ToolCallContext): Promise<CallToolResult> {
  return runTool('get_edit', call, async () => {
    const { edit_id: editId } = parseArgs(GetEditArgsSchema, args)

    const edit = await findEdit(call.ctx.env.DB, editId)
    // Another key's edit is reported as missing, so ids cannot be probed across keys.
    if (!edit || edit.keyId !== call.apiKey.id) {
      throw new ApiProblem('not-found', `No edit ${editId} exists for this API key.`)
    }
    return finishEdit(call, edit)
  })
}

async function runTool(
  tool: string,
  call: ToolCallContext,
  run: () => Promise<CallToolResult>
): Promise<CallToolResult> {
  const startMs = Date.now()
  let result: CallToolResult
  try {
    result = await run()
  } catch (error) {
    const problem = toApiProblem(error)
    if (problem.slug === 'internal') call.ctx.log.error('mcp.tool_failed', { tool, error })
    else if (problem.status >= 500)
      call.ctx.log.warn('mcp.tool_failed', { tool, slug: problem.slug })
    result = problemResult(problem.toBody({ instance: MCP_PATH, requestId: call.requestId }))
  }

  call.ctx.log.info('mcp.tool_completed', {
    tool,
    isError: result.isError === true,
    durationMs: Date.now() - startMs,
  })
  return result
}

/**
 * Parses tool arguments with the HTTP API's validation rules and messages.
 *
 * @throws ApiProblem `invalid-request` with the zod issues.
 */
function parseArgs<T>(schema: z.ZodType<T>, args: unknown): T {
  const parsed = schema.safeParse(args ?? {})
  if (parsed.success) return parsed.data

  validationHook(parsed)
  // validationHook throws for every failed parse; this line only satisfies the type checker.
  throw new TypeError('validationHook returned for a failed parse.')
}

// Waits for the edit, then renders whatever state it reached.
async function finishEdit(call: ToolCallContext, edit: EditRecord): Promise<CallToolResult> {
  const waitS = call.ctx.config.wait.maxS
  const latest = await waitWithProgress(call, { edit, waitS })
  const signer = createBlobUrlSigner(call.ctx.config)

  if (latest.status === 'failed' || latest.status === 'canceled') {
    return problemResult(
      problemOfEdit(latest).toBody({ instance: MCP_PATH, requestId: call.requestId })
    )
  }
  const job = await renderEdit(latest, signer)
  if (latest.status !== 'succeeded') return pendingResult(job, waitS)
  return succeededResult(job, await readInlineImage(call.ctx, latest))
}

/**
 * Waits up to `waitS` seconds for the edit to finish. With progress requested it waits in
 * slices of PROGRESS_INTERVAL_S and reports the status after each.
 */
async function waitWithProgress(
  call: ToolCallContext,
  options: { edit: EditRecord; waitS: number }
): Promise<EditRecord> {
  const { reportProgress, ctx } = call
  if (!reportProgress) return waitForEdit(ctx, options)

  const deadlineMs = Date.now() + options.waitS * 1000
  let edit = options.edit
  for (;;) {
    const remainingS = (deadlineMs - Date.now()) / 1000
    if (TERMINAL_EDIT_STATUSES.includes(edit.status) || remainingS <= 0) return edit
    await reportProgress(`Edit ${edit.id} is ${edit.status}.`)
    edit = await waitForEdit(ctx, { edit, waitS: Math.min(PROGRESS_INTERVAL_S, remainingS) })
  }
}

// The stored result image, or undefined when it is too large to send inline.
async function readInlineImage(
  ctx: ServiceContext,
  edit: EditRecord
): Promise<Uint8Array | undefined> {
  const key = edit.result?.imageKey
  const object = key === undefined ? null : await ctx.env.BLOBS.get(key)
  if (!object) throw new Error(`The result image of edit ${edit.id} is missing from storage.`)

  if (object.size > MAX_INLINE_IMAGE_BYTES) {
    await object.body.cancel()
    return undefined
  }
  return new Uint8Array(await object.arrayBuffer())
}
