/**
 * The photo field: a file input inside a drop zone, and a preview that gives the photo's
 * upright size (the browser applies EXIF orientation, as the API does).
 */
import { loadImage } from './dom.ts'

/** The photo chosen for the next edit. */
export interface PickedPhoto {
  readonly file: File
  /** Object URL of the file, valid until another photo replaces it. */
  readonly url: string
  readonly width: number
  readonly height: number
}

/** The photo field's elements, as the page's markup defines them. */
export interface PhotoPickerElements {
  readonly input: HTMLInputElement
  readonly dropZone: HTMLElement
  readonly preview: HTMLImageElement
  readonly caption: HTMLElement
}

/** Access to the chosen photo. */
export interface PhotoPicker {
  /** The photo once its preview has loaded; undefined before or when it failed to load. */
  current(): PickedPhoto | undefined
}

/** Wires the file input and the drop zone, and keeps the preview in step with the choice. */
export function setUpPhotoPicker(elements: PhotoPickerElements): PhotoPicker {
  const { input, dropZone } = elements
  let picked: PickedPhoto | undefined
  // Counts choices, so a preview that finishes after a newer choice is dropped.
  let choices = 0

  const showFile = async (file: File | undefined) => {
    const choice = ++choices
    if (picked) URL.revokeObjectURL(picked.url)
    picked = undefined
    if (!file) return showNoPhoto(elements)

    const photo = await previewPhoto(elements, file)
    if (choice === choices) picked = photo
    else if (photo) URL.revokeObjectURL(photo.url)
  }

  input.addEventListener('change', () => void showFile(input.files?.[0]))
  dropZone.addEventListener('dragover', (event) => {
    event.preventDefault()
    dropZone.classList.add('is-dragging')
  })
  dropZone.addEventListener('dragleave', () => dropZone.classList.remove('is-dragging'))
  dropZone.addEventListener('drop', (event) => {
    event.preventDefault()
    dropZone.classList.remove('is-dragging')
    const file = event.dataTransfer?.files[0]
    if (!file) return
    // The form sends what the input holds, so a dropped file goes into the input too.
    const transfer = new DataTransfer()
    transfer.items.add(file)
    input.files = transfer.files
    void showFile(file)
  })

  return { current: () => picked }
}

async function previewPhoto(
  elements: PhotoPickerElements,
  file: File
): Promise<PickedPhoto | undefined> {
  const { input, preview, caption } = elements
  const accepted = input.accept.split(',').map((type) => type.trim())
  if (!accepted.includes(file.type)) {
    input.value = ''
    showNoPhoto(elements)
    caption.textContent = `${file.name} is ${file.type || 'of an unknown type'}. Choose a PNG, JPEG or WebP photo.`
    return undefined
  }

  const url = URL.createObjectURL(file)
  try {
    await loadImage(preview, url)
  } catch {
    URL.revokeObjectURL(url)
    input.value = ''
    showNoPhoto(elements)
    caption.textContent = `${file.name} could not be read as an image. Choose another photo.`
    return undefined
  }

  const photo = { file, url, width: preview.naturalWidth, height: preview.naturalHeight }
  preview.hidden = false
  preview.alt = `Preview of ${file.name}`
  caption.textContent = `${file.name}: ${photo.width} × ${photo.height} px, ${formatBytes(file.size)}`
  return photo
}

function showNoPhoto({ preview, caption }: PhotoPickerElements): void {
  preview.hidden = true
  preview.removeAttribute('src')
  caption.textContent = 'No photo chosen yet.'
}

function formatBytes(sizeBytes: number): string {
  if (sizeBytes < 1024) return `${sizeBytes} B`
  if (sizeBytes < 1024 * 1024) return `${(sizeBytes / 1024).toFixed(1)} KB`
  return `${(sizeBytes / (1024 * 1024)).toFixed(1)} MB`
}
