/**
 * Binding of a role contract to a loaded model's declared tensors, and the checks every `run`
 * makes on its feeds. Works on plain metadata, so it needs no native code.
 */
import { RunnerError } from '../errors.ts'
import type { ModelRole, TensorDtype, TensorSpec } from '../models/contracts.ts'
import { CONTRACTS } from '../models/contracts.ts'
import {
  bindTensor,
  checkFedDims,
  formatDims,
  type BoundTensor,
  type DeclaredTensor,
} from './tensor-checks.ts'

/** A contract as callers pass it: full tensor specs, or bare names that accept any dtype. */
export interface ContractInput {
  readonly role: string
  readonly inputs: readonly (string | TensorSpec)[]
  readonly outputs: readonly (string | TensorSpec)[]
}

/** A contract with every tensor as a full spec. */
export interface NormalisedContract {
  readonly role: string
  readonly inputs: readonly TensorSpec[]
  readonly outputs: readonly TensorSpec[]
}

/** Contract tensors bound to a model, keyed by contract name. */
export interface ContractBinding {
  readonly inputs: ReadonlyMap<string, BoundTensor>
  readonly outputs: ReadonlyMap<string, BoundTensor>
}

/** The parts of a fed tensor the checks read. */
export interface FedTensor {
  readonly type: string
  readonly dims: readonly number[]
}

const ANY_DTYPE: readonly TensorDtype[] = ['float32', 'float16', 'int64', 'int32']

/**
 * Picks the contract from a role or an explicit contract and checks the name mapping.
 *
 * @throws TypeError when neither is given; RangeError when `io` names an unknown tensor.
 */
export function resolveContract(options: {
  readonly id: string
  readonly role?: ModelRole
  readonly contract?: ContractInput
  readonly io: Readonly<Record<string, string>>
}): NormalisedContract {
  const { id, io } = options
  const contract = options.contract ?? (options.role ? CONTRACTS[options.role] : undefined)
  if (contract === undefined) {
    throw new TypeError(`createModelSession("${id}") needs a role or a contract.`)
  }

  const toSpec = (entry: string | TensorSpec): TensorSpec =>
    typeof entry === 'string' ? { name: entry, dtypes: ANY_DTYPE } : entry
  const normalised = {
    role: contract.role,
    inputs: contract.inputs.map(toSpec),
    outputs: contract.outputs.map(toSpec),
  }
  assertIoNames(id, normalised, io)
  return normalised
}

function assertIoNames(
  id: string,
  contract: NormalisedContract,
  io: Readonly<Record<string, string>>
): void {
  const known = [...contract.inputs, ...contract.outputs].map((tensor) => tensor.name)
  const unknown = Object.keys(io).filter((name) => !known.includes(name))
  if (unknown.length === 0) return

  throw new RangeError(
    `Name mapping of model "${id}" lists [${unknown.join(', ')}], which the ${contract.role} ` +
      `contract does not have; it has [${known.join(', ')}].`
  )
}

/**
 * Binds every contract tensor to the model's declaration.
 *
 * A model input the contract does not feed is a mismatch too, because ORT refuses to run
 * without it.
 *
 * @throws RunnerError `model-contract` listing every mismatch and what the model declares.
 */
export function bindContract(
  id: string,
  contract: NormalisedContract,
  declared: { inputs: readonly DeclaredTensor[]; outputs: readonly DeclaredTensor[] },
  io: Readonly<Record<string, string>>
): ContractBinding {
  const problems: string[] = []
  const inputs = bindAll('input', contract.inputs, declared.inputs, io, problems)
  const outputs = bindAll('output', contract.outputs, declared.outputs, io, problems)
  const fedNames = new Set(contract.inputs.map((spec) => io[spec.name] ?? spec.name))
  for (const input of declared.inputs) {
    if (!fedNames.has(input.name))
      problems.push(`extra input "${input.name}" that the contract does not feed`)
  }
  if (problems.length === 0) return { inputs, outputs }

  throw new RunnerError(
    'model-contract',
    `Model "${id}" does not fit the ${contract.role} contract: ${problems.join('; ')}. ` +
      `It has inputs ${describeDeclared(declared.inputs)} and outputs ${describeDeclared(declared.outputs)}.`,
    { details: { model: id, role: contract.role, problems } }
  )
}

