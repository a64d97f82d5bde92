/**
 * Execution provider choice and ONNX Runtime log severity, kept free of onnxruntime-node so the
 * decisions can be tested without loading native code.
 *
 * `auto` uses CUDA where onnxruntime-node lists it and its provider library is installed
 * (the npm package skips that download unless installed with ONNXRUNTIME_NODE_INSTALL=cuda12),
 * and the CPU otherwise, with one warning that names both.
 */
import { RunnerError } from '../errors.ts'
import type { LogLevel } from '../../shared/logger.ts'

export const EXECUTION_PROVIDER_CHOICES = ['auto', 'cuda', 'cpu'] as const

/** Execution provider requested by the operator: one provider, or `auto` for CUDA when installed. */
export type ExecutionProviderChoice = (typeof EXECUTION_PROVIDER_CHOICES)[number]

/** An execution provider a session can run on, in onnxruntime-node's spelling. */
export type ExecutionProviderName = 'cuda' | 'cpu'

/** One entry of onnxruntime-node's `listSupportedBackends()`. */
export interface BackendInfo {
  readonly name: string
  /** True when the provider ships inside the npm package; CUDA is a separate download. */
  readonly bundled: boolean
}

/** Whether the CUDA execution provider can be used, and why not when it cannot. */
export interface CudaAvailability {
  readonly available: boolean
  readonly reason: string
}

/** Providers to register for a session, and why CUDA was left out under `auto`. */
export interface ProviderPlan {
  readonly providers: readonly ExecutionProviderName[]
  readonly fallbackReason?: string
}

/**
 * Parses SEMANI_EXECUTION_PROVIDER; unset or empty means `auto`.
 *
 * @throws RangeError listing the supported values.
 */
export function parseExecutionProviderChoice(value: string | undefined): ExecutionProviderChoice {
  if (value === undefined || value.trim() === '') return 'auto'

  const normalised = value.trim().toLowerCase()
  if ((EXECUTION_PROVIDER_CHOICES as readonly string[]).includes(normalised)) {
    return normalised as ExecutionProviderChoice
  }
  throw new RangeError(
    `Unknown execution provider "${value}". Supported: ${EXECUTION_PROVIDER_CHOICES.join(', ')}.`
  )
}

/**
 * Decides whether CUDA is usable from the backend list and the presence of its provider library.
 *
 * @param hasProviderLibrary Whether `libonnxruntime_providers_cuda` sits next to the binding.
 */
export function describeCudaAvailability(
  backends: readonly BackendInfo[],
  hasProviderLibrary: boolean
): CudaAvailability {
  const cuda = backends.find((backend) => backend.name === 'cuda')
  if (cuda === undefined) {
    return { available: false, reason: 'this onnxruntime-node build does not support CUDA' }
  }
  if (!cuda.bundled && !hasProviderLibrary) {
    return {
      available: false,
      reason:
        'the CUDA provider library is not installed (reinstall onnxruntime-node with ' +
        'ONNXRUNTIME_NODE_INSTALL=cuda12)',
    }
  }
  return { available: true, reason: 'the CUDA provider library is installed' }
}

/**
 * Returns the providers to register for `choice`.
 *
 * @throws RunnerError `execution-provider` when `cuda` is asked for and cannot be used.
 */
export function planProviders(
  choice: ExecutionProviderChoice,
  cuda: CudaAvailability
): ProviderPlan {
  switch (choice) {
    case 'cpu':
      return { providers: ['cpu'] }
    case 'cuda':
      if (!cuda.available) {
        throw new RunnerError(
          'execution-provider',
          `The CUDA execution provider was requested but ${cuda.reason}. ` +
            'Set SEMANI_EXECUTION_PROVIDER=auto to fall back to the CPU.'
        )
      }
      return { providers: ['cuda', 'cpu'] }
    case 'auto':
      return cuda.available
        ? { providers: ['cuda', 'cpu'] }
        : { providers: ['cpu'], fallbackReason: cuda.reason }
    default: {
      const unreachable: never = choice
      throw new RangeError(`Unknown execution provider choice ${String(unreachable)}`)
    }
  }
}

/** ONNX Runtime severities: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal. */
export type OrtLogSeverity = 0 | 1 | 2 | 3 | 4

const ORT_SEVERITY_OF_LEVEL = {
  // ORT's verbose level prints every kernel placement; its info level is detailed enough.
  debug: 1,
  info: 2,
  warn: 2,
  error: 3,
} as const satisfies Record<LogLevel, OrtLogSeverity>

/** Derives ONNX Runtime's log severity from ours; our default `info` gives ORT warnings. */
export function ortLogSeverity(level: LogLevel): OrtLogSeverity {
  return ORT_SEVERITY_OF_LEVEL[level]
}

/** ORT's name for a severity, as `ort.env.logLevel` takes it. */
export function ortLogLevelName(
  severity: OrtLogSeverity
): 'verbose' | 'info' | 'warning' | 'error' | 'fatal' {
  return (['verbose', 'info', 'warning', 'error', 'fatal'] as const)[severity]
}
