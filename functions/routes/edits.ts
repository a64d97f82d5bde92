/**
 * `POST /v1/edits` and `GET /v1/edits/{id}`.
 *
 * A POST returns 200 with the finished edit when it finishes within the wait (`Prefer: wait=N`,
 * default DEFAULT_WAIT_S, capped at MAX_WAIT_S), or the edit's problem when it failed. An edit
 * still running returns 202 with `Location` of the edit to poll.
 */
import { zValidator } from '@hono/zod-validator'
import { Hono, type Context, type MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { z } from 'zod'

import { ApiProblem } from '../../shared/problems.ts'
import { EditIdSchema, EditJsonRequestSchema } from '../../shared/schemas/api.ts'
import { readConfig } from '../config.ts'
import type { AppEnv } from '../env.ts'
import { validationHook } from '../errors.ts'
import { apiKeyAuth } from '../middleware/api-key-auth.ts'
import { rateLimit } from '../middleware/rate-limit.ts'
import { serviceContext } from '../services/context.ts'
import {
  EditFormRequestSchema,
  MAX_EDIT_BODY_BYTES,
  toEditSubmission,
} from '../services/edit-request.ts'
import { editPath, problemOfEdit, renderEdit } from '../services/edit-view.ts'
import { submitEdit, waitForEdit } from '../services/edits.ts'
import { readIdempotencyKey } from '../services/idempotency.ts'
import { findEdit, type EditRecord } from '../services/jobs.ts'
import { readWaitPreference, type WaitPreference } from '../services/prefer.ts'
import { createBlobUrlSigner } from '../storage/signed-urls.ts'

// Seconds a client is asked to wait before polling a 202 edit.
const POLL_AFTER_S = 1

type EditBody = z.infer<typeof EditFormRequestSchema>

const jsonBody: MiddlewareHandler<AppEnv, string, { out: { json: EditBody } }> = zValidator(
  'json',
  EditJsonRequestSchema,
  validationHook
)
const formBody: MiddlewareHandler<AppEnv, string, { out: { form: EditBody } }> = zValidator(
  'form',
  EditFormRequestSchema,
  validationHook
)

// One validator per body form, chosen by Content-Type; both produce the same fields.
const editBody: MiddlewareHandler<AppEnv, string, { out: { json: EditBody; form: EditBody } }> =
  async function editBody(c, next) {
    const mediaType = (c.req.header('Content-Type') ?? '').split(';')[0]?.trim().toLowerCase()
    if (mediaType === 'multipart/form-data') return formBody(c, next)
    if (mediaType !== 'application/json') {
      throw new ApiProblem(
        'invalid-request',
        'Send the edit as application/json or multipart/form-data (Content-Type header).'
      )
    }
    return jsonBody(c, next)
  }

export const editsRoutes = new Hono<AppEnv>()

editsRoutes.use(apiKeyAuth())

editsRoutes.post(
  '/',
  rateLimit({ chargesEdit: true }),
  bodyLimit({
    maxSize: MAX_EDIT_BODY_BYTES,
    onError: () => {
      throw new ApiProblem(
        'payload-too-large',
        `The request body is over ${MAX_EDIT_BODY_BYTES} bytes. Upload large images through ` +
          'POST /v1/uploads and send the upload_id.'
      )
    },
  }),
  editBody,
  async (c) => {
    const isForm = c.req.header('Content-Type')?.toLowerCase().startsWith('multipart/') ?? false
    const fields = isForm ? c.req.valid('form') : c.req.valid('json')
    const ctx = serviceContext(c.env, { requestId: c.get('requestId'), keyId: c.get('apiKey').id })
    const wait = readWaitPreference(c.req.header('Prefer'), ctx.config.wait)

    const { edit } = await submitEdit(ctx, {
      submission: await toEditSubmission(fields),
      apiKey: c.get('apiKey'),
      idempotencyKey: readIdempotencyKey(c.req.header('Idempotency-Key')),
      requestId: c.get('requestId'),
    })
    const latest = wait.waitS > 0 ? await waitForEdit(ctx, { edit, waitS: wait.waitS }) : edit
    return respondWithEdit(c, latest, wait)
  }
)

editsRoutes.get(
  '/:id',
  rateLimit(),
  zValidator('param', z.object({ id: EditIdSchema }), validationHook),
  async (c) => {
    const { id } = c.req.valid('param')
    const edit = await findEdit(c.env.DB, id)
    // Another key's edit is reported as missing, so ids cannot be probed across keys.
    if (!edit || edit.keyId !== c.get('apiKey').id) {
      throw new ApiProblem('not-found', `No edit ${id} exists for this API key.`)
    }
    return c.json(await renderEdit(edit, createBlobUrlSigner(readConfig(c.env))))
  }
)

async function respondWithEdit(
  c: Context<AppEnv>,
  edit: EditRecord,
  wait: WaitPreference
): Promise<Response> {
  c.header('Location', editPath(edit.id))
  if (wait.applied) c.header('Preference-Applied', wait.applied)

  if (edit.status === 'failed' || edit.status === 'canceled') throw problemOfEdit(edit)
  const body = await renderEdit(edit, createBlobUrlSigner(readConfig(c.env)))
  if (edit.status === 'succeeded') return c.json(body, 200)

  c.header('Retry-After', String(POLL_AFTER_S))
  return c.json(body, 202)
}
