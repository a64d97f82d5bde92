/**
 * The whole edit in-process: decode, then for each edit in order find the entity (or take the
 * cached mask), regenerate its working window with diffusion and composite it back, then
 * encode the result and the mask.
 *
 * Edit i of a request uses seed + i (mod 2^32), so a multi-edit request is reproducible from
 * the one seed it reports.
 */
import type { EditSettings, EditStep } from '../../shared/schemas/edit-settings.ts'
import { compositeWindow } from '../compose/composite.ts'
import { prepareInpaintInputs } from '../compose/inpaint-inputs.ts'
import { growAndFeather } from '../compose/mask-ops.ts'
import { computeWindow } from '../compose/window.ts'
import { RunnerError } from '../errors.ts'
import { encodeImage, encodeMaskPng } from '../image/encode.ts'
import { decodeImage, decodeMaskPng } from '../image/intake.ts'
import type { GrayMask, RgbImage } from '../image/types.ts'
import { log } from '../log.ts'
import { inpaintWindow } from '../models/inpaint/pipeline.ts'
import type { Profile } from '../models/manifest.ts'
import { resolveSeed } from '../tensor/random.ts'
import { findEntityMask, type EntityMask } from './find-entity.ts'
import { loadPipelineModels, type PipelineModels } from './models.ts'
import type {
  EditPipelineRequest,
  EditPipelineResult,
  EntityCandidate,
  PipelineProgress,
  PixelBox,
} from './types.ts'

/** A loaded pipeline: models in memory, ready for requests one at a time. */
export interface EditPipeline {
  readonly profile: Profile
  readonly modelRevisions: Readonly<Record<string, string>>
  /** Runs only the alignment phase: the entity mask and the scores behind it. */
  findEntity(request: FindEntityRequest): Promise<FindEntityResult>
  run(request: EditPipelineRequest): Promise<EditPipelineResult>
  release(): Promise<void>
}

export interface FindEntityRequest {
  /** Encoded image (JPEG, PNG or WebP). */
  readonly image: Uint8Array
  readonly entity: string
  readonly multiple: boolean
}

export interface FindEntityResult extends EntityMask {
  readonly width: number
  readonly height: number
}

/** Progress lines are logged at most this often, so a 50-step loop logs about five lines. */
const PROGRESS_LOG_INTERVAL_MS = 2000

/**
 * Loads every model of `profile` and returns the pipeline.
 *
 * @throws RunnerError `model-missing` or `model-contract` when the profile cannot be loaded.
 */
export async function loadEditPipeline(options: {
  profile: Profile
  modelDir?: string
  intraOpThreads?: number
}): Promise<EditPipeline> {
  const models = await loadPipelineModels(options)

  return {
    profile: models.profile,
    modelRevisions: models.revisions,
    findEntity: (request) => findEntityInImage(models, request),
    run: (request) => runEdit(models, request),
    release: () => models.release(),
  }
}

async function findEntityInImage(
  models: PipelineModels,
  request: FindEntityRequest
): Promise<FindEntityResult> {
  const started = performance.now()
  const { image } = await decodeImage(request.image)
  const decodeMs = performance.now() - started

  const found = await findEntityMask(models, image, request)
  return {
    ...found,
    width: image.width,
    height: image.height,
    timingsMs: { decode: decodeMs, ...found.timingsMs },
  }
}

async function runEdit(
  models: PipelineModels,
  request: EditPipelineRequest
): Promise<EditPipelineResult> {
  const { settings, edits } = request
  const timings = new StageTimings()
  if (request.mask !== undefined && edits.length !== 1) {
    throw new RunnerError(
      'invalid-input',
      `A mask applies to one edit, but the request has ${edits.length}. ` +
        'Send the edits one at a time, or leave the mask out.'
    )
  }

  // 1. Decode the input upright, and the cached mask if one came with it
  let image = (await timings.time('decode', () => decodeImage(request.image))).image
  const cachedMask = request.mask
    ? await timings.time('decode', () => decodeMaskPng(request.mask as Uint8Array, image))
    : undefined
  const seed = resolveSeed(settings.seed)

  // 2. Each edit in order, on the result of the previous one
  const usedMask = new Uint8Array(image.width * image.height)
  let selected: readonly EntityCandidate[] = []
  let candidates: readonly EntityCandidate[] = []
  let window: PixelBox = [0, 0, image.width, image.height]
  for (const [index, edit] of edits.entries()) {
    throwIfAborted(request.signal)
    const found = cachedMask
      ? { mask: cachedMask, selected: [], candidates: [] }
      : await findMaskTimed(models, image, edit, settings, timings)
    const edited = await applyEdit(models, {
      image,
      entityMask: found.mask,
      edit,
      settings,
      seed: (seed + index) % 2 ** 32,
      timings,
      request,
      progressLabel: { index, count: edits.length },
    })
    image = edited.image
    window = edited.window
    selected = found.selected
    candidates = found.candidates
    mergeInto(usedMask, found.mask)
  }

  // 3. Encode the result and the union of the masks used
  const [encoded, maskPng] = await timings.time('encoding', () =>
    Promise.all([
      encodeImage(image, settings.output_format),
      encodeMaskPng({ data: usedMask, width: image.width, height: image.height }),
    ])
  )
  return {
    image: encoded,
    format: settings.output_format,
    mask: maskPng,
    width: image.width,
    height: image.height,
    seed,
    selected,
    candidates,
    window,
    maskFromCache: cachedMask !== undefined,
    timingsMs: timings.rounded(),
    modelRevisions: models.revisions,
  }
}

