/**
 * `semani edit`: edits the entity a word names so that it matches a description, in-process, or
 * with `--api` through the HTTP API. Both paths write the same files and print the same report.
 */
import { writeFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { parseArgs } from 'node:util'

import { isProfile, PROFILES, type Profile } from '../../gpu-runner/models/manifest.ts'
import { createSemaniClient } from '../../shared/client/semani-client.ts'
import { IMAGE_FORMATS, type ImageFormat } from '../../shared/limits.ts'
import {
  EditSettingsSchema,
  SCHEDULERS,
  type EditSettings,
} from '../../shared/schemas/edit-settings.ts'
import { readImageFile } from '../input-image.ts'
import { commandError, describeError, printJson } from '../output.ts'

/** Seconds the API may hold `POST /v1/edits` open before the command polls instead. */
const API_WAIT_S = 60

/** Maximum wait for an edit through the API, because real CPU weights need minutes for 50 steps. */
const API_EDIT_TIMEOUT_MS = 30 * 60_000

/** Environment variable read for the API key when `--key` is absent. */
const API_KEY_VARIABLE = 'SEMANI_API_KEY'

const USAGE = `Usage: semani edit --image PATH --entity WORD --prompt DESCRIPTION [options]

Finds the entity that WORD names, regenerates it from DESCRIPTION with diffusion inpainting
and writes the edited photo. An empty DESCRIPTION ("") removes the entity. The edit runs in
this process, or with --api on the API at URL.

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
  --api URL           Edit through the HTTP API at URL (for example http://127.0.0.1:8787)
                      instead of in this process; --profile and --model-dir do not apply.
  --key KEY           API key for --api (default: the ${API_KEY_VARIABLE} environment variable).
  --out PATH          Where to write the edited photo (default result.<format>).
  --mask-out PATH     Where to write the mask (8-bit PNG, 255 = edited entity).
  --json              Print one JSON object.
  -h, --help          Print this help.
`

/** Files and report fields an edit produced, whichever path ran it. */
interface EditOutcome {
  readonly image: Uint8Array
  readonly mask: Uint8Array
  /** Report fields other than the written paths. */
  readonly report: Record<string, unknown>
}

type EditValues = ReturnType<typeof parseEditArgs>['values']

/** Runs the command and returns its exit code: 0 on success, 1 on a failure, 2 on a usage error. */
export async function run(argv: string[]): Promise<number> {
  let values: EditValues
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
  const target = values.api === undefined ? checkLocalTarget(values) : checkApiTarget(values)
  if (typeof target === 'string') return commandError(target, 2)
  const format = values.format ?? formatFromPath(values.out) ?? 'png'
  const parsed = EditSettingsSchema.safeParse(toSettings(values, format))
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)
    return commandError(`Invalid settings: ${issues.join('; ')}`, 2)
  }

  try {
    const request = { imagePath: values.image, entity: values.entity, prompt: values.prompt }
    const outcome =
      target.kind === 'api'
        ? await editThroughApi({ ...request, ...target, settings: parsed.data })
        : await editInProcess({ ...request, ...target, settings: parsed.data })

    const out = values.out ?? `result.${format === 'jpeg' ? 'jpg' : format}`
    await writeFile(out, outcome.image)
    if (values['mask-out']) await writeFile(values['mask-out'], outcome.mask)
    const report: Record<string, unknown> = {
      image: out,
      ...(values['mask-out'] ? { mask: values['mask-out'] } : {}),
      ...outcome.report,
    }
    if (values.json) printJson(report)
    else process.stdout.write(`edited photo written to ${out} (seed ${String(report.seed)})\n`)
    return 0
  } catch (error) {
    return commandError(describeError(error))
  }
}

/** Target of an edit: this process with a model profile, or the API at a URL. */
type EditTarget =
  | { readonly kind: 'local'; readonly profile: Profile; readonly modelDir?: string }
  | { readonly kind: 'api'; readonly apiUrl: string; readonly apiKey: string }

