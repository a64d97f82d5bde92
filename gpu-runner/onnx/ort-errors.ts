/**
 * Turns ONNX Runtime failures into RunnerError codes where the message shows the cause.
 *
 * onnxruntime-node throws plain Errors whose only structure is the message text, so the
 * patterns below match the wording ORT 1.x uses. Anything unrecognised is left to the caller,
 * which rethrows it unchanged.
 */
import { RunnerError, type RunnerErrorCode } from '../errors.ts'

/** Failure classes recognised in ORT messages. */
export type OrtFailure = 'out-of-memory' | 'execution-provider' | 'file-missing' | 'invalid-model'

// Checked in this order: a CUDA allocation failure is out of memory, not a provider problem.
const PATTERNS: ReadonlyArray<readonly [OrtFailure, RegExp]> = [
  [
    'out-of-memory',
    /out of memory|bad_alloc|bad allocation|failed to allocate memory|ALLOC_FAILED|cudaErrorMemoryAllocation/i,
  ],
  [
    'execution-provider',
    /AppendExecutionProvider|providers_(?:shared|cuda|tensorrt)|CUDA failure|CUDNN_STATUS|cuDNN|no available backend/i,
  ],
  ['file-missing', /file doesn't exist|no such file|ENOENT/i],
  ['invalid-model', /protobuf parsing failed|INVALID_PROTOBUF|INVALID_GRAPH|invalid model/i],
]

/** Returns the failure class an ORT error message shows, or undefined when none matches. */
export function classifyOrtError(error: unknown): OrtFailure | undefined {
  const message = error instanceof Error ? error.message : String(error)

  return PATTERNS.find(([, pattern]) => pattern.test(message))?.[0]
}

const CODE_OF_FAILURE = {
  'out-of-memory': 'out-of-memory',
  'execution-provider': 'execution-provider',
  'file-missing': 'model-missing',
  'invalid-model': 'model-contract',
} as const satisfies Record<OrtFailure, RunnerErrorCode>

const ADVICE_OF_FAILURE = {
  'out-of-memory': 'Free memory, lower the resolution or batch, or retry later.',
  'execution-provider':
    'Check the GPU driver and CUDA libraries, or set SEMANI_EXECUTION_PROVIDER=cpu.',
  'file-missing': 'Run `semani models pull` for the profile, or use --profile tiny.',
  'invalid-model': 'The file is not a valid ONNX model; pull it again to replace it.',
} as const satisfies Record<OrtFailure, string>

/**
 * Wraps a recognised ORT failure in a RunnerError, keeping the original as `cause`.
 *
 * @param action What failed, for the message: `Loading model "x"` or `Running model "x"`.
 * @returns The RunnerError, or undefined when the failure is not recognised.
 */
export function toRunnerError(action: string, error: unknown): RunnerError | undefined {
  const failure = classifyOrtError(error)
  if (failure === undefined) return undefined

  const reason = error instanceof Error ? error.message : String(error)
  return new RunnerError(
    CODE_OF_FAILURE[failure],
    `${action} failed: ${reason.trim()}. ${ADVICE_OF_FAILURE[failure]}`,
    { cause: error, retryable: failure === 'out-of-memory' }
  )
}
