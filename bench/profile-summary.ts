// Reads V8 .cpuprofile files (node --cpu-prof) and ranks functions and files by self time, so a
// bench run can say where raftkv spends its CPU. Parsing only; no profiling here.
import { readFileSync } from 'node:fs'

interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; hitCount?: number; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

/** One ranked entry. Times in milliseconds; `share` is of the profile's busy (non-idle) time. */
export interface SelfTime { name: string; selfMs: number; share: number }

/** Ranking of one or more profiles. */
export interface ProfileSummary {
  files: string[]
  totalMs: number
  idleMs: number
  busyMs: number
  topFunctions: SelfTime[]
  topFiles: SelfTime[]
  /** Whether only samples inside the measurement windows were counted. */
  windowed: boolean
}

function shortUrl(url: string, repoRoot: string): string {
  if (url === '') return ''
  let u = url.startsWith('file://') ? url.slice(7) : url
  if (u.startsWith(repoRoot)) u = u.slice(repoRoot.length).replace(/^\//, '')
  const nm = u.lastIndexOf('node_modules/')
  if (nm >= 0) u = u.slice(nm)
  return u
}

/**
 * Sums self time per function (name + file + line) and per file over `files`. Samples are
 * weighted by their time delta, so a slow sampling interval does not skew the result.
 */
export function summarizeProfiles(files: string[], repoRoot: string, top = 15, windowsUs?: [number, number][]): ProfileSummary {
  const byFn = new Map<string, number>()
  const byFile = new Map<string, number>()
  let totalMs = 0
  let idleMs = 0
  for (const f of files) {
    const p = JSON.parse(readFileSync(f, 'utf8')) as CpuProfile
    const nodes = new Map<number, ProfileNode>()
    for (const n of p.nodes) nodes.set(n.id, n)
    const selfUs = new Map<number, number>()
    let t = p.startTime
    for (let i = 0; i < p.samples.length; i++) {
      t += p.timeDeltas[i]
      // V8 stamps samples with CLOCK_MONOTONIC microseconds, the clock of process.hrtime, so
      // the bench's measurement windows select the samples taken under load.
      if (windowsUs !== undefined && !windowsUs.some(([a, b]) => t >= a && t <= b)) continue
      // timeDeltas[i] is the gap before sample i; charge the gap after it to sample i.
      const dt = i + 1 < p.timeDeltas.length ? p.timeDeltas[i + 1] : 0
      selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + Math.max(0, dt))
    }
    for (const [id, us] of selfUs) {
      const n = nodes.get(id)
      if (n === undefined) continue
      const ms = us / 1000
      totalMs += ms
      const cf = n.callFrame
      const name = cf.functionName || '(anonymous)'
      if (name === '(idle)') { idleMs += ms; continue }
      const file = shortUrl(cf.url, repoRoot)
      const where = cf.lineNumber === 0 ? `${file}:1:${cf.columnNumber + 1}` : `${file}:${cf.lineNumber + 1}`
      const fnKey = file === '' ? name : `${name}  ${where}`
      byFn.set(fnKey, (byFn.get(fnKey) ?? 0) + ms)
      const fileKey = file === '' ? name : file.startsWith('node:') ? file : file
      byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + ms)
    }
  }
  const busyMs = totalMs - idleMs
  const rank = (m: Map<string, number>): SelfTime[] => [...m.entries()]
    .sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([name, selfMs]) => ({ name, selfMs, share: busyMs > 0 ? selfMs / busyMs : 0 }))
  return { files, totalMs, idleMs, busyMs, topFunctions: rank(byFn), topFiles: rank(byFile), windowed: windowsUs !== undefined }
}

/** Terminal rendering of a summary. */
export function formatProfileSummary(title: string, s: ProfileSummary): string {
  const lines = [`${title}: ${s.files.length} profile(s), busy ${(s.busyMs / 1000).toFixed(1)} s of ${(s.totalMs / 1000).toFixed(1)} s sampled${s.windowed ? ' inside the measured windows' : ''}`]
  for (const f of s.files) lines.push(`  ${f}`)
  lines.push('  top self time, functions:')
  for (const t of s.topFunctions) lines.push(`    ${(t.share * 100).toFixed(1).padStart(5)}%  ${(t.selfMs).toFixed(0).padStart(6)} ms  ${t.name}`)
  lines.push('  top self time, files:')
  for (const t of s.topFiles.slice(0, 10)) lines.push(`    ${(t.share * 100).toFixed(1).padStart(5)}%  ${(t.selfMs).toFixed(0).padStart(6)} ms  ${t.name}`)
  return lines.join('\n')
}
