// What the v2 and v3 watches share: the async-iterator protocol over one generator, one abort
// controller for the whole watch linked to the caller's signal, and the rule that close() or
// ending a `for await` loop ends the iteration quietly while an aborted signal rejects with
// AbortError. Subclasses supply the rounds (long polls, streams) in `run`.

import { AbortError } from './errors.js'
import { ensureAbortController, linkSignal, newAbortController } from './runtime.js'

export abstract class WatchIterator<E> implements AsyncIterableIterator<E> {
  private controller: { signal: AbortSignal; abort(): void } | undefined
  private closed_ = false
  private userAborted_ = false
  private unlinkUser: () => void = () => {}
  // A generator's body runs only at the first next(), after the subclass is constructed.
  private readonly gen: AsyncGenerator<E, void, undefined> = this.drive()

  constructor(private readonly userSignal: AbortSignal | undefined) {}

  /** The watch's rounds; `signal` aborts on close() and on the caller's signal. */
  protected abstract run(signal: AbortSignal): AsyncGenerator<E, void, undefined>

  /** Called once when the watch ends. */
  protected abstract onClose(): void

  protected get closed(): boolean {
    return this.closed_
  }

  protected get userAborted(): boolean {
    return this.userAborted_
  }

  /** Before a round: throws AbortError if the caller aborted; true if the watch was closed. */
  protected ended(): boolean {
    if (this.userAborted_) throw new AbortError('watch aborted')
    return this.closed_
  }

  /** After a failed round: throws AbortError if the caller aborted; true if the watch was closed. */
  protected endedBy(err: unknown): boolean {
    if (this.userAborted_) throw err instanceof AbortError ? err : new AbortError('watch aborted', err)
    return this.closed_
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  next(): Promise<IteratorResult<E, void>> {
    return this.gen.next()
  }

  /** Ends the watch; called by `for await` on break. */
  async return(): Promise<IteratorResult<E, void>> {
    this.close()
    return this.gen.return(undefined)
  }

  async throw(err?: unknown): Promise<IteratorResult<E, void>> {
    this.close()
    return this.gen.throw(err)
  }

  /** Cancels the in-flight request or stream and ends the iteration. Idempotent. */
  close(): void {
    if (this.closed_) return
    this.closed_ = true
    this.controller?.abort()
    this.unlinkUser()
    this.onClose()
  }

  private async *drive(): AsyncGenerator<E, void, undefined> {
    await ensureAbortController()
    const ctl = newAbortController()
    this.controller = ctl
    this.unlinkUser = linkSignal(this.userSignal, () => { this.userAborted_ = true; ctl.abort() })
    if (this.closed_) ctl.abort()
    try {
      yield* this.run(ctl.signal)
    } finally {
      this.close()
    }
  }
}
