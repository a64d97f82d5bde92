/** Reads an image file for a command and checks its header before any model loads. */
import { readFile } from 'node:fs/promises'

import { inspectImage } from '../shared/image-sniff.ts'

/**
 * Reads `path` and checks the format and size from the header.
 *
 * @throws Error with a one-line message when the file is missing, unreadable or not a
 *   supported image within the limits.
 */
export async function readImageFile(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    let reason = code ?? 'unknown error'
    if (code === 'ENOENT') reason = 'no such file'
    if (code === 'EISDIR') reason = 'it is a folder'
    throw new Error(`Cannot read image "${path}": ${reason}.`, { cause: error })
  }

  const inspection = inspectImage(bytes)
  if (!inspection.ok) throw new Error(`"${path}": ${inspection.rejection.detail}`)
  return bytes
}
