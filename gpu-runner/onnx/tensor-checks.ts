/**
 * Checks of a model's declared tensors against a contract (at load) and of fed tensors against
 * both (before each run). Pure functions over plain data, so they run without native code.
 *
 * Model metadata dims are numbers when the export fixed them and strings (symbolic dims) when
 * it left them free; ORT reports an unknown shape as an empty list, which is not checked.
 */
import type { DimSpec, TensorDtype, TensorSpec } from '../models/contracts.ts'

/** A dim as ONNX Runtime's metadata reports it: fixed size or symbolic name. */
export type MetadataDim = number | string

/** Declaration of one tensor in a model file. */
export interface DeclaredTensor {
  readonly name: string
  readonly isTensor: boolean
  /** ORT's element type name, for example `float32` or `uint8`. */
  readonly type?: string
  readonly shape?: readonly MetadataDim[]
}

/** A contract tensor bound to the model file's tensor of that role. */
export interface BoundTensor {
  /** Name in the contract, which callers use. */
  readonly contractName: string
  /** Name in the model file, which ORT uses. */
  readonly fileName: string
  readonly dtype: TensorDtype
  /** Declared dims with contract symbols filled in where the file leaves a dim free. */
  readonly dims: readonly DimSpec[]
  readonly spec: TensorSpec
  readonly declaredDims: readonly MetadataDim[]
}

/**
 * Binds one contract tensor to the model's declaration, or returns what does not fit.
 *
 * @returns `{ bound }` on success, `{ problem }` with a readable description otherwise.
 */
export function bindTensor(
  kind: 'input' | 'output',
  spec: TensorSpec,
  fileName: string,
  declared: DeclaredTensor | undefined
): { bound: BoundTensor } | { problem: string } {
  const label = `${kind} "${fileName}"`
  if (declared === undefined) return { problem: `missing ${label}` }
  if (!declared.isTensor) return { problem: `${label} is not a tensor` }

  const dtype = declared.type as TensorDtype
  if (!spec.dtypes.includes(dtype)) {
    return { problem: `${label} is ${declared.type}, expected ${spec.dtypes.join(' or ')}` }
  }

  const declaredDims = declared.shape ?? []
  const dimProblem = compareDeclaredDims(spec.dims, declaredDims)
  if (dimProblem !== undefined) {
    return {
      problem: `${label} has dims ${formatDims(declaredDims)}, expected ${formatDims(spec.dims ?? [])}: ${dimProblem}`,
    }
  }

  const dims = mergeDims(spec.dims, declaredDims)
  return { bound: { contractName: spec.name, fileName, dtype, dims, spec, declaredDims } }
}

function compareDeclaredDims(
  expected: readonly DimSpec[] | undefined,
  declared: readonly MetadataDim[]
): string | undefined {
  if (expected === undefined || declared.length === 0) return undefined
  if (expected.length !== declared.length) {
    return `rank is ${declared.length}, expected ${expected.length}`
  }

  for (let i = 0; i < expected.length; i++) {
    const want = expected[i]
    const have = declared[i]
    if (typeof want === 'number' && typeof have === 'number' && want !== have) {
      return `dim ${i} is ${have}, expected ${want}`
    }
  }
  return undefined
}

// Prefer the file's fixed sizes, then the contract's sizes and symbols, then the file's symbols.
function mergeDims(
  expected: readonly DimSpec[] | undefined,
  declared: readonly MetadataDim[]
): readonly DimSpec[] {
  if (declared.length === 0) return expected ?? []

  return declared.map((have, i) => {
    if (typeof have === 'number') return have
    return expected?.[i] ?? have
  })
}

/**
 * Checks the dims of one fed tensor against its binding, and records symbol sizes.
 *
 * @param symbols Sizes of contract symbols seen so far in this call; updated in place.
 * @returns A description of the first mismatch, or undefined when the dims fit.
 */
export function checkFedDims(
  bound: BoundTensor,
  dims: readonly number[],
  symbols: Map<string, number>
): string | undefined {
  const expected = bound.dims
  const rankKnown = bound.declaredDims.length > 0 || bound.spec.dims !== undefined
  if (rankKnown && expected.length !== dims.length) {
    return `rank is ${dims.length}, expected ${expected.length}`
  }

  for (let i = 0; i < expected.length && i < dims.length; i++) {
    const problem = checkDim(bound, i, dims[i] as number, symbols)
    if (problem !== undefined) return problem
  }
  return undefined
}

function checkDim(
  bound: BoundTensor,
  index: number,
  size: number,
  symbols: Map<string, number>
): string | undefined {
  const want = bound.dims[index]
  if (typeof want === 'number') {
    return want === size ? undefined : `dim ${index} is ${size}, expected ${want}`
  }
  // Only contract symbols tie inputs together; a file's own symbol names are not reliable.
  const contractDim = bound.spec.dims?.[index]
  if (typeof contractDim !== 'string' || contractDim !== want) return undefined

  const seen = symbols.get(want)
  if (seen === undefined) {
    symbols.set(want, size)
    return undefined
  }
  return seen === size
    ? undefined
    : `dim ${index} (${want}) is ${size}, but ${want} is ${seen} in another input`
}

/** Formats dims as `[1,3,h,w]`. */
export function formatDims(dims: readonly (number | string)[]): string {
  return `[${dims.join(',')}]`
}

/** Multiplies dims into an element count. */
export function elementCount(dims: readonly number[]): number {
  return dims.reduce((product, dim) => product * dim, 1)
}
