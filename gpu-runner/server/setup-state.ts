/**
 * Start-up of the runner: loading the pipeline and the `setup` member of Cog's health check.
 * The HTTP server listens before loading starts, so a host's health probe gets STARTING instead
 * of a refused connection, and SETUP_FAILED with the reason when loading fails.
 */
import { log } from '../log.ts'
import type { PipelineLoader, RunnerPipeline } from './pipeline-port.ts'

export type SetupStatus = 'starting' | 'succeeded' | 'failed'

/** The `setup` member of `GET /health-check`. */
export interface SetupReport {
  readonly started_at: string
  readonly completed_at: string | null
  readonly status: SetupStatus
  readonly logs: string
}

/** Loads the pipeline once and reports how that went. */
export class RunnerSetup {
  status: SetupStatus = 'starting'
  pipeline: RunnerPipeline | undefined
  readonly #startedAt = new Date()
  #completedAt: Date | undefined
  readonly #logs: string[] = []

  /** Loads the pipeline with `loader`; never rejects, a failure becomes status `failed`. */
  async load(loader: PipelineLoader): Promise<void> {
    const startedMs = performance.now()
    this.#logs.push('Loading models.')

    try {
      const pipeline = await loader()
      const loadMs = Math.round(performance.now() - startedMs)
      const models = Object.entries(pipeline.modelRevisions)
      this.#logs.push(
        `Loaded profile ${pipeline.profile} with ${models.length} models in ${loadMs} ms.`
      )
      for (const [model, revision] of models) this.#logs.push(`  ${model} ${revision}`)
      this.pipeline = pipeline
      this.status = 'succeeded'
      log.info('runner.ready', {
        profile: pipeline.profile,
        loadMs,
        modelRevisions: pipeline.modelRevisions,
      })
    } catch (error) {
      this.#logs.push(`Setup failed: ${describeCauses(error)}`)
      this.status = 'failed'
      log.error('runner.setup_failed', { error })
    } finally {
      this.#completedAt = new Date()
    }
  }

  toReport(): SetupReport {
    return {
      started_at: this.#startedAt.toISOString(),
      completed_at: this.#completedAt?.toISOString() ?? null,
      status: this.status,
      logs: this.#logs.map((line) => line + '\n').join(''),
    }
  }
}

// Joins an error's message with the messages of its causes, outermost first.
function describeCauses(error: unknown): string {
  const messages: string[] = []
  let current: unknown = error
  while (current !== undefined && messages.length < 5) {
    messages.push(current instanceof Error ? current.message : String(current))
    current = current instanceof Error ? current.cause : undefined
  }
  return messages.join(' Caused by: ')
}
