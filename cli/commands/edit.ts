/** `semani edit`: edits the entity a word names into what a description says, in-process. */
import { writeFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { parseArgs } from 'node:util'

import { isProfile, PROFILES } from '../../gpu-runner/models/manifest.ts'
import { loadEditPipeline } from '../../gpu-runner/pipeline/run-edit.ts'
import { IMAGE_FORMATS, type ImageFormat } from '../../shared/limits.ts'
import { EditSettingsSchema, SCHEDULERS } from '../../shared/schemas/edit-settings.ts'
import { readImageFile } from '../input-image.ts'
import { commandError, describeError, printJson } from '../output.ts'

const USAGE = `Usage: semani edit --image PATH --entity WORD --prompt DESCRIPTION [options]

Finds the entity that WORD names, regenerates it from DESCRIPTION with diffusion inpainting
and writes the edited photo. An empty DESCRIPTION ("") removes the entity.

Options:
  --image PATH        Photo to edit (JPEG, PNG or WebP).
  --entity WORD       Entity word or short phrase, for example "dog".
  --prompt TEXT       What the entity should become, for example "a white cat".
  --negative TEXT     Negative prompt: what the result should not show.
  --seed N            Seed of the noise, 0 to 4294967295 (default: random, and printed).
  --steps N           Denoising steps (default 50).
  --guidance S        Classifier-free guidance scale (default 9).
  --scheduler NAME    ${SCHEDULERS.join(' or ')} (default ddim).
  --keep-shape        Keep the entity's outline; start from the noised original.
  --strength S        Keep-shape strength in (0, 1] (default 0.75).
  --grow PX           Pixels the mask grows by before feathering (default 8).
  --feather PX        Width of the soft border in pixels (default 8).
  --all               Edit every instance that matches, not only the best one.
  --format NAME       Output format: ${IMAGE_FORMATS.join(', ')} (default: from --out, else png).
  --profile NAME      Model profile: ${PROFILES.join(', ')} (default tiny).
  --model-dir DIR     Folder of pulled model files (default .semani/models).
  --out PATH          Where to write the edited photo (default result.<format>).
  --mask-out PATH     Where to write the mask (8-bit PNG, 255 = edited entity).
  --json              Print one JSON object.
  -h, --help          Print this help.
`

/** Runs the command and returns its exit code: 0 on success, 1 on a failure, 2 on a usage error. */
export async function run(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parseEditArgs>['values']
  try {
    values = parseEditArgs(argv).values
  } catch (error) {
    return commandError(`${describeError(error)}. Run \`semani edit --help\`.`, 2)
  }
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  if (!values.image || !values.entity?.trim() || values.prompt === undefined) {
    return commandError(
      'Give --image PATH, --entity WORD and --prompt DESCRIPTION. Run `semani edit --help`.',
      2
    )
  }
  const profile = values.profile ?? 'tiny'
  if (!isProfile(profile)) {
    return commandError(`Unknown profile "${profile}"; use one of ${PROFILES.join(', ')}.`, 2)
  }
  const format = values.format ?? formatFromPath(values.out) ?? 'png'
  const parsed = EditSettingsSchema.safeParse(toSettings(values, format))
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)
    return commandError(`Invalid settings: ${issues.join('; ')}`, 2)
  }

  try {
    const image = await readImageFile(values.image)
    const pipeline = await loadEditPipeline({
      profile,
      ...(values['model-dir'] ? { modelDir: values['model-dir'] } : {}),
    })
    const result = await pipeline
      .run({
        image,
        edits: [{ entity: values.entity, prompt: values.prompt }],
        settings: parsed.data,
      })
      .finally(() => pipeline.release())

    const out = values.out ?? `result.${format === 'jpeg' ? 'jpg' : format}`
    await writeFile(out, result.image)
    if (values['mask-out']) await writeFile(values['mask-out'], result.mask)
    const report = {
      image: out,
      ...(values['mask-out'] ? { mask: values['mask-out'] } : {}),
      width: result.width,
      height: result.height,
      seed: result.seed,
      selected: result.selected,
      candidates: result.candidates,
      window: result.window,
      timings_ms: result.timingsMs,
      profile,
      model_revisions: result.modelRevisions,
    }
    if (values.json) printJson(report)
    else process.stdout.write(`edited photo written to ${out} (seed ${result.seed})\n`)
    return 0
  } catch (error) {
    return commandError(describeError(error))
  }
}

function toSettings(values: ReturnType<typeof parseEditArgs>['values'], format: string): unknown {
  const number = (text: string | undefined) => (text === undefined ? undefined : Number(text))

  return Object.fromEntries(
    Object.entries({
      negative_prompt: values.negative,
      seed: number(values.seed),
      steps: number(values.steps),
      guidance_scale: number(values.guidance),
      scheduler: values.scheduler,
      keep_shape: values['keep-shape'],
      strength: number(values.strength),
      grow_mask: number(values.grow),
      feather: number(values.feather),
      multiple: values.all,
      output_format: format,
    }).filter(([, value]) => value !== undefined)
  )
}

function formatFromPath(path: string | undefined): ImageFormat | undefined {
  const extension = path ? extname(path).slice(1).toLowerCase() : ''
  if (extension === 'jpg' || extension === 'jpeg') return 'jpeg'
  if (extension === 'png' || extension === 'webp') return extension
  return undefined
}

function parseEditArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      image: { type: 'string' },
      entity: { type: 'string' },
      prompt: { type: 'string' },
      negative: { type: 'string' },
      seed: { type: 'string' },
      steps: { type: 'string' },
      guidance: { type: 'string' },
      scheduler: { type: 'string' },
      'keep-shape': { type: 'boolean' },
      strength: { type: 'string' },
      grow: { type: 'string' },
      feather: { type: 'string' },
      all: { type: 'boolean' },
      format: { type: 'string' },
      profile: { type: 'string' },
      'model-dir': { type: 'string' },
      out: { type: 'string' },
      'mask-out': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}
