/**
 * Webhooks to callers: when an edit with a `webhook_url` finishes, the edit as `GET
 * /v1/edits/{id}` returns it is POSTed there.
 *
 * Signature: `Semani-Signature: t=<unix seconds>,v1=<hex>`, where v1 is HMAC-SHA256 under the
 * API key's webhook secret of `<t>.<raw body>`. Receivers recompute it over the raw body,
 * compare in constant time and reject timestamps more than 5 minutes away from their clock.
 * `Semani-Delivery` is the same for every retry of one notification, so a receiver can drop
 * duplicates. A non-2xx response or a failure is retried through the queue with growing delays,
 * and redirects are not followed.
 */
import { signPayload } from '../../shared/signing.ts'
import { createBlobUrlSigner } from '../storage/signed-urls.ts'
import { checkOutboundUrl } from './address-check.ts'
import type { ServiceContext } from './context.ts'
import { renderEdit } from './edit-view.ts'
import { findEdit } from './jobs.ts'

/** Event name sent in `Semani-Event`. */
export const EDIT_FINISHED_EVENT = 'edit.finished'

/** Delivery outcome: done (delivered or pointless to retry) or retry after a delay. */
export type DeliveryOutcome = { readonly retryAfterS?: number }

/** Delivers the finished edit to its webhook; `attempt` is the queue's 1-based attempt count. */
export async function deliverEditWebhook(
  ctx: ServiceContext,
  options: { editId: string; attempt: number; fetcher?: typeof fetch }
): Promise<DeliveryOutcome> {
  const { editId, attempt, fetcher = fetch } = options
  const edit = await findEdit(ctx.env.DB, editId)
  if (!edit?.webhookUrl) return {}
  const url = new URL(edit.webhookUrl)
  const rejection = checkOutboundUrl(url, { allowLoopback: ctx.config.allowLoopbackUrls })
  if (rejection) {
    ctx.log.warn('webhook.rejected', { editId, reason: rejection })
    return {}
  }

  const secret = await readWebhookSecret(ctx.env.DB, edit.keyId)
  const body = JSON.stringify(await renderEdit(edit, createBlobUrlSigner(ctx.config)))
  const timestampS = Math.floor(ctx.now().getTime() / 1000)
  const failure = await post(fetcher, {
    url,
    body,
    timeoutS: ctx.config.webhookTimeoutS,
    headers: {
      'Content-Type': 'application/json',
      'Semani-Event': EDIT_FINISHED_EVENT,
      'Semani-Delivery': `${editId}.${edit.status}`,
      'Semani-Signature': await signPayload({ secret, body, timestampS }),
    },
  })

  if (!failure) {
    ctx.log.info('webhook.delivered', { editId, attempt })
    return {}
  }
  ctx.log.warn('webhook.failed', { editId, attempt, reason: failure })
  return { retryAfterS: Math.min(3600, ctx.config.retryDelayS * 2 ** (attempt - 1)) }
}

async function post(
  fetcher: typeof fetch,
  options: { url: URL; body: string; timeoutS: number; headers: Record<string, string> }
): Promise<string | undefined> {
  try {
    const response = await fetcher(options.url.toString(), {
      method: 'POST',
      headers: options.headers,
      body: options.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutS * 1000),
    })
    await response.body?.cancel()
    return response.ok ? undefined : `HTTP ${response.status}`
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}

async function readWebhookSecret(db: D1Database, keyId: string): Promise<string> {
  const row = await db
    .prepare('SELECT webhook_secret FROM api_keys WHERE id = ?')
    .bind(keyId)
    .first<{ webhook_secret: string }>()
  if (!row) throw new Error(`API key ${keyId} of a finished edit is missing.`)
  return row.webhook_secret
}
