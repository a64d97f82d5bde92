/** Words for the model profile the local stack runs on. */
import type { ProfileChoice } from './profile-choice.ts'

/** Says which profile runs, why the better ones do not, and what tiny means for results. */
export function describeProfileChoice(choice: ProfileChoice): string {
  const lines = [`Model profile: ${choice.profile}`]
  for (const { profile, reason } of choice.skipped) {
    lines.push(`  not ${profile}: ${reason}`)
  }
  if (choice.profile === 'tiny') {
    lines.push(
      '  The tiny profile runs the real SAM segmentation with small generated CLIP and',
      '  Stable Diffusion models: the pipeline runs end to end, but the chosen entity and the',
      '  regenerated pixels carry no meaning. Pull the cpu profile for real edits.'
    )
  }
  return lines.join('\n')
}
