/**
 * The queue consumer: routes each message of the edits queue, or of its dead-letter queue, to
 * the service that handles it, then acknowledges or retries it.
 */
import type { Bindings, QueueMessageBody } from '../env.ts'
import { serviceContext, type ServiceContext } from './context.ts'
import { checkWatchdog, giveUpEdit, runAttempt } from './dispatch.ts'
import { deliverEditWebhook } from './webhooks.ts'

/** Name suffix that marks a dead-letter queue (wrangler.toml: `semani-edits-dlq`). */
export const DEAD_LETTER_SUFFIX = '-dlq'

/** Handles one batch; each message is acknowledged or retried on its own. */
export async function handleQueueBatch(
  batch: MessageBatch<QueueMessageBody>,
  env: Bindings
): Promise<void> {
  const deadLetter = batch.queue.endsWith(DEAD_LETTER_SUFFIX)
  await Promise.all(batch.messages.map((message) => handleMessage(env, message, deadLetter)))
}

async function handleMessage(
  env: Bindings,
  message: Message<QueueMessageBody>,
  deadLetter: boolean
): Promise<void> {
  const body = message.body
  const ctx = serviceContext(env, { editId: body.editId, messageId: message.id })

  try {
    const outcome = await route(ctx, body, { attempt: message.attempts, deadLetter })
    if (outcome.retryAfterS === undefined) {
      message.ack()
      return
    }
    ctx.log.info('queue.retry_scheduled', { kind: body.kind, delayS: outcome.retryAfterS })
    message.retry({ delaySeconds: outcome.retryAfterS })
  } catch (error) {
    // Retried by the queue; after max_retries it moves to the dead-letter queue.
    ctx.log.error('queue.message_failed', { kind: body.kind, attempt: message.attempts, error })
    message.retry({ delaySeconds: ctx.config.retryDelayS })
  }
}

async function route(
  ctx: ServiceContext,
  body: QueueMessageBody,
  options: { attempt: number; deadLetter: boolean }
): Promise<{ retryAfterS?: number }> {
  switch (body.kind) {
    case 'dispatch':
      if (!options.deadLetter) return runAttempt(ctx, body.editId)
      await giveUpEdit(ctx, body.editId)
      return {}
    case 'watchdog':
      await checkWatchdog(ctx, body)
      return {}
    case 'notify':
      if (!options.deadLetter)
        return deliverEditWebhook(ctx, { editId: body.editId, attempt: options.attempt })
      ctx.log.warn('webhook.abandoned', { editId: body.editId })
      return {}
    default: {
      const unhandled: never = body
      throw new TypeError(`Unknown queue message ${JSON.stringify(unhandled)}`)
    }
  }
}
