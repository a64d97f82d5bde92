/**
 * Loads the SAM encoder and decoder of a profile on their own, for callers that need
 * segmentation without the rest of the pipeline (benchmarks, tests, mask-only tools).
 */
import { createModelSession, type ModelSession } from '../../onnx/sessions.ts'
import type { Profile } from '../manifest.ts'
import { resolveProfile, type ResolvedModel } from '../registry.ts'
import type { SamModels } from './auto-masks.ts'
import type { SamEncoderConfig } from './sam-config.ts'
import { createSamDecoder } from './sam-decoder.ts'
import { createSamEncoder } from './sam-encoder.ts'

/** Loaded SAM models with their sessions. */
export interface LoadedSamModels extends SamModels {
  readonly sessions: readonly ModelSession[]
  /** Model id → revision, as the manifest resolves them. */
  readonly revisions: Readonly<Record<string, string>>
  release(): Promise<void>
}

/**
 * Converts a manifest encoder config to the encoder's settings. Sessions map the file's tensor
 * names to the contract's, so the names are always `input` and `output`.
 */
export function toSamEncoderConfig(
  config: ResolvedModel<'sam-encoder'>['config']
): SamEncoderConfig {
  return {
    inputName: 'input',
    outputName: 'output',
    pixelInput: config.pixelInput,
    pixelMean: config.pixelMean,
    pixelStd: config.pixelStd,
  }
}

/**
 * Loads the `sam-encoder` and `sam-decoder` models of `profile` (default `tiny`).
 *
 * @throws RunnerError `model-missing` when a file of the profile is absent, `model-contract`
 *   when a file does not fit its role.
 */
export async function loadSamModels(
  options: { profile?: Profile; modelDir?: string; intraOpThreads?: number } = {}
): Promise<LoadedSamModels> {
  const { profile = 'tiny', modelDir, intraOpThreads } = options
  const { models } = resolveProfile(profile, modelDir === undefined ? {} : { modelDir })
  const encoderModel = models['sam-encoder']
  const decoderModel = models['sam-decoder']
  const threads = intraOpThreads === undefined ? {} : { intraOpThreads }

  const encoderSession = await createModelSession({
    id: encoderModel.id,
    model: encoderModel.path,
    role: 'sam-encoder',
    io: encoderModel.io,
    ...threads,
  })
  let decoderSession: ModelSession
  try {
    decoderSession = await createModelSession({
      id: decoderModel.id,
      model: decoderModel.path,
      role: 'sam-decoder',
      io: decoderModel.io,
      ...threads,
    })
  } catch (error) {
    await encoderSession.release()
    throw error
  }

  const sessions = [encoderSession, decoderSession]
  return {
    encoder: createSamEncoder(encoderSession, toSamEncoderConfig(encoderModel.config)),
    decoder: createSamDecoder(decoderSession),
    sessions,
    revisions: {
      [encoderModel.id]: encoderModel.revision,
      [decoderModel.id]: decoderModel.revision,
    },
    release: async () => {
      await Promise.all(sessions.map((session) => session.release()))
    },
  }
}
