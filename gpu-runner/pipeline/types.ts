/**
 * The in-process edit pipeline's request and result: what the command line, the runner's HTTP
 * service and the benchmarks pass to `runEditPipeline`.
 */
import type { ImageFormat } from '../../shared/limits.ts'
import type { EditSettings, EditStep } from '../../shared/schemas/edit-settings.ts'

/** Box in pixels of the upright image: `[x0, y0, x1, y1]`, x1 and y1 exclusive. */
export type PixelBox = readonly [number, number, number, number]

/** One segmentation proposal with its similarity to the entity words. */
export interface EntityCandidate {
  readonly bbox: PixelBox
  /** Mask area in pixels of the upright image. */
  readonly area: number
  /** Similarity to the entity words, softmax-free cosine in [-1, 1]. */
  readonly score: number
}

/** Progress of a running pipeline, reported at a bounded rate. */
export interface PipelineProgress {
  readonly stage: string
  /** Completed units of the stage, for example denoising steps. */
  readonly done: number
  readonly total: number
}

export interface EditPipelineRequest {
  /** Encoded input image (JPEG, PNG or WebP). */
  readonly image: Uint8Array
  /** Optional PNG entity mask of the input's upright size; skips the alignment phase. */
  readonly mask?: Uint8Array
  /** Edits applied in order; each later edit sees the result of the earlier ones. */
  readonly edits: readonly EditStep[]
  readonly settings: EditSettings
  /** Aborts between denoising steps with RunnerError('canceled'). */
  readonly signal?: AbortSignal
  readonly onProgress?: (progress: PipelineProgress) => void
}

export interface EditPipelineResult {
  /** Encoded result in `format`, the input's upright size, no input metadata. */
  readonly image: Uint8Array
  readonly format: ImageFormat
  /** 8-bit grayscale PNG of the union of the masks used, the input's upright size. */
  readonly mask: Uint8Array
  readonly width: number
  readonly height: number
  readonly seed: number
  readonly selected: readonly EntityCandidate[]
  readonly candidates: readonly EntityCandidate[]
  /** Working window of the last edit in upright pixels. */
  readonly window: PixelBox
  readonly maskFromCache: boolean
  readonly timingsMs: Readonly<Record<string, number>>
  /** Model id → revision (sha256 prefix) of every model that took part. */
  readonly modelRevisions: Readonly<Record<string, string>>
}