function bindAll(
  kind: 'input' | 'output',
  specs: readonly TensorSpec[],
  declared: readonly DeclaredTensor[],
  io: Readonly<Record<string, string>>,
  problems: string[]
): Map<string, BoundTensor> {
  const bound = new Map<string, BoundTensor>()
  for (const spec of specs) {
    const fileName = io[spec.name] ?? spec.name
    const result = bindTensor(
      kind,
      spec,
      fileName,
      declared.find((entry) => entry.name === fileName)
    )
    if ('problem' in result) problems.push(result.problem)
    else bound.set(spec.name, result.bound)
  }
  return bound
}

function describeDeclared(declared: readonly DeclaredTensor[]): string {
  const entries = declared.map((tensor) =>
    tensor.isTensor
      ? `${tensor.name}: ${tensor.type}${formatDims(tensor.shape ?? [])}`
      : `${tensor.name}: non-tensor`
  )
  return `[${entries.join(', ')}]`
}

/**
 * Checks feed names, dtypes and dims, and returns the feeds keyed by the model's own names.
 *
 * @throws RangeError for missing or unknown feeds and dims that do not fit; TypeError for a
 *   tensor of the wrong element type.
 */
export function mapFeeds<T extends FedTensor>(
  id: string,
  binding: ContractBinding,
  feeds: Readonly<Record<string, T>>
): Record<string, T> {
  const expected = [...binding.inputs.keys()]
  const missing = expected.filter((name) => feeds[name] === undefined)
  const unknown = Object.keys(feeds).filter((name) => !binding.inputs.has(name))
  if (missing.length > 0 || unknown.length > 0) {
    throw new RangeError(
      `Feeds for model "${id}" do not match its inputs: missing [${missing.join(', ')}], ` +
        `unknown [${unknown.join(', ')}]; it takes [${expected.join(', ')}].`
    )
  }

  const symbols = new Map<string, number>()
  const fileFeeds: Record<string, T> = {}
  for (const [name, bound] of binding.inputs) {
    const tensor = feeds[name] as T
    if (tensor.type !== bound.dtype) {
      throw new TypeError(
        `Input "${name}" of model "${id}" must be ${bound.dtype}, got ${tensor.type}; build it with makeTensor().`
      )
    }
    assertDimsFit(id, name, bound, tensor.dims, symbols)
    fileFeeds[bound.fileName] = tensor
  }
  return fileFeeds
}

/**
 * Checks the dims of one input against its binding.
 *
 * @param symbols Sizes of contract symbols seen so far in this call; updated in place.
 * @throws RangeError naming expected and actual dims.
 */
export function assertDimsFit(
  id: string,
  name: string,
  bound: BoundTensor,
  dims: readonly number[],
  symbols: Map<string, number> = new Map()
): void {
  const problem = checkFedDims(bound, dims, symbols)
  if (problem === undefined) return

  throw new RangeError(
    `Input "${name}" of model "${id}" has dims ${formatDims(dims)}, ` +
      `expected ${formatDims(bound.dims)}: ${problem}.`
  )
}

/**
 * Re-keys `run` results by contract name; outputs outside the contract keep their own names.
 */
export function mapResults<T>(
  binding: ContractBinding,
  results: Readonly<Record<string, T>>
): Record<string, T> {
  const outputs: Record<string, T> = { ...results }
  for (const [contractName, tensor] of binding.outputs) {
    const value = results[tensor.fileName]
    if (value === undefined) continue
    if (contractName !== tensor.fileName) delete outputs[tensor.fileName]
    outputs[contractName] = value
  }
  return outputs
}
