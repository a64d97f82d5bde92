/**
 * Adapts an inpainting UNet session to the function the denoising loop calls, feeding the
 * timestep in the shape and element type that this export declares.
 */
import { makeTensor, readOutput, type ModelSession } from '../../onnx/sessions.ts'
import type { InpaintUnet } from './denoise.ts'

/**
 * Wraps `session` as an InpaintUnet.
 *
 * Exports disagree on the timestep's shape: a scalar, `[1]`, or one value per batch item.
 * The declared dims decide, so the same code serves the diffusers export and fp16 exports.
 */
export function createUnetFunction(session: ModelSession): InpaintUnet {
  const timestepDims = session.inputs.timestep?.dims ?? [1]

  return async (sample, dims, timestep, encoderHiddenStates) => {
    const batch = dims[0]
    const timestepShape = shapeTimestep(timestepDims, batch)
    const timestepValues = new Array<number>(timestepShape.reduce((a, b) => a * b, 1)).fill(
      timestep
    )

    const outputs = await session.run({
      sample: makeTensor(session, 'sample', sample, dims),
      timestep: makeTensor(session, 'timestep', timestepValues, timestepShape),
      encoder_hidden_states: makeTensor(
        session,
        'encoder_hidden_states',
        encoderHiddenStates.data,
        encoderHiddenStates.dims
      ),
    })
    return readOutput(outputs, 'out_sample')
  }
}

function shapeTimestep(declared: readonly (number | string)[], batch: number): number[] {
  if (declared.length === 0) return []
  const first = declared[0]
  return [typeof first === 'number' ? first : batch]
}
