/**
 * `semani models list|pull`: shows which model files a profile needs and whether they are
 * here, and downloads and verifies them. Progress goes to stderr, results to stdout.
 */
import { parseArgs } from 'node:util'

import {
  PROFILES,
  isProfile,
  loadManifest,
  modelsOfProfile,
  type ModelEntry,
  type Profile,
} from '../../gpu-runner/models/manifest.ts'
import {
  DEFAULT_PULL_CONCURRENCY,
  PullError,
  pullModels,
  type PullEvent,
} from '../../gpu-runner/models/pull.ts'
import {
  checkModelFile,
  readPins,
  resolveModelDir,
  type FileState,
} from '../../gpu-runner/models/registry.ts'
import { commandError, describeError, printJson } from '../output.ts'

const USAGE = `Usage: semani models list --profile tiny|cpu|gpu [--json] [--model-dir DIR]
       semani models pull --profile cpu|gpu [options]

Commands:
  list                   Show the model files of a profile and whether they are present.
  pull                   Download the files of a profile, verify their sha256 and move them
                         into the model folder. Resumes partial downloads.

Options:
  --profile NAME         Profile: tiny (generated test models, no download), cpu or gpu.
                         Default: $SEMANI_PROFILE.
  --model ID             Pull one model by id, also one outside every profile; repeatable.
  --model-dir DIR        Model folder. Default: $SEMANI_MODEL_DIR, else .semani/models.
  --concurrency N        Files downloaded at once (default ${DEFAULT_PULL_CONCURRENCY}).
  --trust-on-first-use   Also download files whose sha256 the manifest does not pin yet, and
                         record the digest of this download in <model dir>/pins.json.
  --base-url URL         Download from a mirror: its scheme, host and port replace those of
                         every file URL. Default: $SEMANI_MODEL_BASE_URL.
  --json                 (list) Print one JSON object instead of a table.
  -h, --help             Show this help.
`

/** Interval between progress lines of one download, in milliseconds. */
const PROGRESS_INTERVAL_MS = 2000

/** Runs the command and returns its exit code. */
export async function run(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseModelsArgs>
  try {
    parsed = parseModelsArgs(argv, process.env)
  } catch (error) {
    return commandError(`${describeError(error)} Run \`semani models --help\` for the options.`, 2)
  }
  if (parsed === 'help') {
    process.stdout.write(USAGE)
    return 0
  }

  try {
    return parsed.command === 'list' ? listModels(parsed) : await pullCommand(parsed)
  } catch (error) {
    return commandError(describeError(error))
  }
}

interface ModelsArgs {
  readonly command: 'list' | 'pull'
  readonly profile?: Profile
  readonly modelIds: readonly string[]
  readonly modelDir: string
  readonly concurrency: number
  readonly trustOnFirstUse: boolean
  readonly baseUrl?: string
  readonly json: boolean
}

/**
 * Parses the arguments of `semani models`.
 *
 * @throws Error with a one-line message for an unknown command, option or value.
 */
export function parseModelsArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv
): ModelsArgs | 'help' {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      profile: { type: 'string' },
      model: { type: 'string', multiple: true },
      'model-dir': { type: 'string' },
      concurrency: { type: 'string' },
      'trust-on-first-use': { type: 'boolean', default: false },
      'base-url': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) return 'help'

  const [command, ...extra] = positionals
  if (command !== 'list' && command !== 'pull') {
    throw new Error(
      `Expected a command, list or pull; got ${command === undefined ? 'none' : `"${command}"`}.`
    )
  }
  if (extra.length > 0) throw new Error(`Unexpected argument "${extra[0]}".`)

  const profileName = values.profile ?? (env.SEMANI_PROFILE || undefined)
  if (profileName !== undefined && !isProfile(profileName)) {
    throw new Error(`Unknown profile "${profileName}"; use one of ${PROFILES.join(', ')}.`)
  }
  const modelIds = values.model ?? []
  if (profileName === undefined && (command === 'list' || modelIds.length === 0)) {
    throw new Error('Name a profile with --profile (or $SEMANI_PROFILE).')
  }
  const concurrency = Number(values.concurrency ?? DEFAULT_PULL_CONCURRENCY)
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new Error(`--concurrency must be a positive integer, got "${values.concurrency}".`)
  }

  const baseUrl = values['base-url'] ?? env.SEMANI_MODEL_BASE_URL
  return {
    command,
    ...(profileName === undefined ? {} : { profile: profileName }),
    modelIds,
    modelDir: resolveModelDir(values['model-dir'], env),
    concurrency,
    trustOnFirstUse: values['trust-on-first-use'],
    ...(baseUrl ? { baseUrl } : {}),
    json: values.json,
  }
}

