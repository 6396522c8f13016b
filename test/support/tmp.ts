// Temporary directories for tests: each under the OS temp dir with a recognisable prefix, removed
// by removeDir() or, for those made with scratchDir(), when the process exits.
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/** A fresh empty directory `raftkv-<label>-XXXXXX` under the OS temp dir; the caller removes it. */
export function tempDir(label: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `raftkv-${label}-`))
}

/** Removes a directory tree; a missing one is fine. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}

const scratch = new Set<string>()
process.on('exit', () => {
  if (process.env.KEEP_TEST_DIRS) return
  for (const d of scratch) removeDir(d)
})

/** A temp dir removed when the process exits (kept when KEEP_TEST_DIRS is set, for post-mortems). */
export function scratchDir(label: string): string {
  const d = tempDir(label)
  scratch.add(d)
  return d
}
