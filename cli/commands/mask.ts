/** `semani mask`: finds the entity a word names and writes its mask. */
import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'

import { encodeMaskPng } from '../../gpu-runner/image/encode.ts'
import { isProfile, PROFILES } from '../../gpu-runner/models/manifest.ts'
import { loadEditPipeline } from '../../gpu-runner/pipeline/run-edit.ts'
import { readImageFile } from '../input-image.ts'
import { commandError, describeError, printJson } from '../output.ts'

const USAGE = `Usage: semani mask --image PATH --entity WORD [options]

Finds the entity that WORD names in the photo (SAM proposals scored with CLIP) and prints the
selected entity, every candidate and the per-stage timings.

Options:
  --image PATH       Photo to search (JPEG, PNG or WebP).
  --entity WORD      Entity word or short phrase, for example "dog" or "the red car".
  --all              Select every instance that matches, not only the best one.
  --profile NAME     Model profile: ${PROFILES.join(', ')} (default tiny).
  --model-dir DIR    Folder of pulled model files (default .semani/models).
  --out PATH         Write the mask as an 8-bit PNG (255 = entity).
  --json             Print one JSON object.
  -h, --help         Print this help.
`

/** Runs the command and returns its exit code: 0 on success, 1 on a failure, 2 on a usage error. */
export async function run(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parseMaskArgs>['values']
  try {
    values = parseMaskArgs(argv).values
  } catch (error) {
    return commandError(`${describeError(error)}. Run \`semani mask --help\`.`, 2)
  }
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  if (!values.image || !values.entity?.trim()) {
    return commandError('Give --image PATH and --entity WORD. Run `semani mask --help`.', 2)
  }
  const profile = values.profile ?? 'tiny'
  if (!isProfile(profile)) {
    return commandError(`Unknown profile "${profile}"; use one of ${PROFILES.join(', ')}.`, 2)
  }

  try {
    const image = await readImageFile(values.image)
    const pipeline = await loadEditPipeline({
      profile,
      ...(values['model-dir'] ? { modelDir: values['model-dir'] } : {}),
    })
    const found = await pipeline.findEntity({
      image,
      entity: values.entity,
      multiple: values.all ?? false,
    })
    await pipeline.release()

    if (values.out) await writeFile(values.out, await encodeMaskPng(found.mask))
    const report = {
      width: found.width,
      height: found.height,
      selected: found.selected,
      candidates: found.candidates,
      timings_ms: roundTimings(found.timingsMs),
      profile,
      ...(values.out ? { mask: values.out } : {}),
    }
    if (values.json) printJson(report)
    else printSummary(report)
    return 0
  } catch (error) {
    return commandError(describeError(error))
  }
}

// Tenths of a millisecond, as the edit command and the API report them.
function roundTimings(timingsMs: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(timingsMs).map(([stage, ms]) => [stage, Math.round(ms * 10) / 10])
  )
}

function printSummary(report: {
  selected: readonly { bbox: readonly number[]; score: number }[]
  candidates: readonly unknown[]
  mask?: string
}): void {
  const lines = report.selected.map(
    (entity) => `selected bbox [${entity.bbox.join(', ')}] score ${entity.score}`
  )
  lines.push(`${report.candidates.length} candidates`)
  if (report.mask) lines.push(`mask written to ${report.mask}`)
  process.stdout.write(lines.join('\n') + '\n')
}

function parseMaskArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      image: { type: 'string' },
      entity: { type: 'string' },
      all: { type: 'boolean' },
      profile: { type: 'string' },
      'model-dir': { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}