function listModels(args: ModelsArgs): number {
  const profile = args.profile as Profile
  const pins = readPins(args.modelDir)
  const models = modelsOfProfile(loadManifest(), profile).map((model) => ({
    model,
    files: model.files.map((file) => ({
      file,
      state: checkModelFile(model, file, args.modelDir, pins),
    })),
  }))
  const ready = models.every((entry) =>
    entry.files.every(({ state }) => state.status === 'present')
  )

  if (args.json) {
    printJson({ profile, modelDir: args.modelDir, ready, models: models.map(describeModel) })
    return 0
  }
  process.stdout.write(
    `Profile ${profile} in ${args.modelDir}: ${ready ? 'ready' : 'incomplete'}\n`
  )
  for (const { model, files } of models) {
    for (const { state } of files) {
      const size = state.expected ? formatBytes(state.expected.sizeBytes) : 'size unknown'
      process.stdout.write(
        `  ${model.role.padEnd(16)} ${model.id.padEnd(32)} ${state.status.padEnd(13)} ${size.padStart(10)}  ${state.path}\n`
      )
    }
  }
  if (!ready) {
    process.stdout.write(
      `Run \`semani models pull --profile ${profile} --model-dir ${args.modelDir}\` to fetch the rest.\n`
    )
  }
  return 0
}

function describeModel(entry: {
  model: ModelEntry
  files: { file: ModelEntry['files'][number]; state: FileState }[]
}): Record<string, unknown> {
  const { model, files } = entry
  return {
    id: model.id,
    role: model.role,
    dtype: model.dtype,
    license: model.license,
    source: model.source,
    revision: model.revision,
    ...(model.notes === undefined ? {} : { notes: model.notes }),
    files: files.map(({ file, state }) => ({
      path: state.path,
      from: file.from,
      ...(file.from === 'url' ? { url: file.url } : {}),
      pin: file.pin,
      sha256: state.expected?.sha256 ?? null,
      sizeBytes: state.expected?.sizeBytes ?? null,
      status: state.status,
    })),
  }
}

async function pullCommand(args: ModelsArgs): Promise<number> {
  try {
    const result = await pullModels({
      ...(args.profile === undefined ? {} : { profile: args.profile }),
      modelIds: args.modelIds,
      modelDir: args.modelDir,
      concurrency: args.concurrency,
      trustOnFirstUse: args.trustOnFirstUse,
      ...(args.baseUrl === undefined ? {} : { baseUrl: args.baseUrl }),
      progressIntervalMs: PROGRESS_INTERVAL_MS,
      onEvent: (event) => process.stderr.write(`models: ${describeEvent(event)}\n`),
    })
    const target = args.profile ? `Profile ${args.profile}` : 'Models'
    process.stdout.write(
      `${target} ready in ${result.modelDir} (${result.files.length} files verified).\n`
    )
    return 0
  } catch (error) {
    if (error instanceof PullError) return commandError(error.message)
    throw error
  }
}

/** Formats one pull event as a progress line. */
export function describeEvent(event: PullEvent): string {
  switch (event.kind) {
    case 'present':
      return `${event.file} verified (${formatBytes(event.sizeBytes)})`
    case 'started':
      return `${event.file} downloading from ${event.host}`
    case 'progress': {
      const total = event.totalBytes
      const share = total ? ` (${Math.floor((100 * event.receivedBytes) / total)}%)` : ''
      return `${event.file} ${formatBytes(event.receivedBytes)} of ${total ? formatBytes(total) : 'unknown size'}${share}`
    }
    case 'finished': {
      const resumed =
        event.resumedFromBytes > 0 ? `, resumed at ${formatBytes(event.resumedFromBytes)}` : ''
      const done = `${event.file} done (${formatBytes(event.sizeBytes)}${resumed})`
      if (!event.pinnedNow) return `${done}, sha256 verified`
      return (
        `${done}, pinned at first pull: sha256 ${event.sha256}, ${event.sizeBytes} bytes. ` +
        'Copy both into infra/models/manifest.json to pin the file on every machine.'
      )
    }
    default: {
      const unreachable: never = event
      return JSON.stringify(unreachable)
    }
  }
}

/** Formats a byte count with binary units, for example `28.1 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`
}
