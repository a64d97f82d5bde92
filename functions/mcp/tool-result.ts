/**
 * MCP tool results of the edit tools: the finished edit as image content plus a text summary
 * with the signed links, an edit still running, or a problem.
 *
 * Every result also carries `structuredContent` (the edit as `GET /v1/edits/{id}` returns it,
 * or the problem body) for clients that read fields rather than text.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'

import { encodeBase64 } from '../../shared/client/base64.ts'
import type { ProblemBody } from '../../shared/problems.ts'
import { IMAGE_MEDIA_TYPES, type EditJob } from '../../shared/schemas/api.ts'

/**
 * Largest result image sent inline as base64. A Worker has 128 MB of memory, and the image
 * exists several times while the response is built (bytes, base64, JSON-RPC message, SSE
 * frame). A larger result is returned as its link only.
 */
export const MAX_INLINE_IMAGE_BYTES = 8 * 1024 * 1024

/**
 * Builds the result of a succeeded edit. `imageBytes` is the stored result image, or undefined
 * when it is too large to send inline.
 */
export function succeededResult(job: EditJob, imageBytes: Uint8Array | undefined): CallToolResult {
  const result = job.result
  if (!result) throw new TypeError(`Edit ${job.id} succeeded without a result.`)

  const lines = [
    `Edit ${job.id} succeeded with seed ${job.seed ?? 'unknown'}: ${describeEdits(job)}.`,
    ...job.selected.map(
      (candidate) =>
        `Selected entity: score ${candidate.score.toFixed(3)} (cosine similarity to the entity ` +
        `words), box [${candidate.bbox.join(', ')}] in pixels (x0, y0, x1, y1).`
    ),
    `Edited photo (${result.format}, ${result.width}×${result.height}): ${result.image_url}`,
    `Mask (8-bit PNG, white where the photo changed): ${result.mask_url}`,
    `Both links expire at ${result.expires_at}.`,
  ]
  if (!imageBytes) {
    lines.push(
      `The edited photo is over ${MAX_INLINE_IMAGE_BYTES} bytes, so it is sent as a link only.`
    )
  }

  return {
    content: [
      ...(imageBytes
        ? [
            {
              type: 'image' as const,
              data: encodeBase64(imageBytes),
              mimeType: IMAGE_MEDIA_TYPES[result.format],
            },
          ]
        : []),
      { type: 'text', text: lines.join('\n') },
    ],
    structuredContent: job,
  }
}

/** Builds the result of an edit that was still queued or running when the wait ended. */
export function pendingResult(job: EditJob, waitedS: number): CallToolResult {
  const text =
    `Edit ${job.id} is still ${job.status} after ${waitedS} s. Call get_edit with ` +
    `edit_id "${job.id}" to get the edited photo once it is done.`
  return { content: [{ type: 'text', text }], structuredContent: job }
}

/** Builds the error result of a problem: its title and detail as text, the body as fields. */
export function problemResult(problem: ProblemBody): CallToolResult {
  return {
    content: [{ type: 'text', text: `${problem.title}: ${problem.detail}` }],
    structuredContent: { ...problem },
    isError: true,
  }
}

function describeEdits(job: EditJob): string {
  return job.edits
    .map((step) =>
      step.prompt === '' ? `removed "${step.entity}"` : `"${step.entity}" → "${step.prompt}"`
    )
    .join(', then ')
}