async function findMaskTimed(
  models: PipelineModels,
  image: RgbImage,
  edit: EditStep,
  settings: EditSettings,
  timings: StageTimings
): Promise<EntityMask> {
  const found = await findEntityMask(models, image, {
    entity: edit.entity,
    multiple: settings.multiple,
  })
  timings.addAll(found.timingsMs)
  return found
}

interface ApplyEditJob {
  readonly image: RgbImage
  readonly entityMask: GrayMask
  readonly edit: EditStep
  readonly settings: EditSettings
  readonly seed: number
  readonly timings: StageTimings
  readonly request: EditPipelineRequest
  readonly progressLabel: { index: number; count: number }
}

/** Regenerates one entity and composites it into the image. */
async function applyEdit(
  models: PipelineModels,
  job: ApplyEditJob
): Promise<{ image: RgbImage; window: PixelBox }> {
  const { image, entityMask, edit, settings, timings } = job

  // 1. Grown and feathered masks, and the window around them
  const blend = await timings.time('compositing', async () =>
    growAndFeather(entityMask, { growPx: settings.grow_mask, featherPx: settings.feather })
  )
  if (blend.grownBox === undefined) {
    throw new RunnerError(
      'invalid-input',
      `The mask for "${edit.entity}" is empty, so there is nothing to edit. ` +
        'Send a mask with white (255) pixels over the entity, or leave it out.'
    )
  }
  const window = computeWindow(blend.grownBox, image, { resolution: models.inpaintResolution })

  // 2. Model inputs of the window
  const inputs = await timings.time('compositing', () =>
    prepareInpaintInputs(image, blend.grown, window)
  )

  // 3. Diffusion inpainting of the window
  const generated = await inpaintWindow(models.inpaint, {
    inputs,
    ...describeTarget(edit, settings),
    steps: settings.steps,
    guidanceScale: settings.guidance_scale,
    scheduler: settings.scheduler,
    seed: job.seed,
    strength: settings.keep_shape ? settings.strength : 1,
    ...(job.request.signal ? { signal: job.request.signal } : {}),
    onStep: progressReporter(job),
  })
  timings.addAll(generated.timingsMs)

  // 4. Paste the window back at full resolution
  const composited = await timings.time('compositing', () =>
    compositeWindow(image, generated.image, window, blend.alpha)
  )
  return { image: composited, window: window.box }
}

/**
 * Prompt and negative prompt of one edit. An empty description removes the entity: the model
 * gets no target text, and the entity word joins the negative prompt so that guidance steers
 * the region away from it and towards the surrounding background.
 */
function describeTarget(
  edit: EditStep,
  settings: EditSettings
): { prompt: string; negativePrompt: string } {
  const prompt = edit.prompt.trim()
  if (prompt !== '') return { prompt, negativePrompt: settings.negative_prompt }

  const negativePrompt = [edit.entity, settings.negative_prompt].filter(Boolean).join(', ')
  return { prompt: '', negativePrompt }
}

function progressReporter(job: ApplyEditJob): (progress: { step: number; total: number }) => void {
  let lastLogged = 0

  return ({ step, total }) => {
    const progress: PipelineProgress = { stage: 'denoising', done: step, total }
    job.request.onProgress?.(progress)

    const now = performance.now()
    if (step !== total && now - lastLogged < PROGRESS_LOG_INTERVAL_MS) return
    lastLogged = now
    log.info('denoising.progressed', {
      edit: job.progressLabel.index + 1,
      edits: job.progressLabel.count,
      step,
      steps: total,
    })
  }
}

function mergeInto(target: Uint8Array, mask: GrayMask): void {
  for (let i = 0; i < target.length; i++) {
    if (mask.data[i]! >= 128) target[i] = 255
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new RunnerError('canceled', 'The edit was canceled.')
}

/** Per-stage durations summed over the edits of a request. */
class StageTimings {
  private readonly totals: Record<string, number> = {}

  async time<T>(stage: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now()
    try {
      return await work()
    } finally {
      this.add(stage, performance.now() - started)
    }
  }

  add(stage: string, durationMs: number): void {
    this.totals[stage] = (this.totals[stage] ?? 0) + durationMs
  }

  addAll(stages: Readonly<Record<string, number>>): void {
    for (const [stage, durationMs] of Object.entries(stages)) this.add(stage, durationMs)
  }

  rounded(): Record<string, number> {
    return Object.fromEntries(
      Object.entries(this.totals).map(([stage, durationMs]) => [
        stage,
        Math.round(durationMs * 10) / 10,
      ])
    )
  }
}
