/**
 * The status line: what the edit is doing, in a live region that changes only with the phase,
 * and a clock beside it that counts the elapsed time while the edit runs.
 */
import type { EditStatus } from '../../../shared/schemas/api.ts'

/** How often the clock is redrawn while an edit runs. */
const TICK_MS = 100

const STATUS_WORDS: Readonly<Record<EditStatus, string>> = {
  queued: 'Queued',
  running: 'Running',
  succeeded: 'Succeeded',
  failed: 'Failed',
  canceled: 'Canceled',
}

/** The status line's elements, as the page's markup defines them. */
export interface ProgressElements {
  /** Live region with the phase; screen readers announce each change. */
  readonly phase: HTMLElement
  /** Elapsed time, outside the live region so its ticks are not announced. */
  readonly clock: HTMLElement
  readonly bar: HTMLProgressElement
}

/** Shows the phase of the running edit with a live elapsed time. */
export class EditProgress {
  private startedMs = 0
  private timer: ReturnType<typeof setInterval> | undefined

  constructor(private readonly elements: ProgressElements) {}

  /** Starts the clock with a first phase, such as the upload. */
  start(phase: string): void {
    this.stopTimer()
    this.startedMs = performance.now()
    this.elements.phase.textContent = phase
    this.elements.bar.hidden = false
    this.tick()
    this.timer = setInterval(() => this.tick(), TICK_MS)
  }

  /** Shows the edit's status as the API last returned it. */
  showStatus(status: EditStatus): void {
    const words = STATUS_WORDS[status]
    if (this.elements.phase.textContent !== words) this.elements.phase.textContent = words
  }

  /** Stops the clock and shows the outcome with the total time, e.g. "Succeeded in 21.4 s". */
  finish(outcome: string): void {
    this.stopTimer()
    this.elements.bar.hidden = true
    this.elements.clock.textContent = ''
    this.elements.phase.textContent = `${outcome} in ${this.formatElapsed()}`
  }

  private tick(): void {
    this.elements.clock.textContent = this.formatElapsed()
  }

  private formatElapsed(): string {
    return `${((performance.now() - this.startedMs) / 1000).toFixed(1)} s`
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }
}
