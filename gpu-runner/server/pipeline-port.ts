/**
 * The part of the edit pipeline that the HTTP service uses; `EditPipeline` from
 * `pipeline/run-edit.ts` satisfies it. The service takes it as a parameter, so the HTTP layer
 * never imports model code and its tests can inject faults the real pipeline cannot produce.
 */
import type { EditPipelineRequest, EditPipelineResult } from '../pipeline/types.ts'

export type PipelineProfile = 'tiny' | 'cpu' | 'gpu'

/** A loaded edit pipeline. */
export interface RunnerPipeline {
  readonly profile: PipelineProfile
  /** Model id → revision of every loaded model. */
  readonly modelRevisions: Readonly<Record<string, string>>
  /** Runs one edit; rejects with RunnerError (`canceled` once `request.signal` aborts). */
  run(request: EditPipelineRequest): Promise<EditPipelineResult>
  release(): Promise<void>
}

/** Loads the pipeline during start-up; its failure puts the runner into SETUP_FAILED. */
export type PipelineLoader = () => Promise<RunnerPipeline>
