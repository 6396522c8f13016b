// Yielding to answers already under way. A settled request's answer is a chain of promise jobs
// (driver, backend, handler), and Node's HTTP response hands its bytes to the socket in a nextTick
// queued by the last of them. Code that is about to block the thread on something the answers do
// not depend on (an fdatasync) awaits this first, so the answers go first.

/**
 * Resolves after every promise job queued so far, every job those queue in turn, and the nextTick
 * callbacks they queued have run. Node runs all queued nextTick callbacks once the promise job
 * queue is empty, then the jobs those callbacks queued: the tick queued here from inside a job is
 * first in line, the answers' socket writes follow it, and this promise's continuation comes after
 * them.
 */
export async function afterPromiseJobs(): Promise<void> {
  // Continue inside a promise job: a tick queued from a plain callback would run before the jobs.
  await undefined
  await new Promise<void>((resolve) => process.nextTick(resolve))
}
