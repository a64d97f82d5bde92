/** Picks the best model profile whose files are on this machine. */
import { RunnerError } from '../../gpu-runner/errors.ts'
import type { Profile } from '../../gpu-runner/models/manifest.ts'
import { resolveProfile } from '../../gpu-runner/models/registry.ts'

/** The chosen profile and, for each better one that is missing, why. */
export interface ProfileChoice {
  readonly profile: Profile
  readonly skipped: readonly { profile: Profile; reason: string }[]
}

/**
 * Returns the first of gpu, cpu and tiny whose model files are all present. The gpu profile
 * counts only where the CUDA provider library is installed, because its fp16 exports are too
 * slow on a CPU to be the better choice there.
 */
export function chooseInstalledProfile(options: {
  modelDir?: string
  hasCuda: boolean
}): ProfileChoice {
  const skipped: { profile: Profile; reason: string }[] = []
  const candidates: Profile[] = ['gpu', 'cpu']

  for (const profile of candidates) {
    if (profile === 'gpu' && !options.hasCuda) {
      skipped.push({ profile, reason: 'the CUDA provider of onnxruntime-node is not installed' })
      continue
    }
    try {
      resolveProfile(profile, { modelDir: options.modelDir })
      return { profile, skipped }
    } catch (error) {
      if (!(error instanceof RunnerError) || error.code !== 'model-missing') throw error
      skipped.push({
        profile,
        reason: `its model files are not pulled (run \`npx semani models pull --profile ${profile}\`)`,
      })
    }
  }
  return { profile: 'tiny', skipped }
}
