/**
 * ONNX Runtime sessions: the only module that imports onnxruntime-node.
 *
 * A session is created against a declared contract (input and output names), so a model file
 * that does not fit its role fails at load time with a message that names the difference,
 * instead of failing later inside `run` with an opaque ORT error.
 */
import * as ort from 'onnxruntime-node'

import { RunnerError } from '../errors.ts'
import { log } from '../log.ts'

/** Names a model of one role must expose. */
export interface ModelContract {
  readonly role: string
  readonly inputs: readonly string[]
  readonly outputs: readonly string[]
}

/** Element types this project feeds to or reads from models. */
export type TensorDtype = 'float32' | 'float16' | 'int64' | 'int32'

/** A loaded model with its contract, input dtypes and the execution providers in use. */
export interface ModelSession {
  readonly id: string
  readonly contract: ModelContract
  readonly providers: readonly string[]
  /** Element type of each input, read from the model's metadata. */
  readonly inputDtypes: Readonly<Record<string, TensorDtype>>
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>>
  release(): Promise<void>
}

export { ort }
export type OrtTensor = ort.Tensor

/** Loads a model file or bytes and checks it against `contract`. */
export async function createModelSession(options: {
  id: string
  model: string | Uint8Array
  contract: ModelContract
  intraOpThreads?: number
}): Promise<ModelSession> {
  const { id, model, contract, intraOpThreads } = options
  const started = performance.now()

  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    ...(intraOpThreads ? { intraOpNumThreads: intraOpThreads } : {}),
  }
  const session = await loadSession(id, model, sessionOptions)

  assertContract(id, session, contract)
  const inputDtypes = readInputDtypes(session)
  log.info('model.loaded', {
    model: id,
    providers: ['cpu'],
    loadMs: Math.round(performance.now() - started),
  })

  return {
    id,
    contract,
    providers: ['cpu'],
    inputDtypes,
    run: (feeds) => session.run(feeds) as Promise<Record<string, ort.Tensor>>,
    release: () => session.release(),
  }
}

async function loadSession(
  id: string,
  model: string | Uint8Array,
  sessionOptions: ort.InferenceSession.SessionOptions
): Promise<ort.InferenceSession> {
  try {
    return typeof model === 'string'
      ? await ort.InferenceSession.create(model, sessionOptions)
      : await ort.InferenceSession.create(model, sessionOptions)
  } catch (error) {
    throw new RunnerError('model-missing', `Failed to load model "${id}": ${String(error)}`, {
      cause: error,
    })
  }
}

function assertContract(id: string, session: ort.InferenceSession, contract: ModelContract): void {
  const missingInputs = contract.inputs.filter((name) => !session.inputNames.includes(name))
  const missingOutputs = contract.outputs.filter((name) => !session.outputNames.includes(name))
  if (missingInputs.length === 0 && missingOutputs.length === 0) return

  throw new RunnerError(
    'model-contract',
    `Model "${id}" does not fit the ${contract.role} contract: ` +
      `missing inputs [${missingInputs.join(', ')}], missing outputs [${missingOutputs.join(', ')}]; ` +
      `it has inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}].`
  )
}

function readInputDtypes(session: ort.InferenceSession): Record<string, TensorDtype> {
  const dtypes: Record<string, TensorDtype> = {}
  for (const meta of session.inputMetadata) {
    if (meta.isTensor) dtypes[meta.name] = meta.type as TensorDtype
  }
  return dtypes
}
