/**
 * Text conditioning for Stable Diffusion: the negative prompt and the prompt encoded in one batch
 * of two, in the order classifier-free guidance expects (unconditional first).
 */
import { log } from '../../log.ts'
import { makeTensor, readOutput, type ModelSession } from '../../onnx/sessions.ts'
import type { ClipTokenizer, PadStrategy } from '../../text/clip-tokenizer.ts'
import { CLIP_MAX_TOKENS } from '../contracts.ts'

/** Hidden states of `[negative, prompt]`: float32 `[2, 77, hiddenSize]`. */
export interface PromptEmbeddings {
  readonly hiddenStates: Float32Array
  readonly hiddenSize: number
  /** Tokens cut from the prompt and the negative prompt to fit 77 tokens. */
  readonly droppedTokens: number
}

/**
 * Encodes the negative prompt and the prompt with the SD text encoder in one call of batch 2.
 *
 * @param pad Padding after the end token as the model's tokenizer config sets it: `eos` for
 *   SD 1.x (`pad_token` is `<|endoftext|>`), `zeros` for SD 2.x (`pad_token` is `!`, id 0).
 */
export async function encodePromptPair(options: {
  textEncoder: ModelSession
  tokenizer: ClipTokenizer
  prompt: string
  negativePrompt: string
  pad: PadStrategy
}): Promise<PromptEmbeddings> {
  const { textEncoder, tokenizer, prompt, negativePrompt, pad } = options

  const negative = tokenizer.encodeForModel(negativePrompt, { pad })
  const positive = tokenizer.encodeForModel(prompt, { pad })
  const droppedTokens = negative.droppedTokens + positive.droppedTokens
  if (droppedTokens > 0) {
    log.warn('prompt.truncated', { keptTokens: CLIP_MAX_TOKENS, droppedTokens })
  }

  const ids = new Int32Array(2 * CLIP_MAX_TOKENS)
  ids.set(negative.inputIds, 0)
  ids.set(positive.inputIds, CLIP_MAX_TOKENS)
  const outputs = await textEncoder.run({
    input_ids: makeTensor(textEncoder, 'input_ids', ids, [2, CLIP_MAX_TOKENS]),
  })

  const hiddenStates = readOutput(outputs, 'last_hidden_state')
  return { hiddenStates, hiddenSize: hiddenStates.length / (2 * CLIP_MAX_TOKENS), droppedTokens }
}