// Returns the target, or the usage error that rules it out.
function checkLocalTarget(values: EditValues): EditTarget | string {
  const profile = values.profile ?? 'tiny'
  if (!isProfile(profile)) return `Unknown profile "${profile}"; use one of ${PROFILES.join(', ')}.`
  if (values.key !== undefined) return '--key only applies with --api URL.'
  return {
    kind: 'local',
    profile,
    ...(values['model-dir'] ? { modelDir: values['model-dir'] } : {}),
  }
}

function checkApiTarget(values: EditValues): EditTarget | string {
  const apiUrl = values.api ?? ''
  if (!/^https?:\/\/[^/]/.test(apiUrl) || !URL.canParse(apiUrl)) {
    return `--api needs an http or https URL such as http://127.0.0.1:8787, not "${apiUrl}".`
  }
  if (values.profile !== undefined || values['model-dir'] !== undefined) {
    return '--profile and --model-dir choose local models; the API at --api uses its own.'
  }
  const apiKey = values.key ?? process.env[API_KEY_VARIABLE]
  if (!apiKey) return `Give the API key with --key KEY or in ${API_KEY_VARIABLE} for --api.`
  return { kind: 'api', apiUrl, apiKey }
}

async function editInProcess(options: {
  imagePath: string
  entity: string
  prompt: string
  settings: EditSettings
  profile: Profile
  modelDir?: string
}): Promise<EditOutcome> {
  // Loaded here so that the --api path does not load ONNX Runtime.
  const { loadEditPipeline } = await import('../../gpu-runner/pipeline/run-edit.ts')
  const image = await readImageFile(options.imagePath)
  const pipeline = await loadEditPipeline({
    profile: options.profile,
    ...(options.modelDir ? { modelDir: options.modelDir } : {}),
  })
  const result = await pipeline
    .run({
      image,
      edits: [{ entity: options.entity, prompt: options.prompt }],
      settings: options.settings,
    })
    .finally(() => pipeline.release())

  return {
    image: result.image,
    mask: result.mask,
    report: {
      width: result.width,
      height: result.height,
      seed: result.seed,
      selected: result.selected,
      candidates: result.candidates,
      window: result.window,
      timings_ms: result.timingsMs,
      profile: options.profile,
      model_revisions: result.modelRevisions,
    },
  }
}

/**
 * Runs the edit through `POST /v1/edits`, polls it when it outlives the request, and downloads
 * the result and the mask from their signed URLs. The runner's profile is not part of the API,
 * so the report names the edit (`edit_id`) instead.
 */
async function editThroughApi(options: {
  imagePath: string
  entity: string
  prompt: string
  settings: EditSettings
  apiUrl: string
  apiKey: string
}): Promise<EditOutcome> {
  const client = createSemaniClient({ baseUrl: options.apiUrl, apiKey: options.apiKey })
  const image = await readImageFile(options.imagePath)

  const created = await client.createEdit({
    image,
    entity: options.entity,
    prompt: options.prompt,
    ...options.settings,
    waitS: API_WAIT_S,
  })
  const job =
    created.status === 'succeeded'
      ? created
      : await client.waitForEdit(created.id, { timeoutMs: API_EDIT_TIMEOUT_MS })
  if (!job.result) throw new Error(`Edit ${job.id} succeeded without a result.`)
  const [imageBytes, maskBytes] = await Promise.all([
    client.download(job.result.image_url),
    client.download(job.result.mask_url),
  ])

  return {
    image: imageBytes,
    mask: maskBytes,
    report: {
      width: job.result.width,
      height: job.result.height,
      seed: job.seed,
      selected: job.selected,
      candidates: job.candidates,
      window: job.window,
      timings_ms: job.timings_ms,
      model_revisions: job.model_revisions,
      edit_id: job.id,
    },
  }
}

function toSettings(values: EditValues, format: string): unknown {
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
      api: { type: 'string' },
      key: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}
