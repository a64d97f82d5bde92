/**
 * Loads every model of a profile into sessions, in the shape the edit pipeline uses.
 */
import { createModelSession, type ModelSession } from '../onnx/sessions.ts'
import { createClipEncoders, type ClipEncoders } from '../models/align/clip-encoders.ts'
import type { AlignThresholds } from '../models/align/selection.ts'
import type { InpaintModels } from '../models/inpaint/pipeline.ts'
import { SD_SCHEDULER_CONFIG, type SchedulerConfig } from '../models/inpaint/schedule.ts'
import type { Profile } from '../models/manifest.ts'
import { resolveProfile, type ResolvedModel, type ResolvedProfile } from '../models/registry.ts'
import type { ModelRole } from '../models/contracts.ts'
import { createSamDecoder } from '../models/segment/sam-decoder.ts'
import { createSamEncoder } from '../models/segment/sam-encoder.ts'
import { toSamEncoderConfig } from '../models/segment/sam-models.ts'
import type { SamModels } from '../models/segment/auto-masks.ts'
import { loadClipTokenizer, type ClipTokenizer, type PadStrategy } from '../text/clip-tokenizer.ts'

/** Every loaded model of a profile, with the settings their configs fix. */
export interface PipelineModels {
  readonly profile: Profile
  readonly sam: SamModels
  readonly clip: ClipEncoders
  readonly clipThresholds: AlignThresholds
  readonly tokenizer: ClipTokenizer
  readonly inpaint: InpaintModels
  /** Model-side square resolution of the inpainting UNet. */
  readonly inpaintResolution: number
  /** Model id → revision (first hex digits of the file's sha256). */
  readonly revisions: Readonly<Record<string, string>>
  release(): Promise<void>
}

// SD 1.x tokenizers pad with `<|endoftext|>`; SD 2.x pads with `!` (id 0). Every inpainting
// model in the manifest is SD 1.5, so the end token is right for all of them.
const SD_TEXT_PAD: PadStrategy = 'eos'

/**
 * Resolves `profile` to local files and loads each model, checked against its role contract.
 *
 * @throws RunnerError `model-missing` naming the files to pull, `model-contract` when a file
 *   does not fit its role.
 */
export async function loadPipelineModels(options: {
  profile: Profile
  modelDir?: string
  intraOpThreads?: number
}): Promise<PipelineModels> {
  const resolved = resolveProfile(options.profile, { modelDir: options.modelDir })
  const sessions: ModelSession[] = []
  const load = async (role: ModelRole): Promise<ModelSession> => {
    const model = resolved.models[role] as ResolvedModel
    const session = await createModelSession({
      id: model.id,
      model: model.path,
      role,
      io: model.io,
      ...(options.intraOpThreads ? { intraOpThreads: options.intraOpThreads } : {}),
    })
    sessions.push(session)
    return session
  }

  try {
    return await assembleModels(resolved, load, sessions)
  } catch (error) {
    await Promise.all(sessions.map((session) => session.release()))
    throw error
  }
}

async function assembleModels(
  resolved: ResolvedProfile,
  load: (role: ModelRole) => Promise<ModelSession>,
  sessions: readonly ModelSession[]
): Promise<PipelineModels> {
  const { models } = resolved
  const tokenizer = loadClipTokenizer()

  // Sequential loads keep peak memory at one model's conversion at a time.
  const samEncoder = await load('sam-encoder')
  const samDecoder = await load('sam-decoder')
  const clipImage = await load('clip-image')
  const clipText = await load('clip-text')
  const textEncoder = await load('sd-text-encoder')
  const vaeEncoder = await load('sd-vae-encoder')
  const vaeDecoder = await load('sd-vae-decoder')
  const unet = await load('sd-unet-inpaint')

  const unetConfig = models['sd-unet-inpaint'].config
  return {
    profile: resolved.profile,
    sam: {
      encoder: createSamEncoder(samEncoder, toSamEncoderConfig(models['sam-encoder'].config)),
      decoder: createSamDecoder(samDecoder),
    },
    clip: createClipEncoders({ image: clipImage, text: clipText }),
    clipThresholds: {
      match: models['clip-text'].config.matchThreshold,
      notFound: models['clip-text'].config.notFoundThreshold,
    },
    tokenizer,
    inpaint: {
      textEncoder,
      vaeEncoder,
      vaeDecoder,
      unet,
      tokenizer,
      vaeScalingFactor: models['sd-vae-encoder'].config.scalingFactor,
      schedulerConfig: toSchedulerConfig(unetConfig),
      pad: SD_TEXT_PAD,
    },
    inpaintResolution: unetConfig.resolutionPx,
    revisions: Object.fromEntries(Object.values(models).map((model) => [model.id, model.revision])),
    release: async () => {
      await Promise.all(sessions.map((session) => session.release()))
    },
  }
}

function toSchedulerConfig(
  unetConfig: ResolvedModel<'sd-unet-inpaint'>['config']
): SchedulerConfig {
  const { scheduler, predictionType } = unetConfig

  // The spacing is left out on purpose. The upstream scheduler files of these models name no
  // timestep spacing, so diffusers gives each sampler its own default: 'leading' for DDIM and
  // 'linspace' for DPM-Solver++. The manifest's 'leading' records DDIM's.
  return {
    ...SD_SCHEDULER_CONFIG,
    numTrainTimesteps: scheduler.numTrainTimesteps,
    betaStart: scheduler.betaStart,
    betaEnd: scheduler.betaEnd,
    betaSchedule: scheduler.betaSchedule,
    stepsOffset: scheduler.stepsOffset,
    setAlphaToOne: scheduler.setAlphaToOne,
    clipSample: scheduler.clipSample,
    predictionType,
  }
}
