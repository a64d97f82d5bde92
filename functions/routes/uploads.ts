/**
 * `POST /v1/uploads`: a signed PUT URL for one large image, so its bytes go to storage without
 * passing through `POST /v1/edits`. The returned id is then sent as `upload_id`.
 */
import { zValidator } from '@hono/zod-validator'
import { Hono } from 'hono'

import { UploadRequestSchema, type UploadResponse } from '../../shared/schemas/api.ts'
import { readConfig } from '../config.ts'
import type { AppEnv } from '../env.ts'
import { validationHook } from '../errors.ts'
import { apiKeyAuth } from '../middleware/api-key-auth.ts'
import { rateLimit } from '../middleware/rate-limit.ts'
import { newUploadId } from '../services/ids.ts'
import { uploadKey } from '../storage/blob-keys.ts'
import { createBlobUrlSigner } from '../storage/signed-urls.ts'

/** Lifetime of an upload URL. */
export const UPLOAD_URL_TTL_S = 3600

export const uploadsRoutes = new Hono<AppEnv>()

uploadsRoutes.use(apiKeyAuth())

uploadsRoutes.post(
  '/',
  rateLimit(),
  zValidator('json', UploadRequestSchema, validationHook),
  async (c) => {
    const request = c.req.valid('json')
    const id = newUploadId()
    const signed = await createBlobUrlSigner(readConfig(c.env)).sign({
      key: uploadKey(id),
      method: 'PUT',
      expiresInS: UPLOAD_URL_TTL_S,
    })

    await c.env.DB.prepare(
      'INSERT INTO uploads (id, key_id, content_type, created_at, expires_at) VALUES (?, ?, ?, ?, ?)'
    )
      .bind(
        id,
        c.get('apiKey').id,
        request.content_type,
        new Date().toISOString(),
        signed.expiresAt.toISOString()
      )
      .run()
    c.get('log').info('upload.created', { uploadId: id })

    const body: UploadResponse = {
      id,
      object: 'upload',
      upload_url: signed.url,
      method: 'PUT',
      headers: { 'Content-Type': request.content_type },
      expires_at: signed.expiresAt.toISOString(),
    }
    return c.json(body, 201)
  }
)
